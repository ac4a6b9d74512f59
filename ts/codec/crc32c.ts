import { native } from '../native/addon.js';

/**
 * CRC32C (Castagnoli) of `data`, using the CPU's CRC instruction where there is one.
 * Pass a previous result as `seed` to continue over more bytes:
 * `crc32c(b, crc32c(a)) === crc32c(concat(a, b))`.
 */
export function crc32c(data: Uint8Array, seed = 0): number {
  return native.crc32c(data, seed);
}
