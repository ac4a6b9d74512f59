import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { FrameDecoder } from '../../ts/codec/frame-decoder.js';
import { FrameFlag, FrameType, HEADER_SIZE } from '../../ts/codec/frame.js';
import { lz4Decompress } from '../../ts/codec/lz4.js';
import { sessionCompression } from '../../ts/compression/session-compression.js';
import { resolveCompression } from '../../ts/compression/settings.js';
import { HybridwireError } from '../../ts/errors.js';
import { DeliveryWindow } from '../../ts/session/delivery-window.js';
import { Encoding, INLINE_TYPE, MessageKind, decodeTypeDef, newMessageHeader, readMessageHeader } from '../../ts/session/message.js';
import { Outbound } from '../../ts/session/outbound.js';
import type { SendLimits, UdpPath } from '../../ts/session/send-options.js';
import { newSessionCounters } from '../../ts/session/session-stats.js';
import { newQosTotals } from '../../ts/qos/qos-settings.js';
import { TLS_RECORD_BYTES } from '../../ts/session/tls-records.js';
import { FakeSocket, messagesOf } from '../support/fake-socket.js';

const LIMITS: SendLimits = { maxFrameSize: 1 << 20, highWaterMark: 1 << 20, maxQueueBytes: 4 << 20, sendStallTimeoutMs: 30_000 };

function setup(options: { window?: number; limits?: Partial<SendLimits>; lz4?: boolean; compressThreshold?: number } = {}) {
  const socket = new FakeSocket();
  const counters = newSessionCounters();
  const outbound = new Outbound(socket.asSocket(), { ...LIMITS, ...options.limits }, counters);
  const window = new DeliveryWindow(options.window ?? 64, 64);
  // A session that negotiated the 1.0 feature lz4, or nothing.
  const features = new Set(options.lz4 === true ? ['lz4'] : []);
  outbound.open(window, sessionCompression(resolveCompression(undefined, options.compressThreshold), features, undefined));
  /** What the connection does with the peer's ACK for `nextExpected`. */
  const ack = (nextExpected: number) => {
    expect(window.acknowledge(nextExpected)).toBeGreaterThanOrEqual(1);
    outbound.acknowledged(nextExpected);
  };
  return { socket, counters, outbound, window, ack };
}

function send(outbound: Outbound, type: unknown, payload: Uint8Array | string | undefined) {
  return outbound.send(type as string, MessageKind.MESSAGE, 0, payload, undefined);
}

/** A UDP side that records what is sent on it. */
function recordingPath(fail?: Error): UdpPath & { sent: Array<{ prefix: Buffer; body: Uint8Array | string }> } {
  const sent: Array<{ prefix: Buffer; body: Uint8Array | string }> = [];
  return {
    sent,
    token: Buffer.alloc(8),
    send(prefix, prefixLength, body) {
      if (fail) throw fail;
      sent.push({ prefix: Buffer.from(prefix.subarray(0, prefixLength)), body });
      return true;
    },
    close() {},
    stats: () => undefined,
  };
}

describe('Outbound: type aliases', () => {
  it('defines a type once with TYPE_DEF, ahead of its first message, then sends only the alias', () => {
    // A window of one frame (step mode): each frame waits for the ACK of the one before.
    const { socket, outbound, ack } = setup({ window: 1 });
    send(outbound, 'chat', new Uint8Array([1]));
    outbound.flush();
    ack(1);
    ack(2);
    send(outbound, 'chat', new Uint8Array([2]));
    outbound.flush();
    const frames = socket.takeFrames();
    expect(frames.map((frame) => [frame.type, frame.sequence])).toEqual([
      [FrameType.TYPE_DEF, 0],
      [FrameType.MESSAGE, 1],
      [FrameType.MESSAGE, 2],
    ]);
    expect(decodeTypeDef(frames[0]!.payload)).toEqual({ alias: 1, name: 'chat' });
    expect(messagesOf(frames[1]!)[0]!.header.alias).toBe(1);
    expect(messagesOf(frames[2]!)[0]!.header.alias).toBe(1);
  });

  it.each([
    ['empty', ''],
    ['over 255 UTF-8 bytes', 'ж'.repeat(128)],
    ['not a string', 7],
    ['undefined', undefined],
  ])('refuses a type name that is %s: HW_ERR_INVALID_ARGUMENT, nothing encoded, no alias taken', (_what, type) => {
    const { socket, outbound } = setup();
    expect(() => send(outbound, type, 'x')).toThrow(expect.objectContaining({ code: 'HW_ERR_INVALID_ARGUMENT' }));
    expect(outbound.queuedBytes).toBe(0);
    outbound.flush();
    expect(socket.takeFrames()).toEqual([]);
    send(outbound, 'next', 'y');
    outbound.flush();
    const frames = socket.takeFrames();
    expect(frames[0]!.type).toBe(FrameType.TYPE_DEF);
    expect(decodeTypeDef(frames[0]!.payload)).toEqual({ alias: 1, name: 'next' });
  });

  it('names a type inline over UDP until the peer has acknowledged its TYPE_DEF', () => {
    const { outbound, ack } = setup();
    const path = recordingPath();
    outbound.udpPath = path;
    outbound.send('pos', MessageKind.MESSAGE, 0, new Uint8Array([9]), { transport: 'udp' });
    outbound.flush();
    // The TYPE_DEF (sequence 0) is acknowledged by an ACK for 1.
    ack(1);
    outbound.send('pos', MessageKind.MESSAGE, 0, new Uint8Array([9]), { transport: 'udp' });
    const [before, after] = path.sent.map(({ prefix }) => readMessageHeader(prefix, 0, prefix.length, newMessageHeader()));
    expect([before!.alias, before!.inlineName]).toEqual([INLINE_TYPE, 'pos']);
    expect([after!.alias, after!.inlineName]).toEqual([1, undefined]);
  });
});

