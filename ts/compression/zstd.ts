/**
 * Zstandard (RFC 8878) through the zstd-napi package's low-level binding: one compression and one
 * decompression context for the process, reused by every message. The package is an optional
 * dependency (it compiles libzstd from the source it ships); where it did not build, zstd is
 * simply not offered (`zstdCodec` is undefined).
 *
 * The binding decompresses into a buffer we allocate, of exactly the size the frame states:
 * libzstd stops with an error rather than write past it, so a bomb costs no more than that.
 */
import { createRequire } from 'node:module';
import { corrupt, tooLarge } from './codec-errors.js';
import type { Codec } from './algorithms.js';

interface CompressionContext {
  compress(destination: Uint8Array, source: Uint8Array, level: number): number;
}
interface DecompressionContext {
  decompress(destination: Uint8Array, source: Uint8Array): number;
}
interface ZstdBinding {
  CCtx: new () => CompressionContext;
  DCtx: new () => DecompressionContext;
  compressBound(size: number): number;
  getFrameContentSize(frame: Uint8Array): number | null;
}

function load(): ZstdBinding | undefined {
  try {
    return createRequire(import.meta.url)('zstd-napi/binding') as ZstdBinding;
  } catch {
    return undefined;
  }
}

function makeCodec(binding: ZstdBinding): Codec {
  let compressor: CompressionContext | undefined;
  let decompressor: DecompressionContext | undefined;
  return {
    name: 'zstd',
    // Negative levels (libzstd's fast modes) are left out: -1..-7 trade much ratio for little speed here.
    levels: { min: 1, max: 22, default: 3 },
    compress(plain, level) {
      compressor ??= new binding.CCtx();
      const out = Buffer.allocUnsafe(binding.compressBound(plain.length));
      return out.subarray(0, compressor.compress(out, plain, level));
    },
    decompress(data, size) {
      let stated: number | null;
      try {
        stated = binding.getFrameContentSize(data);
      } catch (error) {
        throw corrupt('zstd', error);
      }
      // A frame that states more than the message does is refused before anything is allocated.
      if (stated !== null && stated > size) throw tooLarge('zstd', size);
      decompressor ??= new binding.DCtx();
      const out = Buffer.allocUnsafe(size);
      try {
        return out.subarray(0, decompressor.decompress(out, data));
      } catch (error) {
        if (/too small/i.test((error as Error).message)) throw tooLarge('zstd', size, error);
        throw corrupt('zstd', error);
      }
    },
  };
}

const binding = load();
export const zstdCodec: Codec | undefined = binding === undefined ? undefined : makeCodec(binding);
