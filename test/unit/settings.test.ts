import { describe, expect, it } from 'vitest';
import { chooseAlgorithm, resolveCompression } from '../../ts/compression/settings.js';

describe('resolveCompression', () => {
  it('without the option: every algorithm accepted, nothing sent compressed', () => {
    const settings = resolveCompression(undefined, undefined);
    expect(settings).toMatchObject({ algorithms: ['lz4', 'zstd', 'deflate', 'gzip', 'brotli'], explicit: false, threshold: 0 });
    expect(settings.levels).toEqual({ lz4: 1, zstd: 3, deflate: 6, gzip: 6, brotli: 4 });
  });

  it('with it: the algorithms named, in order, a threshold of 1024 by default, and levels', () => {
    expect(resolveCompression({ algorithm: 'gzip' }, undefined)).toMatchObject({ algorithms: ['gzip'], explicit: true, threshold: 1024 });
    expect(resolveCompression({ algorithm: ['zstd', 'lz4', 'zstd'], threshold: 64 }, undefined)).toMatchObject({ algorithms: ['zstd', 'lz4'], threshold: 64 });
    // One number is brought into each algorithm's range; an object sets each one.
    expect(resolveCompression({ level: 9 }, undefined).levels).toEqual({ lz4: 1, zstd: 9, deflate: 9, gzip: 9, brotli: 9 });
    expect(resolveCompression({ level: 15 }, undefined).levels).toMatchObject({ zstd: 15, gzip: 9, brotli: 11 });
    expect(resolveCompression({ level: { zstd: 19, brotli: 2 } }, undefined).levels).toMatchObject({ zstd: 19, brotli: 2, gzip: 6 });
    expect(resolveCompression(false, undefined)).toMatchObject({ algorithms: [], threshold: 0 });
  });

  it('takes compressThreshold as the alias of compression.threshold', () => {
    expect(resolveCompression(undefined, 256).threshold).toBe(256);
    expect(resolveCompression({ algorithm: 'lz4' }, 300).threshold).toBe(300);
    expect(resolveCompression({ threshold: 300 }, 300).threshold).toBe(300);
    expect(() => resolveCompression({ threshold: 100 }, 300)).toThrow(expect.objectContaining({ code: 'HW_ERR_INVALID_OPTION', option: 'compressThreshold' }));
  });

  it('refuses bad values naming the option and its range', () => {
    const bad: Array<[unknown, string, RegExp]> = [
      [{ algorithm: 'lzma' }, 'compression.algorithm', /'lzma' is not one of lz4, zstd, deflate, gzip, brotli/],
      [{ algorithm: [] }, 'compression.algorithm', /non-empty list/],
      [{ level: 23 }, 'compression.level', /from 0 to 22/],
      [{ level: { gzip: 10 } }, 'compression.level.gzip', /from 1 to 9/],
      [{ level: { lzma: 1 } }, 'compression.level', /'lzma'/],
      [{ level: 'fast' }, 'compression.level', /integer or an object/],
      [{ threshold: -1 }, 'compression.threshold', /from 0 to 4294967296/],
      ['zstd', 'compression', /object/],
    ];
    for (const [option, name, message] of bad) {
      expect(() => resolveCompression(option as never, undefined)).toThrow(expect.objectContaining({ code: 'HW_ERR_INVALID_OPTION', option: name, message: expect.stringMatching(message) }));
    }
  });
});

describe('chooseAlgorithm', () => {
  it("takes the client's order against a server with the defaults, the server's own when it named its algorithms", () => {
    expect(chooseAlgorithm(['brotli', 'zstd'], resolveCompression(undefined, undefined))).toBe('brotli');
    expect(chooseAlgorithm(['brotli', 'zstd'], resolveCompression({ algorithm: ['zstd', 'brotli'] }, undefined))).toBe('zstd');
    expect(chooseAlgorithm(['lzma', 'gzip'], resolveCompression(undefined, undefined))).toBe('gzip');
    expect(chooseAlgorithm(['gzip'], resolveCompression({ algorithm: 'lz4' }, undefined))).toBeUndefined();
    expect(chooseAlgorithm(['gzip'], resolveCompression(false, undefined))).toBeUndefined();
  });
});
