import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { sessionCompression } from '../../ts/compression/session-compression.js';
import { resolveCompression } from '../../ts/compression/settings.js';
import { codecOf } from '../../ts/compression/algorithms.js';

const PREFIX = Buffer.from([1, 0, 1, 0]);
const BODY = JSON.stringify({ log: 'GET /api/v1/items 200 12ms '.repeat(80) });

describe('sessionCompression', () => {
  it("uses HELLO_ACK's algorithm, else LZ4 for the 1.0 feature lz4, else none", () => {
    const settings = resolveCompression({ threshold: 100 }, undefined);
    expect(sessionCompression(settings, new Set(['lz4']), 'zstd')?.algorithm).toBe('zstd');
    expect(sessionCompression(settings, new Set(['lz4']), undefined)?.algorithm).toBe('lz4');
    expect(sessionCompression(settings, new Set(['json']), undefined)).toBeUndefined();
    expect(sessionCompression(resolveCompression(false, undefined), new Set(['lz4']), undefined)).toBeUndefined();
    // One object serves every session of the same settings and algorithm.
    expect(sessionCompression(settings, new Set(), 'gzip')).toBe(sessionCompression(settings, new Set(), 'gzip'));
  });

  it('compresses a message into its size and data, and counts what it saved', () => {
    const settings = resolveCompression({ threshold: 100 }, undefined);
    for (const algorithm of ['lz4', 'zstd', 'gzip', 'deflate', 'brotli']) {
      const compression = sessionCompression(settings, new Set(), algorithm)!;
      const payload = compression.compress(PREFIX, 4, BODY)!;
      const plain = Buffer.concat([PREFIX, Buffer.from(BODY)]);
      expect(payload.readUInt32LE(0)).toBe(plain.length);
      expect(codecOf(algorithm)!.decompress(payload.subarray(4), plain.length).equals(plain)).toBe(true);
      expect(compression.decompress(payload, 0, payload.length, 1 << 20).equals(plain)).toBe(true);
    }
    const counters = settings.counters;
    expect(counters.messagesCompressed).toBe(5);
    expect(counters.messagesDecompressed).toBe(5);
    expect(counters.plainBytesOut).toBe(5 * (4 + BODY.length));
    expect(counters.compressedBytesOut).toBeLessThan(counters.plainBytesOut / 5);
    expect(counters.plainBytesIn).toBe(counters.plainBytesOut);
    expect(counters.compressedBytesIn).toBe(counters.compressedBytesOut);
  });

  it('sends a message that would not shrink as it is', () => {
    const settings = resolveCompression({ threshold: 100 }, undefined);
    const compression = sessionCompression(settings, new Set(), 'zstd')!;
    expect(compression.compress(PREFIX, 4, randomBytes(2000))).toBeUndefined();
    expect(settings.counters).toMatchObject({ messagesCompressed: 0, messagesNotShrunk: 1 });
  });

  it('refuses a stated size above the limit before decompressing: HW_ERR_DECOMPRESSED_TOO_LARGE, or HW_ERR_FRAME_TOO_LARGE on a 1.0 session', () => {
    const settings = resolveCompression(undefined, undefined);
    const payload = sessionCompression(settings, new Set(), 'gzip')!.compress(PREFIX, 4, BODY.repeat(4))!;
    expect(() => sessionCompression(settings, new Set(), 'gzip')!.decompress(payload, 0, payload.length, 1000)).toThrow(
      expect.objectContaining({ code: 'HW_ERR_DECOMPRESSED_TOO_LARGE' }),
    );
    const lz4 = sessionCompression(settings, new Set(['lz4']), undefined)!.compress(PREFIX, 4, BODY.repeat(4))!;
    expect(() => sessionCompression(settings, new Set(['lz4']), undefined)!.decompress(lz4, 0, lz4.length, 1000)).toThrow(expect.objectContaining({ code: 'HW_ERR_FRAME_TOO_LARGE' }));
    expect(settings.counters.refused).toBe(2);
  });

  it('refuses data that decompresses past its stated size, LZ4 too when negotiated by name', () => {
    const settings = resolveCompression(undefined, undefined);
    for (const algorithm of ['lz4', 'zstd', 'gzip', 'deflate', 'brotli']) {
      const compression = sessionCompression(settings, new Set(), algorithm)!;
      const payload = compression.compress(PREFIX, 4, BODY)!;
      payload.writeUInt32LE(100, 0);
      expect(() => compression.decompress(payload, 0, payload.length, 1 << 20)).toThrow(expect.objectContaining({ code: 'HW_ERR_DECOMPRESSED_TOO_LARGE' }));
    }
    const legacy = sessionCompression(settings, new Set(['lz4']), undefined)!;
    const payload = legacy.compress(PREFIX, 4, BODY)!;
    payload.writeUInt32LE(100, 0);
    expect(() => legacy.decompress(payload, 0, payload.length, 1 << 20)).toThrow(expect.objectContaining({ code: 'HW_ERR_LZ4_OUTPUT_TOO_LARGE' }));
  });

  it('refuses a payload shorter than its size, and data shorter than it states', () => {
    const compression = sessionCompression(resolveCompression(undefined, undefined), new Set(), 'deflate')!;
    expect(() => compression.decompress(Buffer.alloc(3), 0, 3, 1000)).toThrow(expect.objectContaining({ code: 'HW_ERR_BAD_MESSAGE' }));
    const payload = compression.compress(PREFIX, 4, BODY)!;
    payload.writeUInt32LE(4 + BODY.length + 1, 0);
    expect(() => compression.decompress(payload, 0, payload.length, 1 << 20)).toThrow(expect.objectContaining({ code: 'HW_ERR_BAD_MESSAGE' }));
  });
});
