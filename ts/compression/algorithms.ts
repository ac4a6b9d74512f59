/**
 * The compression algorithms a session may negotiate (docs/PROTOCOL.md, section 12), behind one
 * interface: compress a message at a level, and decompress one into at most `size` bytes, the
 * size its frame states, refusing before more memory than that is spent. LZ4 is ours (native),
 * gzip, deflate and brotli are node:zlib's, Zstandard is the zstd-napi package's when it loaded
 * (./zstd.ts); see ./README.md for why that package.
 */
import zlib from 'node:zlib';
import { lz4Compress, lz4Decompress } from '../codec/lz4.js';
import { corrupt, tooLarge } from './codec-errors.js';
import { zstdCodec } from './zstd.js';

export type AlgorithmName = 'lz4' | 'zstd' | 'gzip' | 'deflate' | 'brotli';

/** Every name, in the order a side offers them when its application names none. */
export const ALGORITHM_NAMES: readonly AlgorithmName[] = ['lz4', 'zstd', 'deflate', 'gzip', 'brotli'];

export interface LevelRange {
  readonly min: number;
  readonly max: number;
  readonly default: number;
}

export interface Codec {
  readonly name: AlgorithmName;
  /** The levels the algorithm takes; LZ4's single level is 1. */
  readonly levels: LevelRange;
  compress(plain: Buffer, level: number): Buffer;
  /**
   * The message `data` decompresses to, which is at most `size` bytes: an input that would
   * decompress to more is refused (`HW_ERR_DECOMPRESSED_TOO_LARGE`, or LZ4's own
   * `HW_ERR_LZ4_OUTPUT_TOO_LARGE`) with no more than `size` bytes of output made. May return
   * fewer bytes; the caller checks the length.
   */
  decompress(data: Uint8Array, size: number): Buffer;
}

/**
 * node:zlib's one-shot inflaters stop with ERR_BUFFER_TOO_LARGE once their output passes
 * maxOutputLength, having held at most that plus one chunk: the bound of every zlib algorithm.
 */
function zlibDecompress(name: string, inflate: (data: Uint8Array, options: zlib.ZlibOptions) => Buffer, data: Uint8Array, size: number): Buffer {
  try {
    // maxOutputLength must be at least 1; a frame stating 0 bytes gets a 1-byte bound and a length check.
    return inflate(data, { maxOutputLength: Math.max(size, 1) });
  } catch (error) {
    if ((error as { code?: unknown }).code === 'ERR_BUFFER_TOO_LARGE') throw tooLarge(name, size, error);
    throw corrupt(name, error);
  }
}

const lz4: Codec = {
  name: 'lz4',
  levels: { min: 1, max: 1, default: 1 },
  compress: (plain) => lz4Compress(plain),
  decompress: (data, size) => lz4Decompress(data, size),
};

const deflate: Codec = {
  name: 'deflate',
  levels: { min: 1, max: 9, default: 6 },
  compress: (plain, level) => zlib.deflateSync(plain, { level }),
  decompress: (data, size) => zlibDecompress('deflate', zlib.inflateSync, data, size),
};

const gzip: Codec = {
  name: 'gzip',
  levels: { min: 1, max: 9, default: 6 },
  compress: (plain, level) => zlib.gzipSync(plain, { level }),
  decompress: (data, size) => zlibDecompress('gzip', zlib.gunzipSync, data, size),
};

const brotli: Codec = {
  name: 'brotli',
  // Quality 11, zlib's default, runs at a few MB/s (bench/RESULTS.md): far too slow for messages.
  levels: { min: 0, max: 11, default: 4 },
  compress: (plain, level) =>
    zlib.brotliCompressSync(plain, {
      params: { [zlib.constants.BROTLI_PARAM_QUALITY]: level, [zlib.constants.BROTLI_PARAM_SIZE_HINT]: plain.length },
    }),
  decompress: (data, size) => zlibDecompress('brotli', zlib.brotliDecompressSync, data, size),
};

const CODECS = new Map<AlgorithmName, Codec>([lz4, deflate, gzip, brotli].map((codec) => [codec.name, codec]));
if (zstdCodec !== undefined) CODECS.set('zstd', zstdCodec);

/** The codec of an algorithm, or undefined when this process cannot run it (zstd without its package). */
export function codecOf(name: string): Codec | undefined {
  return CODECS.get(name as AlgorithmName);
}

/** The algorithms this process can run, in the default order of preference. */
export function availableAlgorithms(): AlgorithmName[] {
  return ALGORITHM_NAMES.filter((name) => CODECS.has(name));
}
