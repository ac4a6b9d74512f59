import zlib from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { ALGORITHM_NAMES, availableAlgorithms, codecOf } from '../../ts/compression/algorithms.js';

const TEXT = Buffer.from(JSON.stringify(Array.from({ length: 200 }, (_, i) => ({ id: i, name: `sensor-${i % 7}`, value: i * 0.5 }))));

describe('compression algorithms', () => {
  it('runs every algorithm here, zstd included (the optional zstd-napi package is installed)', () => {
    expect(availableAlgorithms()).toEqual(['lz4', 'zstd', 'deflate', 'gzip', 'brotli']);
    expect(ALGORITHM_NAMES).toEqual(availableAlgorithms());
  });

  for (const name of ALGORITHM_NAMES) {
    describe(name, () => {
      const codec = codecOf(name)!;

      it('round-trips a message at its lowest, default and highest level, and shrinks text', () => {
        for (const level of new Set([codec.levels.min, codec.levels.default, codec.levels.max])) {
          const compressed = codec.compress(TEXT, level);
          expect(compressed.length).toBeLessThan(TEXT.length / 3);
          expect(codec.decompress(compressed, TEXT.length).equals(TEXT)).toBe(true);
        }
      });

      it('refuses data that decompresses to more than the size given, with no more output than that', () => {
        const bomb = codec.compress(Buffer.alloc(8 << 20), codec.levels.default);
        const expected = name === 'lz4' ? 'HW_ERR_LZ4_OUTPUT_TOO_LARGE' : 'HW_ERR_DECOMPRESSED_TOO_LARGE';
        expect(() => codec.decompress(bomb, 1000)).toThrow(expect.objectContaining({ code: expected }));
      });

      it('refuses data that is not its format with a coded error', () => {
        const expected = name === 'lz4' ? 'HW_ERR_LZ4_CORRUPT' : 'HW_ERR_BAD_MESSAGE';
        expect(() => codec.decompress(Buffer.from([0xf0, 0xff, 0xff, 0x12, 0x34]), 100)).toThrow(expect.objectContaining({ code: expected }));
      });
    });
  }

  it('deflate is the zlib format (RFC 1950) and gzip the gzip format (RFC 1952), as node:zlib reads them', () => {
    expect(zlib.inflateSync(codecOf('deflate')!.compress(TEXT, 6)).equals(TEXT)).toBe(true);
    expect(zlib.gunzipSync(codecOf('gzip')!.compress(TEXT, 6)).equals(TEXT)).toBe(true);
    expect(zlib.brotliDecompressSync(codecOf('brotli')!.compress(TEXT, 4)).equals(TEXT)).toBe(true);
  });
});
