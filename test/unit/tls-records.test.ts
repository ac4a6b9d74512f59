import { describe, expect, it } from 'vitest';
import { FrameDecoder } from '../../ts/codec/frame-decoder.js';
import { FrameEncoder } from '../../ts/codec/frame-encoder.js';
import { FrameType, HEADER_SIZE } from '../../ts/codec/frame.js';
import { TLS_RECORD_BYTES, joinIntoRecords } from '../../ts/session/tls-records.js';

/** One frame of `size` bytes in all (header included), its payload filled with `fill`. */
function frame(size: number, fill: number, sequence = 0): Buffer {
  const encoder = new FrameEncoder({ copyThreshold: 0 });
  encoder.add(FrameType.MESSAGE, Buffer.alloc(size - HEADER_SIZE, fill), 0, 0, sequence);
  return Buffer.concat(encoder.flush());
}

/** The frames of `written` as [type, offset, total size, first payload byte], checking every checksum. */
function framesOf(written: Buffer) {
  const decoder = new FrameDecoder();
  const count = decoder.push(written);
  expect(decoder.bufferedBytes).toBe(0);
  const frames: Array<{ type: number; offset: number; size: number; fill: number | undefined }> = [];
  for (let i = 0; i < count; i++) {
    const payload = decoder.payload(i);
    frames.push({ type: decoder.type(i), offset: decoder.payloadOffset(i) - HEADER_SIZE, size: HEADER_SIZE + payload.length, fill: payload[0] });
  }
  return frames;
}

/** The record (of TLS_RECORD_BYTES, counted from the write's start) that byte `offset` falls in. */
const record = (offset: number) => Math.floor(offset / TLS_RECORD_BYTES);

describe('joinIntoRecords', () => {
  it('pads so that no frame crosses a record boundary, keeping the frames in order and intact', () => {
    // Frames of 10,000 bytes: the second would cross the first boundary, the third the second.
    const frames = [1, 2, 3, 4].map((fill, i) => frame(10_000, fill, i));
    const written = joinIntoRecords(frames, frames.length, 40_000);
    const laid = framesOf(written);
    expect(laid.map(({ type, fill }) => [type, fill])).toEqual([
      [FrameType.MESSAGE, 1],
      [FrameType.PADDING, 0],
      [FrameType.MESSAGE, 2],
      [FrameType.PADDING, 0],
      [FrameType.MESSAGE, 3],
      [FrameType.PADDING, 0],
      [FrameType.MESSAGE, 4],
    ]);
    // Each PADDING frame fills its record exactly, so each MESSAGE starts a record.
    expect(laid.filter(({ type }) => type === FrameType.MESSAGE).map(({ offset }) => offset)).toEqual([0, 1, 2, 3].map((n) => n * TLS_RECORD_BYTES));
    for (const { offset, size } of laid) expect(record(offset + size - 1)).toBe(record(offset));
    expect(written.length).toBe(3 * TLS_RECORD_BYTES + 10_000);
  });

  it('joins frames spread over several buffers as the send path hands them (a header, then a body of its own)', () => {
    const whole = frame(9000, 5);
    const parts = [frame(9000, 6), whole.subarray(0, HEADER_SIZE), whole.subarray(HEADER_SIZE)];
    const laid = framesOf(joinIntoRecords(parts, 3, 18_000));
    expect(laid.map(({ type, offset, fill }) => [type, offset, fill])).toEqual([
      [FrameType.MESSAGE, 0, 6],
      [FrameType.PADDING, 9000, 0],
      [FrameType.MESSAGE, TLS_RECORD_BYTES, 5],
    ]);
  });

  it('needs no padding for frames that fill records exactly, and returns a lone buffer as it is', () => {
    const exact = Buffer.concat([frame(TLS_RECORD_BYTES - 100, 1), frame(100, 2), frame(TLS_RECORD_BYTES, 3)]);
    expect(joinIntoRecords([exact], 1, exact.length)).toBe(exact);
    const small = frame(200, 7);
    expect(joinIntoRecords([small], 1, small.length)).toBe(small);
  });

  it('pads the end of a long write that leaves little room in its last record, and not that of a short one', () => {
    const long = Buffer.concat([frame(TLS_RECORD_BYTES, 1), frame(TLS_RECORD_BYTES - 40, 2)]);
    const written = joinIntoRecords([long], 1, long.length);
    expect(written.length).toBe(2 * TLS_RECORD_BYTES);
    expect(framesOf(written).map(({ type, size }) => [type, size])).toEqual([
      [FrameType.MESSAGE, TLS_RECORD_BYTES],
      [FrameType.MESSAGE, TLS_RECORD_BYTES - 40],
      [FrameType.PADDING, 40],
    ]);
    const short = frame(TLS_RECORD_BYTES - 40, 3);
    expect(joinIntoRecords([short], 1, short.length)).toBe(short);
  });

  it('lays a frame larger than a record where it comes, and leaves a gap too small for a PADDING frame', () => {
    const large = frame(3 * TLS_RECORD_BYTES, 1);
    const after = Buffer.concat([frame(TLS_RECORD_BYTES - 10, 2), frame(100, 3)]);
    const written = joinIntoRecords([frame(100, 4), large, after], 3, 100 + large.length + after.length);
    expect(framesOf(written).map(({ type, offset }) => [type, offset])).toEqual([
      [FrameType.MESSAGE, 0],
      [FrameType.MESSAGE, 100],
      // 100 bytes into its record: padded to the next boundary.
      [FrameType.PADDING, 100 + 3 * TLS_RECORD_BYTES],
      [FrameType.MESSAGE, 4 * TLS_RECORD_BYTES],
      // 10 bytes left in that record: no PADDING frame fits, so the next frame crosses.
      [FrameType.MESSAGE, 5 * TLS_RECORD_BYTES - 10],
    ]);
  });

  it('writes what is not a sequence of whole frames as it is', () => {
    const broken = Buffer.concat([frame(20_000, 1), frame(100, 2).subarray(0, 50)]);
    expect(joinIntoRecords([broken], 1, broken.length)).toBe(broken);
  });

  it('makes PADDING frames that match docs/PROTOCOL.md (test vector F4)', () => {
    const written = joinIntoRecords([frame(TLS_RECORD_BYTES - 24, 1), frame(100, 2)], 2, TLS_RECORD_BYTES - 24 + 100);
    const padding = written.subarray(TLS_RECORD_BYTES - 24, TLS_RECORD_BYTES);
    expect(padding.toString('hex')).toBe('018200000000000008000000a0233cf70000000000000000');
  });
});