describe('Outbound: batching, compression and the window', () => {
  it('puts small messages of one flush into one BATCH frame, in order', () => {
    const { socket, outbound, counters } = setup();
    send(outbound, 'a', new Uint8Array([1]));
    send(outbound, 'a', 'text');
    outbound.send('a', MessageKind.REQUEST, 77, new Uint8Array([2]), undefined);
    outbound.flush();
    const frames = socket.takeFrames();
    expect(frames.map((frame) => frame.type)).toEqual([FrameType.TYPE_DEF, FrameType.MESSAGE]);
    expect(frames[1]!.flags & FrameFlag.BATCH).toBe(FrameFlag.BATCH);
    const entries = messagesOf(frames[1]!);
    expect(entries.map(({ header }) => [header.kind, header.encoding, header.requestId])).toEqual([
      [MessageKind.MESSAGE, Encoding.BINARY, 0],
      [MessageKind.MESSAGE, Encoding.JSON, 0],
      [MessageKind.REQUEST, Encoding.BINARY, 77],
    ]);
    expect(entries.map(({ body }) => body.toString('latin1'))).toEqual(['\u0001', '"text"', '\u0002']);
    expect(counters.tcp.messagesOut).toBe(3);
  });

  it('compresses a message past compressThreshold when lz4 is negotiated, and only then', () => {
    const big = 'abc'.repeat(400);
    for (const lz4 of [true, false]) {
      const { socket, outbound, counters } = setup({ lz4, compressThreshold: 256 });
      send(outbound, 'doc', big);
      outbound.flush();
      const message = socket.takeFrames()[1]!;
      expect((message.flags & FrameFlag.COMPRESSED) !== 0).toBe(lz4);
      expect(counters.compressedOut).toBe(lz4 ? 1 : 0);
      if (lz4) {
        const size = message.payload.readUInt32LE(0);
        const plain = lz4Decompress(message.payload.subarray(4), size);
        const header = readMessageHeader(plain, 0, plain.length, newMessageHeader());
        expect(JSON.parse(plain.subarray(header.bodyOffset).toString())).toBe(big);
      }
    }
  });

  it('holds a flush the window has no room for, and writes it once acknowledged', () => {
    const { socket, outbound, ack } = setup({ window: 2 });
    send(outbound, 'a', new Uint8Array(2000));
    outbound.flush();
    expect(socket.takeFrames().length).toBe(2);
    send(outbound, 'a', new Uint8Array(2000));
    outbound.flush();
    expect(socket.takeFrames()).toEqual([]);
    expect(outbound.hasUnsent).toBe(true);
    expect(outbound.queuedBytes).toBeGreaterThan(2000);
    ack(2);
    expect(socket.takeFrames().map((frame) => frame.sequence)).toEqual([2]);
    expect(outbound.hasUnsent).toBe(false);
    expect(outbound.queuedBytes).toBe(0);
  });

  it('returns false past highWaterMark and throws HW_ERR_SEND_QUEUE_FULL past maxQueueBytes', () => {
    const { outbound } = setup({ limits: { highWaterMark: 3000, maxQueueBytes: 6000 } });
    expect(send(outbound, 'a', new Uint8Array(2000))).toBe(true);
    expect(send(outbound, 'a', new Uint8Array(2000))).toBe(false);
    expect(outbound.needDrain).toBe(true);
    expect(() => send(outbound, 'a', new Uint8Array(2000))).toThrow(expect.objectContaining({ code: 'HW_ERR_SEND_QUEUE_FULL' }));
  });

  it('carries an owed ACK inside the data it flushes, or alone when there is none', () => {
    const { socket, outbound, window } = setup();
    window.accept(new Uint32Array([0, 0, FrameType.MESSAGE, 0, 0, 0]), 0, 1);
    outbound.oweAck();
    outbound.flush();
    expect(socket.takeFrames().map((frame) => [frame.type, frame.sequence])).toEqual([[FrameType.ACK, 1]]);
    expect(window.unacknowledged).toBe(0);
  });
});

