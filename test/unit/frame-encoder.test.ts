import { describe, expect, it } from 'vitest';
import { FrameDecoder, FrameEncoder, FrameType } from '../../ts/index.js';
import { SPARE_SLABS, spareSlabCount } from '../../ts/codec/frame-encoder.js';

/** The frames of `buffers`, decoded (checksums verified), as [type, sequence, payload text]. */
function decode(buffers: Buffer[]): Array<[number, number, string]> {
  const decoder = new FrameDecoder();
  const count = decoder.push(Buffer.concat(buffers));
  return Array.from({ length: count }, (_, i) => [decoder.type(i), decoder.sequence(i), Buffer.from(decoder.payload(i)).toString()]);
}

const bufferOf = (buffers: Buffer[]) => buffers[0]!.buffer;

describe('FrameEncoder with sharedSlab', () => {
  it('writes the frames of many encoders into one slab, interleaved, each flush holding only its own', () => {
    const a = new FrameEncoder({ sharedSlab: true });
    const b = new FrameEncoder({ sharedSlab: true });
    a.add(FrameType.PING, Buffer.from('a1'), 0, 0, 1);
    b.add(FrameType.PING, Buffer.from('b1'), 0, 0, 1);
    a.add(FrameType.PONG, Buffer.from('a2'), 0, 0, 2);
    b.add(FrameType.PONG, Buffer.from('b2'), 0, 0, 2);
    const fromA = a.flush();
    const fromB = b.flush();
    expect(decode(fromA)).toEqual([
      [FrameType.PING, 1, 'a1'],
      [FrameType.PONG, 2, 'a2'],
    ]);
    expect(decode(fromB)).toEqual([
      [FrameType.PING, 1, 'b1'],
      [FrameType.PONG, 2, 'b2'],
    ]);
    // Interleaved: each encoder's frames are two segments of the same slab.
    expect(fromA).toHaveLength(2);
    expect(bufferOf(fromA)).toBe(bufferOf(fromB));
  });

  it('keeps contiguous frames in one segment, and never writes again over bytes it handed out', () => {
    const a = new FrameEncoder({ sharedSlab: true });
    const b = new FrameEncoder({ sharedSlab: true });
    a.add(FrameType.PING, Buffer.from('x'), 0, 0, 1);
    a.add(FrameType.PING, Buffer.from('y'), 0, 0, 2);
    const first = a.flush();
    expect(first).toHaveLength(1);
    const kept = Buffer.from(first[0]!);
    // Held by "the socket" while the same and other encoders go on writing, thousands of frames,
    // across several slabs.
    for (let i = 0; i < 3000; i++) {
      a.add(FrameType.PING, Buffer.from(`a${i}`), 0, 0, i);
      b.add(FrameType.PONG, Buffer.from(`b${i}`), 0, 0, i);
      if (i % 7 === 0) a.flush();
      if (i % 5 === 0) b.flush();
    }
    expect(first[0]!.equals(kept)).toBe(true);
    expect(decode(first)).toEqual([
      [FrameType.PING, 1, 'x'],
      [FrameType.PING, 2, 'y'],
    ]);
  });

  it('takes frames larger than the shared slab, and payloads it does not copy', () => {
    const a = new FrameEncoder({ sharedSlab: true, slabSize: 64 * 1024, copyThreshold: 32 * 1024 });
    const big = Buffer.alloc(20_000, 0x61);
    const huge = Buffer.alloc(100_000, 0x62);
    a.add(FrameType.MESSAGE, big, 0, 0, 1);
    a.add(FrameType.MESSAGE, huge, 0, 0, 2);
    a.add(FrameType.PING, Buffer.from('z'), 0, 0, 3);
    expect(decode(a.flush())).toEqual([
      [FrameType.MESSAGE, 1, big.toString()],
      [FrameType.MESSAGE, 2, huge.toString()],
      [FrameType.PING, 3, 'z'],
    ]);
  });

  it('flushes nothing as an empty list, and a fresh one each time', () => {
    const a = new FrameEncoder({ sharedSlab: true });
    const first = a.flush();
    expect(first).toEqual([]);
    first.push(Buffer.from('not the encoder'));
    expect(a.flush()).toEqual([]);
    expect(new FrameEncoder().flush()).toEqual([]);
  });
});

