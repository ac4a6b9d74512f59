/**
 * ts/codec/carry-area.ts: the regions frames straddling socket reads are joined in, and the frame
 * decoder that takes them — frames split over two, three and many chunks, a huge frame, payloads
 * kept from earlier frames staying intact, and the memory the area holds staying bounded.
 */
import { describe, expect, it } from 'vitest';
import { CARRY_SLAB_BYTES, MAX_POOLED_CARRY_BYTES, carryAreaBytes, takeCarry } from '../../ts/codec/carry-area.js';
import { FrameDecoder } from '../../ts/codec/frame-decoder.js';
import { FrameEncoder } from '../../ts/codec/frame-encoder.js';
import { FrameType, HEADER_SIZE } from '../../ts/codec/frame.js';
import { pseudoRandomBytes } from '../support/bytes.js';

/** The wire bytes of one MESSAGE frame per payload. */
function frames(payloads: Uint8Array[]): Buffer {
  return Buffer.concat(new FrameEncoder().encode(payloads.map((payload, sequence) => ({ type: FrameType.MESSAGE, flags: 0, channel: 0, sequence, payload }))));
}

/** Feeds `stream` cut at `cuts` (offsets); returns every payload as the view the decoder gave. */
function decodeCut(decoder: FrameDecoder, stream: Buffer, cuts: number[]): Uint8Array[] {
  const views: Uint8Array[] = [];
  const bounds = [0, ...cuts, stream.length];
  for (let i = 0; i + 1 < bounds.length; i++) {
    const count = decoder.push(stream.subarray(bounds[i], bounds[i + 1]));
    for (let row = 0; row < count; row++) views.push(decoder.payload(row));
  }
  return views;
}

describe('takeCarry', () => {
  it('gives regions of exactly the size asked, none overlapping another, each left as written', () => {
    const sizes = [HEADER_SIZE, 100, 4096, 32 * 1024, 65_560, 7, 65_560, 65_560, 65_560, 65_560, 65_560, 65_560];
    const regions = sizes.map((size, i) => {
      const region = takeCarry(size);
      region.fill(i + 1);
      return region;
    });
    regions.forEach((region, i) => {
      expect(region.length).toBe(sizes[i]);
      expect(region.every((byte) => byte === i + 1)).toBe(true);
    });
  });

  it('joins a frame larger than MAX_POOLED_CARRY_BYTES in a buffer of its own, which the area does not keep', () => {
    const before = carryAreaBytes();
    const huge = takeCarry(MAX_POOLED_CARRY_BYTES + 1);
    expect(huge.length).toBe(MAX_POOLED_CARRY_BYTES + 1);
    expect(huge.buffer.byteLength).toBe(MAX_POOLED_CARRY_BYTES + 1);
    expect(carryAreaBytes()).toBe(before);
  });

  it('holds one slab, however many regions are taken', () => {
    for (let i = 0; i < 1000; i++) takeCarry(1 + ((i * 7919) % MAX_POOLED_CARRY_BYTES));
    expect(carryAreaBytes()).toBe(CARRY_SLAB_BYTES);
  });
});

describe('FrameDecoder with frames straddling chunks', () => {
  it('joins frames split over two and over three chunks, headers split too', () => {
    const payloads = [pseudoRandomBytes(65_536, 1), pseudoRandomBytes(1000, 2), pseudoRandomBytes(70_000, 3)];
    const stream = frames(payloads);
    const first = HEADER_SIZE + 65_536;
    const second = first + HEADER_SIZE + 1000;
    // Frame 0 over two chunks; frame 1 over two (its header split); frame 2 over three.
    const cuts = [40_000, first + 5, second + 20_000, second + 50_000];
    const views = decodeCut(new FrameDecoder(), stream, cuts);
    expect(views.map((view, i) => Buffer.compare(view, payloads[i]!))).toEqual([0, 0, 0]);
  });

  it('joins a frame of 8 MiB fed in 64 KiB chunks', () => {
    const payload = pseudoRandomBytes(8 * 1024 * 1024, 4);
    const stream = frames([payload]);
    const cuts: number[] = [];
    for (let at = 65_536; at < stream.length; at += 65_536) cuts.push(at);
    const [view, ...rest] = decodeCut(new FrameDecoder({ maxFrameSize: 16 * 1024 * 1024 }), stream, cuts);
    expect(rest).toEqual([]);
    expect(Buffer.compare(view!, payload)).toBe(0);
  });

  it('leaves the payloads of earlier frames intact as later frames are joined, by this decoder and others', () => {
    const payloads = Array.from({ length: 40 }, (_, i) => pseudoRandomBytes(20_000 + i * 1500, 10 + i));
    const stream = frames(payloads);
    const cuts: number[] = [];
    for (let at = 9_973; at < stream.length; at += 9_973) cuts.push(at);
    const kept = decodeCut(new FrameDecoder(), stream, cuts);
    // Another decoder (another session) joins frames from the same area meanwhile.
    decodeCut(new FrameDecoder(), stream, cuts.map((cut) => cut + 1));
    expect(kept).toHaveLength(payloads.length);
    expect(kept.map((view, i) => Buffer.compare(view, payloads[i]!))).toEqual(payloads.map(() => 0));
    expect(carryAreaBytes()).toBe(CARRY_SLAB_BYTES);
  });
});