describe('Outbound: the data slab', () => {
  /** The buffers handed to the socket, as they are (FakeSocket keeps copies). */
  function handedOut(socket: FakeSocket): Buffer[] {
    const raw: Buffer[] = [];
    const write = socket.write.bind(socket);
    socket.write = (chunk: Uint8Array) => {
      raw.push(chunk as Buffer);
      return write(chunk);
    };
    return raw;
  }

  it('is written again from its start only once the socket holds nothing of it', () => {
    const { socket, outbound } = setup();
    const raw = handedOut(socket);
    /** A flush of one BATCH frame of five 1000-byte messages, past what is joined into one write. */
    const batch = (fill: number) => {
      for (let i = 0; i < 5; i++) send(outbound, 'a', Buffer.alloc(1000, fill));
      outbound.flush();
      return raw.splice(0).at(-1)!;
    };
    // Written out at once: the next flush starts the slab over.
    const first = batch(0x61);
    const second = batch(0x62);
    expect(second.buffer).toBe(first.buffer);
    expect(second.byteOffset).toBe(first.byteOffset);
    // The socket does not write all it is given at once: what it holds must stay as it was.
    socket.writableLength = 100;
    const held = batch(0x63);
    const heldCopy = Buffer.from(held);
    batch(0x64);
    expect(held.equals(heldCopy)).toBe(true);
    expect(socket.takeFrames().filter((frame) => frame.type === FrameType.MESSAGE)).toHaveLength(4);
  });

  it("is written from its start again after the socket's 'drain', unless batches wait for the window", () => {
    const { socket, outbound, ack } = setup({ window: 2 });
    const raw = handedOut(socket);
    const batch = (fill: number) => {
      for (let i = 0; i < 5; i++) send(outbound, 'a', Buffer.alloc(1000, fill));
      outbound.flush();
    };
    const fills = () => socket.takeFrames().filter((frame) => frame.type === FrameType.MESSAGE).map((frame) => messagesOf(frame)[0]!.body[0]);
    socket.writableLength = 100;
    batch(0x61);
    expect(fills()).toEqual([0x61]);
    // The window (TYPE_DEF and a batch) is full: these wait, encoded in the slab.
    batch(0x62);
    socket.writableLength = 0;
    outbound.socketDrained();
    batch(0x63);
    ack(2);
    // The held batch goes at once; what waited behind it (the priority queue, ts/qos/send-queue.ts)
    // is encoded then and leaves with the next flush.
    outbound.flush();
    expect(fills()).toEqual([0x62, 0x63]);
    ack(4);
    raw.splice(0);
    // Nothing waits now: after 'drain' the next batch starts the slab over.
    outbound.socketDrained();
    batch(0x64);
    const [again] = raw.splice(0);
    expect(again!.byteOffset).toBe(0);
    expect(fills()).toEqual([0x64]);
  });

  it('is not written over while batches wait for the window', () => {
    const { socket, outbound, ack } = setup({ window: 2 });
    const batch = (fill: number) => {
      for (let i = 0; i < 5; i++) send(outbound, 'a', Buffer.alloc(100, fill));
      outbound.flush();
    };
    batch(0x61);
    expect(socket.takeFrames()).toHaveLength(2);
    // The window (2 frames: TYPE_DEF and the first batch) is full: these wait, encoded.
    batch(0x62);
    batch(0x63);
    expect(socket.takeFrames()).toEqual([]);
    ack(2);
    outbound.flush();
    const bodies = socket.takeFrames().flatMap((frame) => messagesOf(frame)).map(({ body }) => body[0]);
    expect(bodies).toEqual([0x62, 0x62, 0x62, 0x62, 0x62, 0x63, 0x63, 0x63, 0x63, 0x63]);
  });
});

