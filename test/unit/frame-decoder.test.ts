import { describe, expect, it } from 'vitest';
import { FrameDecoder, FrameEncoder, FrameType, FrameFlag, crc32c, type Frame } from '../../ts/index.js';
import { pseudoRandomBytes as randomBytes } from '../support/bytes.js';

function encodeAll(frames: Parameters<FrameEncoder['encode']>[0], copyThreshold?: number): Buffer {
  return Buffer.concat(new FrameEncoder(copyThreshold === undefined ? {} : { copyThreshold }).encode(frames));
}

function collect(decoder: FrameDecoder, chunks: Uint8Array[]): Frame[] {
  const out: Frame[] = [];
  for (const chunk of chunks) {
    decoder.push(chunk);
    for (const frame of decoder.frames()) out.push({ ...frame, payload: Buffer.from(frame.payload) });
  }
  return out;
}


describe('FrameEncoder / FrameDecoder', () => {
  const specs = Array.from({ length: 200 }, (_, i) => ({
    type: FrameType.MESSAGE,
    flags: i % 3 === 0 ? FrameFlag.RELIABLE : 0,
    channel: i % 7,
    sequence: 0xfffffff0 + i,
    payload: randomBytes((i * 37) % 3000, i + 1),
  }));

  it('round-trips frames fed whole, byte by byte and in random chunks', () => {
    const stream = encodeAll(specs);
    const expected = specs.map((s) => ({ ...s, sequence: s.sequence >>> 0 }));
    const whole = collect(new FrameDecoder(), [stream]);
    expect(whole).toHaveLength(200);
    whole.forEach((frame, i) => {
      expect(frame.type).toBe(expected[i]!.type);
      expect(frame.flags).toBe(expected[i]!.flags);
      expect(frame.channel).toBe(expected[i]!.channel);
      expect(frame.sequence).toBe(expected[i]!.sequence);
      expect(Buffer.compare(frame.payload, expected[i]!.payload)).toBe(0);
    });
    const bytes = collect(new FrameDecoder(), Array.from(stream, (_, i) => stream.subarray(i, i + 1)));
    expect(bytes).toEqual(whole);
    const chunks: Buffer[] = [];
    const sizes = randomBytes(4096, 99);
    for (let at = 0, k = 0; at < stream.length; k++) {
      const size = 1 + (sizes[k % sizes.length]! * 7);
      chunks.push(stream.subarray(at, at + size));
      at += size;
    }
    expect(collect(new FrameDecoder(), chunks)).toEqual(whole);
  });

  it('release() lets go of the chunk between pushes and keeps a frame split across them', () => {
    const stream = encodeAll(specs);
    const whole = collect(new FrameDecoder(), [stream]);
    const decoder = new FrameDecoder();
    const frames: Frame[] = [];
    for (let at = 0; at < stream.length; at += 1000) {
      const count = decoder.push(stream.subarray(at, at + 1000));
      for (let i = 0; i < count; i++) {
        frames.push({ type: decoder.type(i), flags: decoder.flags(i), channel: decoder.channel(i), sequence: decoder.sequence(i), payload: Buffer.from(decoder.payload(i)) });
      }
      decoder.release();
      expect(decoder.count).toBe(0);
      expect(decoder.payloadSource(0)).toHaveLength(0);
    }
    expect(frames).toEqual(whole.map((frame) => ({ ...frame, payload: Buffer.from(frame.payload) })));
  });

  it('sharedRows: decoders share one row table; keepRows() keeps a push valid past the others, and the table grows', () => {
    const many = Array.from({ length: 100 }, (_, i) => ({ type: FrameType.PING, sequence: i, payload: Buffer.from(`p${i}`) }));
    const one = encodeAll([{ type: FrameType.PONG, sequence: 7, payload: Buffer.from('b') }]);
    const a = new FrameDecoder({ sharedRows: true });
    const b = new FrameDecoder({ sharedRows: true });
    expect(a.push(encodeAll(many))).toBe(100);
    a.keepRows();
    expect(b.push(one)).toBe(1);
    expect(Array.from({ length: 100 }, (_, i) => [a.type(i), a.sequence(i), Buffer.from(a.payload(i)).toString()])).toEqual(
      many.map((frame) => [FrameType.PING, frame.sequence, frame.payload.toString()]),
    );
    // Without keepRows(), the next push of any of them is what the rows hold.
    expect(b.push(one)).toBe(1);
    expect(a.push(encodeAll(many.slice(0, 2)))).toBe(2);
    expect([b.type(0), b.sequence(0)]).toEqual([FrameType.PING, 0]);
    expect([a.type(1), a.sequence(1)]).toEqual([FrameType.PING, 1]);
  });

  it('gives payload views into the chunk without copying', () => {
    const stream = encodeAll([{ type: 4, payload: Buffer.from('zero copy') }]);
    const decoder = new FrameDecoder();
    expect(decoder.push(stream)).toBe(1);
    const view = decoder.payload(0);
    expect(view.buffer).toBe(stream.buffer);
    expect(Buffer.from(view).toString()).toBe('zero copy');
  });

  it('passes large payloads through the encoder by reference', () => {
    const big = randomBytes(100_000, 5);
    const parts = new FrameEncoder({ copyThreshold: 1024 }).encode([{ type: 4, payload: big }]);
    expect(parts).toContain(big);
    const decoder = new FrameDecoder();
    expect(decoder.push(Buffer.concat(parts))).toBe(1);
    expect(Buffer.compare(decoder.payload(0), big)).toBe(0);
  });

  it('writes the header layout of docs/PROTOCOL.md', () => {
    const frame = encodeAll([{ type: 0x04, flags: 0x08, channel: 2, sequence: 1, payload: Buffer.from('hi') }]);
    expect(frame.subarray(0, 12).toString('hex')).toBe('010408020100000002000000');
    const crc = crc32c(Buffer.concat([frame.subarray(0, 12), frame.subarray(16)]));
    expect(frame.readUInt32LE(12)).toBe(crc);
  });

  it('rejects a corrupted payload with HW_ERR_BAD_CHECKSUM and stays failed', () => {
    const stream = encodeAll([{ type: 4, payload: Buffer.from('a') }, { type: 4, payload: Buffer.from('payload') }]);
    stream[stream.length - 1]! ^= 0x01;
    const decoder = new FrameDecoder();
    expect(() => decoder.push(stream)).toThrow(expect.objectContaining({ code: 'HW_ERR_BAD_CHECKSUM', offset: 17 }));
    expect(() => decoder.push(Buffer.alloc(1))).toThrow(expect.objectContaining({ code: 'HW_ERR_BAD_CHECKSUM' }));
  });

  it('rejects an unknown version and an oversized length before buffering', () => {
    const good = encodeAll([{ type: 4, payload: Buffer.from('x') }]);
    const badVersion = Buffer.from(good);
    badVersion[0] = 2;
    expect(() => new FrameDecoder().push(badVersion)).toThrow(expect.objectContaining({ code: 'HW_ERR_BAD_VERSION' }));
    const header = Buffer.from(good.subarray(0, 16));
    header.writeUInt32LE(0xffffffff, 8);
    const decoder = new FrameDecoder({ maxFrameSize: 1024 });
    expect(() => decoder.push(header)).toThrow(expect.objectContaining({ code: 'HW_ERR_FRAME_TOO_LARGE' }));
    // Split across chunks, the length is still checked as soon as the header is whole.
    const split = new FrameDecoder({ maxFrameSize: 1024 });
    expect(split.push(header.subarray(0, 9))).toBe(0);
    expect(() => split.push(header.subarray(9))).toThrow(expect.objectContaining({ code: 'HW_ERR_FRAME_TOO_LARGE' }));
  });

  it('keeps the state of each decoder its own when two are fed by turns, chunks split inside headers included', () => {
    const streams = [encodeAll(specs.slice(0, 100)), encodeAll(specs.slice(100))];
    const decoders = [new FrameDecoder(), new FrameDecoder()];
    const got: Frame[][] = [[], []];
    const sizes = [1, 7, 15, 17, 333];
    const at = [0, 0];
    for (let turn = 0; at[0]! < streams[0]!.length || at[1]! < streams[1]!.length; turn++) {
      for (const which of [0, 1]) {
        const size = sizes[(turn + which) % sizes.length]!;
        const chunk = streams[which]!.subarray(at[which], at[which]! + size);
        at[which]! += chunk.length;
        if (chunk.length > 0) {
          decoders[which]!.push(chunk);
          got[which]!.push(...[...decoders[which]!.frames()].map((frame) => ({ ...frame, payload: Buffer.from(frame.payload) })));
        }
      }
    }
    expect(got.map((frames) => frames.map((frame) => frame.sequence))).toEqual([specs.slice(0, 100).map((s) => s.sequence >>> 0), specs.slice(100).map((s) => s.sequence >>> 0)]);
    expect(got[1]!.every((frame, i) => Buffer.compare(frame.payload, specs[100 + i]!.payload) === 0)).toBe(true);
  });

  it('after an error, keeps the frames decoded before it; the error gives where the refused frame starts', () => {
    const stream = encodeAll([{ type: 4, payload: Buffer.from('a') }, { type: 6, payload: Buffer.from('bc') }, { type: 4, payload: Buffer.alloc(2000) }]);
    const decoder = new FrameDecoder({ maxFrameSize: 1024 });
    expect(() => decoder.push(stream)).toThrow(expect.objectContaining({ code: 'HW_ERR_FRAME_TOO_LARGE', offset: 17 + 18 }));
    expect(decoder.count).toBe(2);
    expect([...decoder.frames()].map((frame) => [frame.type, Buffer.from(frame.payload).toString()])).toEqual([[4, 'a'], [6, 'bc']]);
  });

  it('applies a changed maxFrameSize from the next push on', () => {
    const big = encodeAll([{ type: 4, payload: Buffer.alloc(2000, 1) }]);
    const decoder = new FrameDecoder({ maxFrameSize: 1024 });
    expect(decoder.push(big.subarray(0, 10))).toBe(0);
    decoder.maxFrameSize = 4096;
    expect(decoder.push(big.subarray(10))).toBe(1);
    expect(decoder.payloadLength(0)).toBe(2000);
  });

  it('reports a stream that ends inside a frame as HW_ERR_TRUNCATED', () => {
    const stream = encodeAll([{ type: 4, payload: Buffer.alloc(100) }]);
    const decoder = new FrameDecoder();
    expect(decoder.push(stream.subarray(0, 50))).toBe(0);
    expect(decoder.bufferedBytes).toBe(50);
    expect(() => decoder.end()).toThrow(expect.objectContaining({ code: 'HW_ERR_TRUNCATED' }));
  });

  it('validates its options, naming the option', () => {
    expect(() => new FrameDecoder({ maxFrameSize: -1 })).toThrow(/maxFrameSize/);
    expect(() => new FrameEncoder({ slabSize: 1 })).toThrow(/slabSize/);
  });
});

