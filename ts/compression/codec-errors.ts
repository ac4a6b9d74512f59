/** The errors every codec throws for data that does not decompress within its bound. */
import { HybridwireError } from '../errors.js';

/** Data that would decompress to more than the `size` its frame states. */
export function tooLarge(name: string, size: number, cause?: unknown): HybridwireError {
  return new HybridwireError('HW_ERR_DECOMPRESSED_TOO_LARGE', `${name} data decompresses to more than the ${size} bytes its frame states`, { cause });
}

/** Data that is not valid for its algorithm. */
export function corrupt(name: string, cause: unknown): HybridwireError {
  return new HybridwireError('HW_ERR_BAD_MESSAGE', `${name} data does not decompress: ${(cause as Error).message}`, { cause });
}