describe('Outbound: write sizes on a TLS socket', () => {
  /** Sends `count` 64-byte messages in one synchronous burst and flushes; returns each write's frames as [type, flags, total size]. */
  function burst(encrypted: boolean, count: number) {
    const socket = Object.assign(new FakeSocket(), { encrypted });
    const outbound = new Outbound(socket.asSocket(), LIMITS, newSessionCounters());
    outbound.open(new DeliveryWindow(4096, 64), undefined);
    for (let i = 0; i < count; i++) send(outbound, 'tick', Buffer.alloc(64, i & 0xff));
    outbound.flush();
    const writes = socket.writes.map((write) => {
      // Every write holds whole frames: a decoder of its own finds them all, with nothing left over.
      const decoder = new FrameDecoder();
      const frames = decoder.push(write);
      expect(decoder.bufferedBytes).toBe(0);
      const offsets = Array.from({ length: frames }, (_, i) => decoder.payloadOffset(i) - HEADER_SIZE);
      return { length: write.length, offsets, frames: Array.from({ length: frames }, (_, i) => [decoder.type(i), decoder.flags(i), HEADER_SIZE + decoder.payloadLength(i)] as const) };
    });
    const bodies = socket.takeFrames().flatMap((frame) => (frame.type === FrameType.MESSAGE ? messagesOf(frame) : [])).map(({ body }) => body[0]);
    expect(bodies).toEqual(Array.from({ length: count }, (_, i) => i & 0xff));
    return writes;
  }
  /** What one 64-byte message takes in a BATCH frame: u32 length, 4-byte prefix, body. */
  const ENTRY = 4 + 4 + 64;

  it('fills each BATCH frame up to one TLS record, lays no frame across two records, and writes a burst in whole records', () => {
    const writes = burst(true, 20_000);
    expect(writes.length).toBeGreaterThan(20);
    const batches = writes.flatMap((write) => write.frames).filter(([, flags]) => (flags & FrameFlag.BATCH) !== 0);
    // Every BATCH frame but the last is full: no room for another entry within one record, less
    // the room kept for an ACK, a TYPE_DEF and a PADDING header.
    for (const [, , size] of batches.slice(0, -1)) {
      expect(size).toBeLessThanOrEqual(TLS_RECORD_BYTES - 3 * HEADER_SIZE);
      expect(size + ENTRY).toBeGreaterThan(TLS_RECORD_BYTES - 3 * HEADER_SIZE);
    }
    // node:tls cuts a write into records from its start, and joins writes made while one is in
    // flight: every write of the burst but the last is four whole records, and in each, every
    // frame starts and ends in the same record (PADDING frames fill the gaps).
    for (const write of writes.slice(0, -1)) expect(write.length).toBe(4 * TLS_RECORD_BYTES);
    for (const write of writes) {
      write.frames.forEach(([, , size], i) => {
        const offset = write.offsets[i]!;
        expect(Math.floor((offset + size - 1) / TLS_RECORD_BYTES)).toBe(Math.floor(offset / TLS_RECORD_BYTES));
      });
    }
  });

  it('keeps BATCH frames of up to 32 KiB on a plaintext socket', () => {
    const writes = burst(false, 20_000);
    const batches = writes.flatMap((write) => write.frames).filter(([, flags]) => (flags & FrameFlag.BATCH) !== 0);
    for (const [, , size] of batches.slice(0, -1)) {
      expect(size).toBeLessThanOrEqual(HEADER_SIZE + 32 * 1024);
      expect(size + ENTRY).toBeGreaterThan(HEADER_SIZE + 32 * 1024);
    }
  });
});

describe('Outbound: an ACK that may wait (oweAckSoon)', () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });
  /** Lets the microtasks queued so far run (the flush is one). */
  const microtasks = async () => {
    for (let i = 0; i < 5; i++) await Promise.resolve();
  };

  it('rides on data sent in the same turn, after the reaction to what came, and arms no timer', async () => {
    const { socket, outbound, window } = setup();
    window.accept(new Uint32Array([0, 0, FrameType.MESSAGE, 0, 0, 0]), 0, 1);
    // The application's reaction to what came (a reply resolving its request's promise) is queued
    // before the ACK is owed, as dispatch runs before the ACK policy; it sends the next request.
    const reacted = Promise.resolve().then(() => send(outbound, 'next', new Uint8Array([1])));
    outbound.oweAckSoon();
    await reacted;
    await microtasks();
    const frames = socket.takeFrames();
    expect(frames.filter((frame) => frame.type === FrameType.ACK).map((frame) => frame.sequence)).toEqual([1]);
    expect(frames.some((frame) => frame.type === FrameType.MESSAGE)).toBe(true);
    expect(window.unacknowledged).toBe(0);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('goes alone after the delay when no data carries it', async () => {
    const { socket, outbound, window } = setup();
    window.accept(new Uint32Array([0, 0, FrameType.MESSAGE, 0, 0, 0]), 0, 1);
    outbound.oweAckSoon();
    await microtasks();
    expect(socket.takeFrames()).toEqual([]);
    expect(vi.getTimerCount()).toBe(1);
    vi.advanceTimersByTime(1);
    await microtasks();
    expect(socket.takeFrames().map((frame) => [frame.type, frame.sequence])).toEqual([[FrameType.ACK, 1]]);
    expect(window.unacknowledged).toBe(0);
  });

  it('is not sent after the session stopped', async () => {
    const { socket, outbound, window } = setup();
    window.accept(new Uint32Array([0, 0, FrameType.MESSAGE, 0, 0, 0]), 0, 1);
    outbound.oweAckSoon();
    await microtasks();
    outbound.stop();
    expect(vi.getTimerCount()).toBe(0);
    await microtasks();
    expect(socket.takeFrames()).toEqual([]);
  });
});

