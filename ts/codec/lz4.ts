/**
 * LZ4 block format (no frame header, no checksum), byte-compatible with liblz4's
 * `LZ4_compress_default` / `LZ4_decompress_safe`. The work is done natively in native/core/lz4.cc.
 */
import { constants } from 'node:buffer';
import { HybridwireError } from '../errors.js';
import { native } from '../native/addon.js';
import { checkInteger } from '../validate.js';

/** The largest input an LZ4 block can hold (liblz4's LZ4_MAX_INPUT_SIZE). */
const MAX_INPUT_SIZE = 0x7e000000;

/**
 * Inputs shorter than this cannot be compressed: a match must start at least 12 bytes before the
 * end of a block and after at least one literal (the format's end-of-block rules).
 */
const MIN_COMPRESSIBLE_SIZE = 13;

/** No LZ4 block decompresses to more than this many bytes per byte of block. */
const MAX_EXPANSION = 255;

/**
 * The most a block of `size` input bytes takes (liblz4's LZ4_compressBound). It also bounds any
 * block from below by its output: all of a block's bytes but one per 255 literals and two more
 * yield at least a byte of output each, so a block longer than compressBound(n) decodes to more
 * than n bytes.
 */
function compressBound(size: number): number {
  return size + Math.floor(size / 255) + 16;
}

/**
 * A reused buffer for outputs whose size is not known in advance: compressed blocks of inputs up
 * to 64 KiB, and blocks decompressed under a limit above 64 KiB (a frame size limit, say). The
 * output is then copied out at its exact size: a short copy costs less than allocating the worst
 * case on every call, and the result does not pin a larger allocation. It holds the compressed
 * bound of 64 KiB.
 */
const SCRATCH_SIZE = compressBound(64 * 1024);
let scratch: Buffer | undefined;

function getScratch(): Buffer {
  scratch ??= Buffer.allocUnsafeSlow(SCRATCH_SIZE);
  return scratch;
}

function isPooled(size: number): boolean {
  return size < Buffer.poolSize >>> 1;
}

/** Copies the first `length` bytes of `buffer` into a Buffer of their own. */
function copyOut(buffer: Buffer, length: number): Buffer {
  const out = Buffer.allocUnsafe(length);
  buffer.copy(out, 0, 0, length);
  return out;
}

/** The first `length` bytes of a buffer allocated for the worst case, copied out if that frees most of it. */
function trim(buffer: Buffer, length: number): Buffer {
  if (length === buffer.length) return buffer;
  return length < buffer.length / 2 && !isPooled(buffer.length) ? copyOut(buffer, length) : buffer.subarray(0, length);
}

function checkBytes(name: string, value: unknown): void {
  if (!(value instanceof Uint8Array)) {
    throw Object.assign(new TypeError(`${name} must be a Uint8Array or Buffer`), { code: 'ERR_INVALID_ARG_TYPE' });
  }
}

function errorCode(error: unknown): unknown {
  return (error as { code?: unknown } | null)?.code;
}

/** Turns the binding's coded Errors into HybridwireErrors with the same code. */
function lz4Error(error: unknown, maxOutputSize: number): unknown {
  const code = errorCode(error);
  if (code === 'HW_ERR_LZ4_OUTPUT_TOO_LARGE') {
    return new HybridwireError(
      code,
      `LZ4 block decompresses to more than maxOutputSize (${maxOutputSize} bytes)`,
      { cause: error },
    );
  }
  if (code === 'HW_ERR_LZ4_CORRUPT') return new HybridwireError(code, (error as Error).message, { cause: error });
  return error;
}

/**
 * Compresses `src` into one LZ4 block, as liblz4's `LZ4_compress_default` does. The block does not
 * record the uncompressed size: keep it (or an upper bound) next to the block for
 * {@link lz4Decompress}.
 *
 * Throws a TypeError with code `ERR_INVALID_ARG_TYPE` if `src` is not a Uint8Array, and a
 * RangeError with code `ERR_OUT_OF_RANGE` for inputs above 2,113,929,216 bytes, the most an LZ4
 * block can hold.
 */