describe('docs/PROTOCOL.md test vectors', () => {
  it('encodes each vector of section 1 byte for byte', () => {
    const hex = (b: Buffer) => b.toString('hex');
    const encode = (spec: Parameters<FrameEncoder['encodeToBuffer']>[0][0]) => new FrameEncoder().encodeToBuffer([spec]);
    expect(hex(encode({ type: FrameType.PING, sequence: 7 }))).toBe('0106000007000000000000' + '00fccf589d');
    expect(hex(encode({ type: FrameType.MESSAGE, flags: FrameFlag.RELIABLE, channel: 2, sequence: 1, payload: Buffer.from('hi') }))).toBe(
      '010408020100000002000000' + '57b86f50' + '6869',
    );
    expect(hex(encode({ type: FrameType.MESSAGE, payload: Buffer.from('hello') }))).toBe('010400000000000005000000' + '5f0affb6' + '68656c6c6f');
  });

  it('encodes the BATCH example of section 5', () => {
    const encoder = new FrameEncoder();
    encoder.beginBatch(FrameType.MESSAGE, FrameFlag.BATCH, 0, 4, 100);
    expect(encoder.batchWord(1, Buffer.from([0xaa]))).toBe(true);
    expect(encoder.batchWord(1, Buffer.from([0xbb, 0xbb]))).toBe(true);
    encoder.endBatch();
    expect(Buffer.concat(encoder.flush()).toString('hex')).toBe('010410000400000013000000' + '50182950' + '0500000001000000aa' + '0600000001000000bbbb');
  });

  it('refuses a batch entry that does not fit, leaving the batch intact', () => {
    const encoder = new FrameEncoder();
    encoder.beginBatch(FrameType.MESSAGE, FrameFlag.BATCH, 0, 0, 20);
    expect(encoder.batchWord(1, Buffer.alloc(8))).toBe(true);
    expect(encoder.batchWord(1, Buffer.alloc(8))).toBe(false);
    encoder.endBatch();
    const decoder = new FrameDecoder();
    expect(decoder.push(Buffer.concat(encoder.flush()))).toBe(1);
    expect(decoder.payloadLength(0)).toBe(16);
  });
});