describe('Outbound: replies', () => {
  it('sends a reply over UDP the way its request came, and counts one that cannot go out', () => {
    const { outbound, counters } = setup();
    const path = recordingPath();
    outbound.udpPath = path;
    outbound.sendReply(MessageKind.RESPONSE, 5, 'ok', { transport: 'udp' });
    expect(path.sent.length).toBe(1);
    outbound.udpPath = recordingPath(new HybridwireError('HW_ERR_SEND_QUEUE_FULL', 'full'));
    outbound.sendReply(MessageKind.RESPONSE, 6, 'ok', { transport: 'udp' });
    expect(counters.udp.dropped).toBe(1);
  });

  it('rethrows a failure of a UDP reply that is not an expected one', () => {
    const { outbound, counters } = setup();
    const bug = new TypeError('bug');
    outbound.udpPath = recordingPath(bug);
    expect(() => outbound.sendReply(MessageKind.RESPONSE, 6, 'ok', { transport: 'udp' })).toThrow(bug);
    expect(counters.udp.dropped).toBe(0);
  });

  it('throws, having encoded nothing, for a reply JSON cannot encode', () => {
    const { socket, outbound } = setup();
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    expect(() => outbound.sendReply(MessageKind.RESPONSE, 1, cyclic as never, undefined)).toThrow(TypeError);
    outbound.flush();
    expect(socket.takeFrames()).toEqual([]);
  });
});

describe('Outbound: priorities', () => {
  /** A session whose socket reports itself full with 128 KiB unsent (a slow reader). */
  function congested() {
    const totals = newQosTotals();
    const setupResult = setup({ limits: { qos: { sendLimit: undefined, receiveLimit: undefined, receiveLimits: [], totals } } });
    const { socket, outbound } = setupResult;
    socket.full = true;
    socket.writableLength = 128 * 1024;
    send(outbound, 'a', Buffer.from([0]));
    outbound.flush();
    socket.takeFrames();
    return { ...setupResult, totals };
  }
  const bodies = (socket: FakeSocket) =>
    socket
      .takeFrames()
      .filter((frame) => frame.type === FrameType.MESSAGE)
      .flatMap((frame) => messagesOf(frame))
      .map(({ body }) => body[0]);

  it('encodes normal messages at once while the socket is congested, as long as no other priority was asked for', () => {
    const { socket, outbound, totals } = congested();
    for (let i = 1; i <= 3; i++) send(outbound, 'a', Buffer.from([i]));
    outbound.flush();
    // Written behind what the socket holds, in order; nothing waited unencoded.
    expect(bodies(socket)).toEqual([1, 2, 3]);
    expect(totals).toMatchObject({ queued: [0, 0, 0], waiting: [0, 0, 0], sent: [0, 4, 0] });
  });

  it('queues every message from the first send with another priority, and high ones overtake what waits', () => {
    const { socket, outbound, totals } = congested();
    outbound.send('a', MessageKind.MESSAGE, 0, Buffer.from([1]), { priority: 'low' });
    send(outbound, 'a', Buffer.from([2]));
    outbound.send('a', MessageKind.MESSAGE, 0, Buffer.from([3]), { priority: 'high' });
    outbound.flush();
    expect(bodies(socket)).toEqual([]);
    expect(totals.waiting).toEqual([1, 1, 1]);
    socket.full = false;
    socket.writableLength = 0;
    outbound.socketDrained();
    outbound.flush();
    expect(bodies(socket)).toEqual([3, 2, 1]);
    expect(totals).toMatchObject({ queued: [1, 1, 1], waiting: [0, 0, 0] });
  });
});