export function lz4Compress(src: Uint8Array): Buffer {
  checkBytes('src', src);
  if (src.length > MAX_INPUT_SIZE) {
    throw Object.assign(new RangeError(`lz4Compress input is larger than ${MAX_INPUT_SIZE} bytes`), {
      code: 'ERR_OUT_OF_RANGE',
    });
  }
  if (src.length < MIN_COMPRESSIBLE_SIZE) {
    // Too short to hold a match, so the block is a token and the bytes: building it here costs a
    // fraction of a call into the addon (bench/RESULTS.md, "Costs the code relies on").
    const out = Buffer.allocUnsafe(src.length + 1);
    out[0] = src.length << 4;
    out.set(src, 1);
    return out;
  }
  // Small blocks go straight into a Buffer from Node's pool, sized for the worst case: the
  // unused tail costs nothing worth a copy. Larger ones through the scratch buffer.
  const bound = compressBound(src.length);
  if (isPooled(bound)) {
    const out = Buffer.allocUnsafe(bound);
    return trim(out, native.lz4Compress(src, out));
  }
  if (bound <= SCRATCH_SIZE) {
    const buffer = getScratch();
    return copyOut(buffer, native.lz4Compress(src, buffer));
  }
  const out = Buffer.allocUnsafe(bound);
  return trim(out, native.lz4Compress(src, out));
}

/**
 * Decompresses `src`, which must be exactly one whole LZ4 block, into a new Buffer.
 *
 * `maxOutputSize` bounds the output, and so the memory a hostile block can make us use: pass the
 * exact size when it is known, or the largest size you accept. It must be an integer from 0 to
 * `buffer.constants.MAX_LENGTH`; a bad value throws an OptionError (`HW_ERR_INVALID_OPTION`).
 *
 * Throws a HybridwireError with code `HW_ERR_LZ4_CORRUPT` if `src` is not a valid block, or
 * `HW_ERR_LZ4_OUTPUT_TOO_LARGE` if it decompresses to more than `maxOutputSize` bytes. Nothing is
 * written past `maxOutputSize` bytes of output in either case.
 */
export function lz4Decompress(src: Uint8Array, maxOutputSize: number): Buffer {
  checkBytes('src', src);
  checkInteger('maxOutputSize', maxOutputSize, 0, constants.MAX_LENGTH);
  try {
    // A limit up to 64 KiB is taken to be the size, or close to it: decoding straight into a
    // buffer of that size needs no copy, which is faster than going through the scratch
    // (bench/RESULTS.md, "Costs the code relies on"). So does a block too long to decode to 64 KiB or less: its output could not
    // fit the scratch anyway. The buffer never needs more than 255 bytes per byte of block.
    if (maxOutputSize <= SCRATCH_SIZE || src.length > SCRATCH_SIZE) return decompressAlone(src, maxOutputSize);
    // A block that may decode to 64 KiB or less, under a larger limit: most do, so the scratch is
    // tried first. A larger output is decoded again into its own buffer: at most one scratch-full
    // of work is wasted, on an output larger than that.
    const buffer = getScratch();
    try {
      return copyOut(buffer, native.lz4Decompress(src, buffer));
    } catch (error) {
      if (errorCode(error) !== 'HW_ERR_LZ4_OUTPUT_TOO_LARGE') throw error;
    }
    return decompressAlone(src, maxOutputSize);
  } catch (error) {
    throw lz4Error(error, maxOutputSize);
  }
}

/** Decompresses into a buffer of its own, of maxOutputSize bytes or the most `src` can make. */
function decompressAlone(src: Uint8Array, maxOutputSize: number): Buffer {
  const out = Buffer.allocUnsafe(Math.min(maxOutputSize, MAX_EXPANSION * src.length));
  return trim(out, native.lz4Decompress(src, out));
}