describe('FrameEncoder without sharedSlab', () => {
  it('writes into a slab of its own', () => {
    const a = new FrameEncoder();
    const b = new FrameEncoder();
    a.add(FrameType.PING, Buffer.from('a'), 0, 0, 1);
    b.add(FrameType.PING, Buffer.from('b'), 0, 0, 1);
    const fromA = a.flush();
    const fromB = b.flush();
    expect(bufferOf(fromA)).not.toBe(bufferOf(fromB));
    expect(decode(fromA)).toEqual([[FrameType.PING, 1, 'a']]);
    expect(decode(fromB)).toEqual([[FrameType.PING, 1, 'b']]);
  });

  it('seals more frames in one flush than its first offsets table holds', () => {
    const a = new FrameEncoder();
    for (let i = 0; i < 100; i++) a.add(FrameType.PING, Buffer.from(String(i)), 0, 0, i);
    const frames = decode(a.flush());
    expect(frames.map(([, sequence, text]) => [sequence, text])).toEqual(Array.from({ length: 100 }, (_, i) => [i, String(i)]));
  });

  it('copies a large payload beside the word prefix it was given (addWithWord), whoever wrote last', () => {
    const a = new FrameEncoder({ copyThreshold: 16 });
    const b = new FrameEncoder({ copyThreshold: 16 });
    const body = Buffer.alloc(100, 0x63);
    a.addWithWord(FrameType.MESSAGE, 0x11223344, body, 0, 0, 1);
    b.addWithWord(FrameType.MESSAGE, 0x55667788, body, 0, 0, 1);
    const decodeOne = (buffers: Buffer[]) => {
      const decoder = new FrameDecoder();
      expect(decoder.push(Buffer.concat(buffers))).toBe(1);
      return Buffer.from(decoder.payload(0));
    };
    expect(decodeOne(a.flush())).toEqual(Buffer.concat([Buffer.from([0x44, 0x33, 0x22, 0x11]), body]));
    expect(decodeOne(b.flush())).toEqual(Buffer.concat([Buffer.from([0x88, 0x77, 0x66, 0x55]), body]));
  });

  it('flushInto() stores into an array, from an index, what flush() would return, one segment or several, and leaves nothing queued', () => {
    const big = Buffer.alloc(2000, 0x62);
    const fill = (encoder: FrameEncoder, withBig: boolean) => {
      encoder.add(FrameType.PING, Buffer.from('x'), 0, 0, 1);
      if (withBig) {
        encoder.add(FrameType.MESSAGE, big, 0, 0, 2);
        encoder.add(FrameType.PONG, Buffer.from('y'), 0, 0, 3);
      }
    };
    for (const withBig of [false, true]) {
      const a = new FrameEncoder();
      const b = new FrameEncoder();
      fill(a, withBig);
      fill(b, withBig);
      const out: Buffer[] = [Buffer.from('before')];
      expect(a.flushInto(out, 1)).toBe(withBig ? 4 : 2);
      const returned = b.flush();
      expect(out.slice(1).map((buffer) => buffer.length)).toEqual(returned.map((buffer) => buffer.length));
      expect(out).toHaveLength(withBig ? 4 : 2);
      expect(decode(out.slice(1))).toEqual(decode(returned));
      expect(a.pendingBytes).toBe(0);
      expect(a.flushInto(out, 1)).toBe(1);
    }
  });

  it('recycle() writes the next frames from the start of its slab, and only with nothing queued', () => {
    const a = new FrameEncoder();
    a.add(FrameType.PING, Buffer.from('one'), 0, 0, 1);
    const [first] = a.flush();
    a.recycle();
    a.add(FrameType.PING, Buffer.from('two'), 0, 0, 2);
    // Queued frames hold the slab: nothing moves.
    a.recycle();
    const [second] = a.flush();
    expect(second!.buffer).toBe(first!.buffer);
    expect(second!.byteOffset).toBe(first!.byteOffset);
    expect(decode([second!])).toEqual([[FrameType.PING, 2, 'two']]);
    const b = new FrameEncoder();
    b.add(FrameType.PING, Buffer.from('x'), 0, 0, 1);
    const [kept] = b.flush();
    b.add(FrameType.PING, Buffer.from('y'), 0, 0, 2);
    const [next] = b.flush();
    expect(next!.byteOffset).toBeGreaterThanOrEqual(kept!.byteOffset + kept!.length);
    expect(decode([kept!])).toEqual([[FrameType.PING, 1, 'x']]);
  });
});

describe('FrameEncoder with reuseSlabs', () => {
  const SLAB = 4096;
  /** `slabs` slabs' worth of 1000-byte PINGs filled with `fill`, flushed. */
  function fillSlabs(encoder: FrameEncoder, slabs: number, fill: number): Buffer[] {
    for (let i = 0; i < slabs * 4; i++) encoder.add(FrameType.PING, Buffer.alloc(1000, fill), 0, 0, i);
    return encoder.flush();
  }
  const memoryOf = (buffers: Buffer[]) => new Set(buffers.map((buffer) => buffer.buffer));

  it('gives the full slabs it moved past to other encoders once recycle() is called, and not before', () => {
    const a = new FrameEncoder({ slabSize: SLAB, reuseSlabs: true });
    const fromA = fillSlabs(a, 6, 0x61);
    const written = Buffer.concat(fromA);
    const spares = spareSlabCount();
    // Before recycle(): another encoder writes into memory of its own, and A's output stays as it was.
    const fromB = fillSlabs(new FrameEncoder({ slabSize: SLAB, reuseSlabs: true }), 6, 0x62);
    expect([...memoryOf(fromB)].some((memory) => memoryOf(fromA).has(memory))).toBe(false);
    expect(Buffer.concat(fromA).equals(written)).toBe(true);
    a.recycle();
    expect(spareSlabCount()).toBeGreaterThan(spares);
    // After it: the next encoder's slabs are A's old ones, and what it writes decodes.
    const fromC = fillSlabs(new FrameEncoder({ slabSize: SLAB, reuseSlabs: true }), 3, 0x63);
    expect([...memoryOf(fromC)].some((memory) => memoryOf(fromA).has(memory))).toBe(true);
    expect(decode(fromC).map(([, , text]) => text)).toEqual(Array.from({ length: 12 }, () => 'c'.repeat(1000)));
  });

  it('holds at most SPARE_SLABS spares in the process; an encoder without reuseSlabs gives none', () => {
    const a = new FrameEncoder({ slabSize: SLAB, reuseSlabs: true });
    fillSlabs(a, SPARE_SLABS * 2, 0x61);
    a.recycle();
    expect(spareSlabCount()).toBe(SPARE_SLABS);
    // Take them all, then check that a plain encoder's recycle() adds none back.
    fillSlabs(new FrameEncoder({ slabSize: SLAB, reuseSlabs: true }), SPARE_SLABS + 2, 0x62);
    const left = spareSlabCount();
    expect(left).toBeLessThan(SPARE_SLABS);
    const plain = new FrameEncoder({ slabSize: SLAB });
    fillSlabs(plain, 6, 0x63);
    plain.recycle();
    expect(spareSlabCount()).toBe(left);
  });
});
