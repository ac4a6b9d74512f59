import { describe, expect, it } from 'vitest';
import { compressionStats, newCompressionCounters } from '../../ts/compression/compression-stats.js';

describe('compressionStats', () => {
  it('works out the ratios, the bytes saved and the time from the counters', () => {
    const counters = { ...newCompressionCounters(), plainBytesOut: 1000, compressedBytesOut: 250, plainBytesIn: 600, compressedBytesIn: 200, compressMs: 1.5, decompressMs: 0.5 };
    const stats = compressionStats(counters, ['zstd', 'lz4'], 'zstd');
    expect(stats).toMatchObject({ algorithms: ['zstd', 'lz4'], algorithm: 'zstd', ratioOut: 4, ratioIn: 3, bytesSaved: 750 + 400, timeMs: 2 });
  });

  it('gives ratios of 0 before anything is compressed, and no algorithm when none is named', () => {
    const stats = compressionStats(newCompressionCounters(), []);
    expect(stats).toMatchObject({ ratioOut: 0, ratioIn: 0, bytesSaved: 0, timeMs: 0 });
    expect('algorithm' in stats).toBe(false);
  });
});
