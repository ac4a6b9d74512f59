/** ts/session/compress-message.ts: the COMPRESSED form of a message, only when it is smaller. */
import { describe, expect, it } from 'vitest';
import { compressMessage } from '../../ts/session/compress-message.js';
import { lz4Decompress } from '../../ts/codec/lz4.js';

describe('compressMessage', () => {
  it('gives the size before compression and an LZ4 block of prefix and body', () => {
    const prefix = Buffer.from([1, 0, 1, 0, 0xff]);
    const body = 'a'.repeat(1000);
    const compressed = compressMessage(prefix, 4, body)!;
    expect(compressed.sizePrefix.readUInt32LE(0)).toBe(1004);
    const plain = lz4Decompress(compressed.block, 1004);
    expect([...plain.subarray(0, 4)]).toEqual([1, 0, 1, 0]);
    expect(plain.subarray(4).toString()).toBe(body);
  });

  it('gives nothing when compression would not make the message smaller', () => {
    expect(compressMessage(Buffer.from([1, 0, 0, 0]), 4, Buffer.from([7, 200, 13, 99]))).toBeUndefined();
  });
});
