import { native } from '../native/addon.js';

/**
 * Inputs up to this many bytes are checksummed in JS, where slicing-by-8 beats the fixed cost of a
 * call into the addon. In the cut-over sweep of bench/micro/crc32c.bench.mjs
 * JS still wins at 72 bytes, the two are level at 80 and the addon wins from 96 (bench/RESULTS.md);
 * 64 keeps a margin, because the benchmark keeps the 8 KiB of tables in cache and real traffic may not.
 */
export const JS_MAX_LENGTH = 64;

const POLYNOMIAL = 0x82f63b78; // reflected Castagnoli polynomial

/** Slicing-by-8 tables: entry `k * 256 + b` is the register after byte `b` then `k` zero bytes. */
const TABLE = makeTable();

function makeTable(): Int32Array {
  const table = new Int32Array(8 * 256);
  for (let byte = 0; byte < 256; byte++) {
    let crc = byte;
    for (let bit = 0; bit < 8; bit++) crc = crc & 1 ? (crc >>> 1) ^ POLYNOMIAL : crc >>> 1;
    table[byte] = crc;
  }
  for (let byte = 0; byte < 256; byte++) {
    for (let slice = 1; slice < 8; slice++) {
      const previous = table[(slice - 1) * 256 + byte]!;
      table[slice * 256 + byte] = (previous >>> 8) ^ table[previous & 0xff]!;
    }
  }
  return table;
}

/**
 * CRC32C (Castagnoli) of `data`, using the CPU's CRC instruction where there is one.
 * Pass a previous result as `seed` to continue over more bytes:
 * `crc32c(b, crc32c(a)) === crc32c(concat(a, b))`.
 */
export function crc32c(data: Uint8Array, seed = 0): number {
  // Anything that is not a Uint8Array and a number goes to the addon, which throws the typed error.
  if (data instanceof Uint8Array && data.length <= JS_MAX_LENGTH && typeof seed === 'number') {
    return crc32cJs(data, seed);
  }
  // An absent seed skips the addon's argument conversion, a noticeable share of a 64-byte call
  // (bench/RESULTS.md, "Costs the code relies on").
  return seed === 0 ? native.crc32c(data) : native.crc32c(data, seed);
}

/** The JS path of {@link crc32c} for any length; exported for tests and the cut-over benchmark. */
export function crc32cJs(data: Uint8Array, seed: number): number {
  let crc = ~seed; // ToInt32, so any seed wraps modulo 2^32 as it does in the addon
  const length = data.length;
  let i = 0;
  for (const last = length - 8; i <= last; i += 8) {
    const low = crc ^ (data[i]! | (data[i + 1]! << 8) | (data[i + 2]! << 16) | (data[i + 3]! << 24));
    crc =
      TABLE[1792 + (low & 0xff)]! ^
      TABLE[1536 + ((low >>> 8) & 0xff)]! ^
      TABLE[1280 + ((low >>> 16) & 0xff)]! ^
      TABLE[1024 + (low >>> 24)]! ^
      TABLE[768 + data[i + 4]!]! ^
      TABLE[512 + data[i + 5]!]! ^
      TABLE[256 + data[i + 6]!]! ^
      TABLE[data[i + 7]!]!;
  }
  for (; i < length; i++) crc = (crc >>> 8) ^ TABLE[(crc ^ data[i]!) & 0xff]!;
  return ~crc >>> 0;
}
