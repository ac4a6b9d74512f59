/**
 * ts/codec/datagram-decoder.ts: the frames of one datagram in one native call, their rows and
 * payload views, and the errors that make a datagram unusable.
 */
import { describe, expect, it } from 'vitest';
import { DatagramDecoder } from '../../ts/codec/datagram-decoder.js';
import { FrameEncoder, type FrameSpec } from '../../ts/codec/frame-encoder.js';
import { FrameFlag, FrameType, HEADER_SIZE } from '../../ts/codec/frame.js';

const encoder = new FrameEncoder({ maxFrameSize: 1 << 20 });

function datagram(frames: FrameSpec[]): Buffer {
  return encoder.encodeToBuffer(frames);
}

function flipped(bytes: Buffer, at: number): Buffer {
  const copy = Buffer.from(bytes);
  copy[at]! ^= 0xff;
  return copy;
}

/** What the decoder says about each frame of its last decode. */
function rowsOf(decoder: DatagramDecoder): Array<{ type: number; flags: number; channel: number; sequence: number; payload: string }> {
  return Array.from({ length: decoder.count }, (_, i) => ({
    type: decoder.type(i),
    flags: decoder.flags(i),
    channel: decoder.channel(i),
    sequence: decoder.sequence(i),
    payload: Buffer.from(decoder.payload(i)).toString(),
  }));
}

describe('DatagramDecoder on valid datagrams', () => {
  it('returns every frame with its header fields and payload', () => {
    const decoder = new DatagramDecoder();
    const bytes = datagram([
      { type: FrameType.MESSAGE, flags: FrameFlag.RELIABLE, channel: 3, sequence: 77, payload: Buffer.from('first') },
      { type: FrameType.PING, sequence: 5, payload: Buffer.from('12345678') },
      { type: FrameType.MTU_PROBE, channel: 255, sequence: 0xffff_ffff },
    ]);
    expect(decoder.decode(bytes)).toBe(3);
    expect(decoder.count).toBe(3);
    expect(decoder.error).toBeUndefined();
    expect(rowsOf(decoder)).toEqual([
      { type: FrameType.MESSAGE, flags: FrameFlag.RELIABLE, channel: 3, sequence: 77, payload: 'first' },
      { type: FrameType.PING, flags: 0, channel: 0, sequence: 5, payload: '12345678' },
      { type: FrameType.MTU_PROBE, flags: 0, channel: 255, sequence: 0xffff_ffff, payload: '' },
    ]);
    expect(decoder.payloadOffset(0)).toBe(HEADER_SIZE);
    expect(decoder.payloadLength(0)).toBe(5);
    expect(decoder.payloadOffset(1)).toBe(HEADER_SIZE + 5 + HEADER_SIZE);
  });

  it('gives payloads as views of the datagram, not copies, also inside a larger buffer', () => {
    const decoder = new DatagramDecoder();
    const inner = datagram([{ type: FrameType.MESSAGE, payload: Buffer.from('view me') }]);
    // The datagram at an offset of a larger allocation, as a socket batch hands it over.
    const slab = Buffer.alloc(inner.length + 40, 0xee);
    inner.copy(slab, 17);
    const bytes = slab.subarray(17, 17 + inner.length);
    expect(decoder.decode(bytes)).toBe(1);
    const payload = decoder.payload(0);
    expect(Buffer.from(payload).toString()).toBe('view me');
    expect(payload.buffer).toBe(slab.buffer);
    slab[17 + HEADER_SIZE] = 0x56; // 'V'
    expect(Buffer.from(decoder.payload(0)).toString()).toBe('View me');
  });

  it('grows its row table for a datagram with more frames than it holds, and reads them all', () => {
    const decoder = new DatagramDecoder();
    const frames = Array.from({ length: 300 }, (_, i): FrameSpec => ({ type: FrameType.MESSAGE, sequence: i, payload: Buffer.from(`m${i}`) }));
    expect(decoder.decode(datagram(frames))).toBe(300);
    const rows = rowsOf(decoder);
    expect(rows.map((row) => row.sequence)).toEqual(frames.map((_, i) => i));
    expect(rows.map((row) => row.payload)).toEqual(frames.map((_, i) => `m${i}`));
    // And a smaller one afterwards is read from the grown table the same way.
    expect(decoder.decode(datagram([{ type: FrameType.PONG, sequence: 9 }]))).toBe(1);
    expect(rowsOf(decoder)).toEqual([{ type: FrameType.PONG, flags: 0, channel: 0, sequence: 9, payload: '' }]);
  });

  it('decodes an empty datagram as no frames', () => {
    const decoder = new DatagramDecoder();
    expect(decoder.decode(Buffer.alloc(0))).toBe(0);
    expect(decoder.count).toBe(0);
    expect(decoder.error).toBeUndefined();
  });

  it('accepts a payload of exactly maxFrameSize', () => {
    const decoder = new DatagramDecoder(1024);
    expect(decoder.maxFrameSize).toBe(1024);
    expect(decoder.decode(datagram([{ type: FrameType.MESSAGE, payload: Buffer.alloc(1024, 1) }]))).toBe(1);
    expect(decoder.payloadLength(0)).toBe(1024);
  });
});

describe('DatagramDecoder on invalid datagrams', () => {
  const good = datagram([
    { type: FrameType.MESSAGE, payload: Buffer.from('one') },
    { type: FrameType.MESSAGE, payload: Buffer.from('two') },
  ]);
  const CASES: Array<[string, Buffer, string, number?]> = [
    ['ends inside the last frame', good.subarray(0, good.length - 1), 'HW_ERR_TRUNCATED'],
    ['ends inside a header', good.subarray(0, HEADER_SIZE + 3 + 5), 'HW_ERR_TRUNCATED'],
    ['has a byte after the last frame', Buffer.concat([good, Buffer.from([1])]), 'HW_ERR_TRUNCATED'],
    ['has a bad checksum in its second frame', flipped(good, good.length - 1), 'HW_ERR_BAD_CHECKSUM'],
    ['has a bad version in its second frame', flipped(good, HEADER_SIZE + 3), 'HW_ERR_BAD_VERSION'],
    ['has a frame longer than maxFrameSize', datagram([{ type: FrameType.MESSAGE, payload: Buffer.alloc(1025) }]), 'HW_ERR_FRAME_TOO_LARGE', 1024],
  ];

  it.each(CASES)('returns -1 with the stable code when the datagram %s', (_what, bytes, code, maxFrameSize) => {
    const decoder = new DatagramDecoder(maxFrameSize);
    expect(decoder.decode(bytes)).toBe(-1);
    expect(decoder.error).toBe(code);
    // None of its frames is offered, not even those before the bad one.
    expect(decoder.count).toBe(0);
  });

  it('clears the error on the next good datagram', () => {
    const decoder = new DatagramDecoder();
    expect(decoder.decode(flipped(good, 0))).toBe(-1);
    expect(decoder.error).toBe('HW_ERR_BAD_VERSION');
    expect(decoder.decode(good)).toBe(2);
    expect(decoder.error).toBeUndefined();
    expect(rowsOf(decoder).map((row) => row.payload)).toEqual(['one', 'two']);
  });
});
