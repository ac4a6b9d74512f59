import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { FrameEncoder, FrameFlag, FrameType } from '../../ts/index.js';
import {
  Reliability,
  ReassemblyBudget,
  ReliableEndpoint,
  type ReliabilityValue,
  type ReliableEndpointOptions,
} from '../../ts/reliable/reliable-endpoint.js';
import { SOCKET_ROW_WIDTH, SocketRow } from '../../ts/native/layouts.js';
import { pseudoRandomBytes as pattern } from '../support/bytes.js';

// Two endpoints joined by an in-memory link with a fixed one-way latency, on a fake clock: every
// test is deterministic and takes no real time.

const TOKEN_A = Buffer.from('AAAAAAAA');
const TOKEN_B = Buffer.from('BBBBBBBB');

interface Received {
  payload: Buffer;
  channel: number;
  reliability: ReliabilityValue;
}

interface FrameInfo {
  type: number;
  flags: number;
  channel: number;
  sequence: number;
  length: number;
}

/** The frames of a datagram (token included), as the link sees them. */
function framesOf(datagram: Buffer): FrameInfo[] {
  const frames: FrameInfo[] = [];
  for (let at = 8; at + 16 <= datagram.length; ) {
    const length = datagram.readUInt32LE(at + 8);
    frames.push({
      type: datagram[at + 1]!,
      flags: datagram[at + 2]!,
      channel: datagram[at + 3]!,
      sequence: datagram.readUInt32LE(at + 4),
      length,
    });
    at += 16 + length;
  }
  return frames;
}

type Filter = (datagram: Buffer, from: 'a' | 'b') => boolean;

class Link {
  readonly a: ReliableEndpoint;
  readonly b: ReliableEndpoint;
  readonly atA: Received[] = [];
  readonly atB: Received[] = [];
  /** Returns false to drop a datagram. */
  filter: Filter = () => true;
  /** Extra milliseconds a datagram spends on the way, on top of the latency. */
  delay: (datagram: Buffer, from: 'a' | 'b') => number = () => 0;
  sentByA: Buffer[] = [];
  sentByB: Buffer[] = [];

  constructor(
    readonly latencyMs: number,
    optionsA: Partial<ReliableEndpointOptions> = {},
    optionsB: Partial<ReliableEndpointOptions> = optionsA,
  ) {
    const now = () => Date.now();
    this.a = new ReliableEndpoint({
      now,
      ...optionsA,
      token: TOKEN_A,
      onDatagram: (d) => this.carry(Buffer.from(d), 'a'),
    });
    this.b = new ReliableEndpoint({
      now,
      ...optionsB,
      token: TOKEN_B,
      onDatagram: (d) => this.carry(Buffer.from(d), 'b'),
    });
    this.a.on('message', (payload, channel, reliability) => this.atA.push({ payload: Buffer.from(payload), channel, reliability }));
    this.b.on('message', (payload, channel, reliability) => this.atB.push({ payload: Buffer.from(payload), channel, reliability }));
  }

  private carry(datagram: Buffer, from: 'a' | 'b'): void {
    (from === 'a' ? this.sentByA : this.sentByB).push(datagram);
    if (!this.filter(datagram, from)) return;
    const to = from === 'a' ? this.b : this.a;
    const token = from === 'a' ? TOKEN_A : TOKEN_B;
    expect(datagram.subarray(0, 8).equals(token)).toBe(true);
    setTimeout(() => to.receive(datagram.subarray(8)), this.latencyMs + this.delay(datagram, from));
  }

  close(): void {
    this.a.close();
    this.b.close();
  }
}

/** Advances the fake clock a millisecond at a time until `done()`; fails after `limitMs`. */
function runUntil(done: () => boolean, limitMs = 60_000): number {
  const start = Date.now();
  while (!done()) {
    if (Date.now() - start > limitMs) throw new Error(`condition not met within ${limitMs} ms of simulated time`);
    vi.advanceTimersByTime(1);
  }
  return Date.now() - start;
}


/** The index of the first delivered payload that differs from the one sent, or -1 if none. */
function firstDifference(delivered: Buffer[], sent: Buffer[]): number {
  // Buffer.equals, not toEqual: a deep comparison of large buffers takes seconds.
  for (let i = 0; i < Math.max(delivered.length, sent.length); i++) {
    if (delivered[i] === undefined || sent[i] === undefined || !delivered[i]!.equals(sent[i]!)) return i;
  }
  return -1;
}

function reliableFrame(sequence: number, payload: Buffer, channel = 0, flags: number = FrameFlag.RELIABLE): Buffer {
  return new FrameEncoder().encodeToBuffer([{ type: FrameType.MESSAGE, flags, channel, sequence, payload }]);
}

function fragmentFrame(sequence: number, message: Buffer, index: number, count: number, flags: number): Buffer {
  const size = Math.ceil(message.length / count);
  const prefix = Buffer.alloc(12);
  prefix.writeUInt32LE(message.length, 0);
  prefix.writeUInt32LE(index, 4);
  prefix.writeUInt32LE(count, 8);
  const data = message.subarray(index * size, Math.min(message.length, (index + 1) * size));
  return new FrameEncoder().encodeToBuffer([
    { type: FrameType.MESSAGE, flags: flags | FrameFlag.FRAGMENT, channel: 0, sequence, payload: Buffer.concat([prefix, data]) },
  ]);
}

describe('ReliableEndpoint', () => {
  let link: Link | undefined;

  beforeEach(() => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'setImmediate', 'clearImmediate', 'Date'] });
  });

  afterEach(() => {
    link?.close();
    link = undefined;
    vi.useRealTimers();
  });

  it('delivers reliable ordered, reliable unordered and unreliable messages intact', () => {
    link = new Link(5);
    const ordered = Array.from({ length: 50 }, (_, i) => pattern(1 + i * 97, i));
    for (const payload of ordered) expect(link.a.send(payload, { reliable: true, channel: 3 })).toBe(true);
    link.a.send(Buffer.from('unordered'), { reliable: true, ordered: false, channel: 3 });
    link.a.send(Buffer.from('datagram'), { channel: 9 });
    runUntil(() => link!.atB.length === 52);
    const onChannel3 = link.atB.filter((m) => m.reliability === Reliability.RELIABLE_ORDERED);
    expect(firstDifference(onChannel3.map((m) => m.payload), ordered)).toBe(-1);
    expect(onChannel3.every((m) => m.channel === 3)).toBe(true);
    expect(link.atB.find((m) => m.reliability === Reliability.RELIABLE_UNORDERED)?.payload.toString()).toBe('unordered');
    const unreliable = link.atB.find((m) => m.reliability === Reliability.UNRELIABLE)!;
    expect([unreliable.payload.toString(), unreliable.channel]).toEqual(['datagram', 9]);
    runUntil(() => link!.a.stats().messagesInFlight === 0);
    const a = link.a.stats();
    expect(a.sendBufferBytes).toBe(0);
    expect(a.bytesInFlight).toBe(0);
  });

  it('takes a run of a lent socket batch in one call: stops at another token or sender and at its limits, and copies what it delivers', () => {
    // A session's endpoints write the same token both ways, as here.
    const token = Buffer.from('SESSION1');
    const datagrams: Buffer[] = [];
    const sender = new ReliableEndpoint({ token, onDatagram: (d) => datagrams.push(Buffer.from(d)) });
    const receiver = new ReliableEndpoint({ token, onDatagram: () => {} });
    const delivered: Buffer[] = [];
    receiver.on('message', (payload) => delivered.push(payload));
    try {
      // Small messages sharing datagrams, one of 1144 bytes (whole in a datagram) and large ones
      // that are fragmented and reassembled (delivered in Buffers of their own); unreliable, so
      // that all leave at once, whatever the congestion window.
      const sent = [...Array.from({ length: 40 }, (_, i) => pattern(10 + i, i)), pattern(1144, 77), pattern(5000, 78), pattern(70_000, 79)];
      for (const payload of sent) sender.send(payload, { channel: 1 });
      sender.flush();
      const foreign = Buffer.concat([Buffer.from('SESSION2'), datagrams[0]!.subarray(8)]);
      const run = [...datagrams];
      run.splice(3, 0, foreign);
      run.push(datagrams[0]!); // a copy, from another sender (below)
      // Lay the batch out as the socket does: datagrams back to back, a socket row each.
      const bytes = Buffer.concat([Buffer.alloc(3), ...run]);
      const rows = new Uint32Array(run.length * SOCKET_ROW_WIDTH);
      for (let i = 0, offset = 3; i < run.length; offset += run[i]!.length, i++) {
        const base = i * SOCKET_ROW_WIDTH;
        rows[base + SocketRow.OFFSET] = offset;
        rows[base + SocketRow.LENGTH] = run[i]!.length;
        rows[base + SocketRow.PORT] = 4000;
        rows[base + SocketRow.SENDER] = 0;
      }
      rows[(run.length - 1) * SOCKET_ROW_WIDTH + SocketRow.SENDER] = 1; // the last one from another sender

      expect(receiver.receiveRows(bytes, rows, 0, run.length, 1000, 1 << 20)).toBe(3);
      expect(receiver.lastBytes).toBe(run[0]!.length + run[1]!.length + run[2]!.length);
      expect(receiver.receiveRows(bytes, rows, 4, run.length, 2, 1 << 20)).toBe(6);
      let index = 6;
      while (index < run.length - 1) index = receiver.receiveRows(bytes, rows, index, run.length, 1000, 1 << 20);
      expect(index).toBe(run.length - 1);
      // What it delivered does not share the lent bytes.
      bytes.fill(0xee);
      token.copy(bytes, rows[(run.length - 1) * SOCKET_ROW_WIDTH + SocketRow.OFFSET]!);
      expect(receiver.receiveRows(bytes, rows, run.length - 1, run.length, 1000, 1 << 20)).toBe(run.length);
      expect(firstDifference(delivered, sent)).toBe(-1);
      // The last one, overwritten but for its token, is refused.
      const drops = receiver.stats().drops;
      expect(drops.badChecksum + drops.malformed).toBe(1);
    } finally {
      sender.close();
      receiver.close();
    }
  });

  it('coalesces small messages into few datagrams and piggybacks acks', () => {
    link = new Link(5);
    for (let i = 0; i < 100; i++) link.a.send(pattern(20, i), { reliable: true });
    runUntil(() => link!.atB.length === 100);
    // 100 frames of 36 bytes fit in 4 datagrams of 1200 bytes.
    expect(link.sentByA.length).toBeLessThanOrEqual(4);
    // Messages both ways: B's data carries its acks.
    link.sentByA = [];
    link.sentByB = [];
    for (let i = 0; i < 10; i++) {
      link.a.send(pattern(20, i), { reliable: true });
      link.b.send(pattern(20, i), { reliable: true });
      vi.advanceTimersByTime(1);
    }
    runUntil(() => link!.atA.length === 10 && link!.atB.length === 110);
    const piggybacked = link.sentByB.filter((d) => {
      const types = framesOf(d).map((f) => f.type);
      return types.includes(FrameType.ACK) && types.includes(FrameType.MESSAGE);
    });
    expect(piggybacked.length).toBeGreaterThan(0);
  });

  it('discovers the path MTU: larger sizes are probed, lost ones given up, and the largest acknowledged is used for new datagrams', () => {
    // A path that carries 4,100 bytes: 9000 and 8952 are lost three times each, 4096 gets through.
    link = new Link(5, { maxMtu: 9000 });
    link.filter = (datagram) => datagram.length <= 4100;
    link.a.send(Buffer.from('start'), { reliable: true });
    runUntil(() => link!.a.stats().pathMtu === 4096);
    const stats = link.a.stats();
    expect([stats.mtuProbesSent, stats.mtuProbesLost]).toEqual([7, 6]);
    // b searches too, for its own direction.
    runUntil(() => link!.b.stats().pathMtu === 4096);
    link.sentByA = [];
    const message = pattern(20_000, 9);
    link.a.send(message, { reliable: true });
    runUntil(() => link!.atB.length === 2);
    expect(link.atB[1]!.payload.equals(message)).toBe(true);
    const sizes = link.sentByA.map((d) => d.length);
    // Full datagrams keep room for an acknowledgement (32 bytes) that may ride along.
    expect(Math.max(...sizes)).toBeLessThanOrEqual(4096);
    expect(sizes.filter((size) => size >= 4096 - 32).length).toBeGreaterThanOrEqual(4);
    expect(link.b.stats().drops.malformed).toBe(0);
  });

  it('a flush through onDatagrams sends everything due, however few datagrams of the discovered size fit a slab', () => {
    const token = Buffer.from('SESSION1');
    const toB: Buffer[] = [];
    const toA: Buffer[] = [];
    const batch = (queue: Buffer[]) => (slab: Buffer, offset: number, lengths: Uint32Array, count: number) => {
      for (let i = 0, at = offset; i < count; at += lengths[i]! & 0x7fffffff, i++) queue.push(Buffer.from(slab.subarray(at, at + (lengths[i]! & 0x7fffffff))));
    };
    const a = new ReliableEndpoint({ token, maxMtu: 65507, onDatagrams: batch(toB), sendBufferBytes: 8 << 20 });
    const b = new ReliableEndpoint({ token, onDatagrams: batch(toA) });
    let got = 0;
    b.on('message', () => got++);
    try {
      a.flush();
      for (const d of toB.splice(0)) b.receive(d.subarray(8));
      b.flush();
      for (const d of toA.splice(0)) a.receive(d.subarray(8));
      expect(a.stats().pathMtu).toBe(65507);
      // Unreliable: nothing comes back to prompt another flush, so one flush must send it all.
      for (let i = 0; i < 300; i++) expect(a.send(pattern(16_384, i))).toBe(true);
      a.flush();
      expect(toB.length).toBeGreaterThanOrEqual(75);
      for (const d of toB.splice(0)) b.receive(d.subarray(8));
      expect(got).toBe(300);
    } finally {
      a.close();
      b.close();
    }
  });

  it('a flush from inside another endpoint\'s onDatagrams does not overwrite the datagrams still being handed out', () => {
    // Two endpoints joined synchronously; b answers each message at once and flushes.
    const token = Buffer.from('SESSION1');
    const forward = (to: () => ReliableEndpoint) => (slab: Buffer, offset: number, lengths: Uint32Array, count: number) => {
      for (let i = 0, at = offset; i < count; at += lengths[i]! & 0x7fffffff, i++) {
        to().receive(Buffer.from(slab.subarray(at + 8, at + (lengths[i]! & 0x7fffffff))));
      }
    };
    // Each names the other, which exists by the time a datagram flows.
    const a: ReliableEndpoint = new ReliableEndpoint({ token, onDatagrams: forward(() => b) });
    const b: ReliableEndpoint = new ReliableEndpoint({ token, onDatagrams: forward(() => a) });
    const atA: string[] = [];
    const atB: string[] = [];
    b.on('message', (m) => {
      atB.push(m.subarray(0, 5).toString());
      b.send(Buffer.from(`reply-${m.subarray(0, 5).toString()}`));
      b.flush();
    });
    a.on('message', (m) => atA.push(m.toString()));
    try {
      // Unreliable, a datagram each, so that one flush of a carries several.
      for (let i = 0; i < 5; i++) a.send(Buffer.concat([Buffer.from(`msg${i}:`), Buffer.alloc(1100, 0x61)]));
      a.flush();
      expect(atB).toEqual(['msg0:', 'msg1:', 'msg2:', 'msg3:', 'msg4:']);
      expect(atA).toEqual(['reply-msg0:', 'reply-msg1:', 'reply-msg2:', 'reply-msg3:', 'reply-msg4:']);
      expect(b.stats().drops.malformed).toBe(0);
    } finally {
      a.close();
      b.close();
    }
  });

  it('bounds the memory its receive rings take: far frames in many channels are refused past the budget, and accepted once rings are freed', () => {
    const b = new ReliableEndpoint({ token: TOKEN_B, onDatagram: () => {} });
    const got: string[] = [];
    b.on('message', (payload) => got.push(payload.toString()));
    try {
      // One frame 16383 ahead in each of 256 channels: each would need a ring of the full span.
      for (let channel = 0; channel < 256; channel++) b.receive(reliableFrame(16383, Buffer.from(`far ${channel}`), channel));
      const refused = b.stats().drops.windowOverflow;
      expect(refused).toBeGreaterThan(240);
      expect(refused).toBeLessThan(256);
      // Channel 0's gap fills: its message and everything before it are delivered, its ring is freed...
      for (let seq = 0; seq < 16383; seq++) b.receive(reliableFrame(seq, Buffer.from('x'), 0));
      expect(got.at(-1)).toBe('far 0');
      // ...so the last channel's far frame, refused before, now finds room.
      b.receive(reliableFrame(16383, Buffer.from('far 255'), 255));
      expect(b.stats().drops.windowOverflow).toBe(refused);
    } finally {
      b.close();
    }
  });

  it('takes a probe\'s answer that comes after the probe was counted lost', () => {
    link = new Link(5, { maxMtu: 9000 });
    // Answers take 1.5 s: the first probe (sent before any round-trip sample, so waited for about
    // 1.3 s) is counted lost, and so are the next ones (100 ms each once the RTT is known).
    link.delay = (datagram) => (framesOf(datagram).some((f) => f.type === FrameType.MTU_ACK) ? 1500 : 0);
    link.a.send(Buffer.from('x'), { reliable: true });
    runUntil(() => link!.a.stats().pathMtu === 9000);
    expect(link.a.stats().mtuProbesLost).toBeGreaterThanOrEqual(1);
  });

  it('keeps the discovered size through persistent congestion when a probe of that size still gets through (not a black hole)', () => {
    link = new Link(5, { maxMtu: 9000, minRtoMs: 10 });
    link.a.send(Buffer.from('x'), { reliable: true });
    runUntil(() => link!.a.stats().pathMtu === 9000);
    // Everything but probes and their answers is lost for a while: three timeouts in a row.
    const isProbe = (datagram: Buffer) => framesOf(datagram).some((f) => f.type === FrameType.MTU_PROBE || f.type === FrameType.MTU_ACK);
    link.filter = isProbe;
    link.a.send(Buffer.from('held up'), { reliable: true });
    const probesBefore = link.a.stats().mtuProbesSent;
    runUntil(() => link!.a.stats().timeouts >= 3 && link!.a.stats().mtuProbesSent > probesBefore);
    runUntil(() => link!.a.stats().mtuProbesSent === probesBefore + 1 && link!.a.stats().mtuProbesLost === 0, 1000);
    link.filter = () => true;
    runUntil(() => link!.atB.length === 2);
    expect(link.atB.map((m) => m.payload.toString())).toEqual(['x', 'held up']);
    expect(link.a.stats().pathMtu).toBe(9000);
  });

  it('a replayed answer to the probe that found the size does not clear a suspected black hole', () => {
    link = new Link(5, { maxMtu: 9000, minRtoMs: 10 });
    link.a.send(Buffer.from('x'), { reliable: true });
    runUntil(() => link!.a.stats().pathMtu === 9000);
    const answer = link.sentByB.find((d) => framesOf(d).some((f) => f.type === FrameType.MTU_ACK))!;
    // Nothing gets through; while the size is being confirmed, the old answer comes again.
    link.filter = () => false;
    link.a.send(Buffer.from('lost'), { reliable: true });
    runUntil(() => link!.a.stats().timeouts >= 3 && link!.a.stats().mtuProbesSent >= 2);
    link.a.receive(answer.subarray(8));
    runUntil(() => link!.a.stats().pathMtu === 1200);
  });

  it('keeps the base datagram size when probes go unanswered, falls back to it when nothing gets through, and searches again', () => {
    link = new Link(5, { maxMtu: 9000, minRtoMs: 10 });
    // Probes never arrive: the peer's answers are what a peer that skips the type would send.
    link.filter = (datagram) => !framesOf(datagram).some((f) => f.type === FrameType.MTU_PROBE);
    link.a.send(Buffer.from('hello'), { reliable: true });
    runUntil(() => link!.a.stats().mtuProbesLost === 15); // 9000, 8952, 4096, 1452, 1280, three times each
    expect(link.a.stats().pathMtu).toBe(1200);
    expect(link.atB.map((m) => m.payload.toString())).toEqual(['hello']);

    // Now probes get through: 9000 is found (the search restarts after its raise interval, but a
    // new link is quicker to set up than ten simulated minutes).
    link.close();
    link = new Link(5, { maxMtu: 9000, minRtoMs: 10 });
    link.a.send(Buffer.from('x'), { reliable: true });
    runUntil(() => link!.a.stats().pathMtu === 9000);
    // Then nothing gets through for a while: persistent congestion (three timeouts) may mean a
    // black hole for the large size, so the size falls back to the base.
    link.filter = () => false;
    link.a.send(Buffer.from('lost for now'), { reliable: true });
    runUntil(() => link!.a.stats().pathMtu === 1200);
    // The window collapses to two datagrams of the base size, not of the size given up.
    expect(link.a.stats().congestionWindow).toBe(2 * 1200);
    // The path comes back carrying only 1,300 bytes: everything arrives, and the renewed search
    // (a second after the fall) settles on the 1280 plateau.
    link.filter = (datagram) => datagram.length <= 1300;
    const sent = Array.from({ length: 300 }, (_, i) => pattern(50, i));
    for (const payload of sent) link.a.send(payload, { reliable: true, channel: 4 });
    runUntil(() => link!.atB.length === 302, 120_000);
    expect(link.atB.filter((m) => m.channel === 0).map((m) => m.payload.toString())).toEqual(['x', 'lost for now']);
    expect(firstDifference(link.atB.filter((m) => m.channel === 4).map((m) => m.payload), sent)).toBe(-1);
    runUntil(() => link!.a.stats().pathMtu === 1280);
    // This link: two probes of 9000 confirming the black hole, then 9000, 8952, 4096 and 1452
    // three times each.
    expect(link.a.stats().mtuProbesLost).toBe(2 + 12);
  });

  it('estimates the round-trip time from acknowledgements', () => {
    link = new Link(10);
    for (let i = 0; i < 40; i++) {
      link.a.send(pattern(100, i), { reliable: true });
      vi.advanceTimersByTime(7);
    }
    runUntil(() => link!.a.stats().messagesInFlight === 0);
    const stats = link.a.stats();
    // 10 ms each way; the receiver's ack delay is reported and subtracted.
    expect(stats.minRttMs).toBeGreaterThanOrEqual(20);
    expect(stats.rttMs).toBeGreaterThanOrEqual(20);
    expect(stats.rttMs).toBeLessThan(25);
    expect(stats.rttVarianceMs).toBeLessThan(10);
    // Timeout: srtt + max(4 rttvar, 1 ms) + max ack delay, above the 100 ms minimum here.
    expect(stats.rtoMs).toBe(100);
  });

  it('retransmits a lost message after the retransmission timeout', () => {
    link = new Link(5, { minRtoMs: 50 });
    let dropped = 0;
    link.filter = (d, from) => !(from === 'a' && framesOf(d).some((f) => f.type === FrameType.MESSAGE) && dropped++ === 0);
    link.a.send(Buffer.from('lonely'), { reliable: true });
    const elapsed = runUntil(() => link!.atB.length === 1);
    expect(link.atB[0]!.payload.toString()).toBe('lonely');
    const stats = link.a.stats();
    expect(stats.timeouts).toBe(1);
    expect(stats.retransmissions).toBe(1);
    // Nothing to learn from before the first sample: the first timeout is the 333 ms initial RTT's.
    expect(elapsed).toBeGreaterThanOrEqual(1000);
  });

  it('probes a lost tail after about two round trips, not the minimum RTO', () => {
    link = new Link(10, { minRtoMs: 2000 });
    link.a.send(Buffer.from('first'), { reliable: true });
    runUntil(() => link!.atB.length === 1 && link!.a.stats().messagesInFlight === 0);
    let dropped = 0;
    link.filter = (d, from) => !(from === 'a' && framesOf(d).some((f) => f.type === FrameType.MESSAGE) && dropped++ === 0);
    link.a.send(Buffer.from('tail'), { reliable: true });
    const elapsed = runUntil(() => link!.atB.length === 2);
    const stats = link.a.stats();
    expect(stats.timeouts).toBe(1);
    expect(stats.retransmissions).toBe(1);
    // 2 x 20 ms + 1 ms + the 10 ms the peer may delay a lone ack, then 10 ms to the peer.
    expect(elapsed).toBeLessThan(100);
    expect(stats.rtoMs).toBe(2000);
  });

  it('retransmits quickly on evidence of loss (fast retransmit), without a timeout', () => {
    link = new Link(5, { minRtoMs: 1000 });
    // Establish an RTT first.
    link.a.send(Buffer.from('hello'), { reliable: true });
    runUntil(() => link!.atB.length === 1 && link!.a.stats().messagesInFlight === 0);
    let count = 0;
    link.filter = (d, from) => !(from === 'a' && framesOf(d).some((f) => f.type === FrameType.MESSAGE) && ++count === 3);
    const messages = Array.from({ length: 20 }, (_, i) => pattern(1000, i));
    for (const m of messages) link.a.send(m, { reliable: true });
    const elapsed = runUntil(() => link!.atB.length === 21);
    expect(firstDifference(link.atB.slice(1).map((m) => m.payload), messages)).toBe(-1);
    const stats = link.a.stats();
    expect(stats.lost).toBeGreaterThanOrEqual(1);
    expect(stats.retransmissions).toBeGreaterThanOrEqual(1);
    expect(stats.timeouts).toBe(0);
    expect(elapsed).toBeLessThan(100);
  });

  describe('reordering', () => {
    let control: Link | undefined;

    afterEach(() => {
      control?.close();
      control = undefined;
    });

    /** Data datagrams from A for which `late(n)` (n counts them from 1) holds arrive `extraMs` late. */
    const hold = (late: (n: number) => boolean, extraMs: number) => {
      let carried = 0;
      return (d: Buffer, from: 'a' | 'b') =>
        from === 'a' && framesOf(d).some((f) => f.type === FrameType.MESSAGE) && late(++carried) ? extraMs : 0;
    };
    /** Two links with a measured RTT of 10 ms: one that keeps order, and `link`. */
    const links = () => {
      control = new Link(5, { minRtoMs: 1000 });
      link = new Link(5, { minRtoMs: 1000 });
      for (const target of [control, link]) {
        target.a.send(Buffer.from('hello'), { reliable: true });
        runUntil(() => target.atB.length === 1 && target.a.stats().messagesInFlight === 0);
      }
      return [control, link] as const;
    };
    const transfer = (target: Link, count: number, seed: number) => {
      const messages = Array.from({ length: count }, (_, i) => pattern(1000, seed + i));
      const before = target.atB.length;
      for (const m of messages) target.a.send(m, { reliable: true });
      runUntil(() => target.atB.length === before + count && target.a.stats().messagesInFlight === 0);
      expect(firstDifference(target.atB.slice(before).map((m) => m.payload), messages)).toBe(-1);
    };

    // Every other datagram in a stretch arrives 4 ms (0.4 round trips) late. The first of them
    // are declared lost together (the datagrams between them are acknowledged first): over a tenth
    // of a round, a congestion event, and in slow start a cut leaves the window far below the clean
    // link's. But their acknowledgements come sooner after the retransmissions than the minimum
    // RTT, so what arrived was the originals. From the 20th datagram, that is known while the
    // round that counted the losses is still open; from the 40th, that round has closed and cut
    // the window by then, and the cut is undone.
    it.each([
      ['while their round is open', 20],
      ['after their round cut the window', 40],
    ])('takes back losses that turn out to be reordering, %s', (_, first) => {
      const [clean, reordered] = links();
      reordered.delay = hold((n) => n >= first && n < first + 40 && n % 2 === 0, 4);
      transfer(clean, 400, 0);
      transfer(reordered, 400, 0);
      const stats = reordered.a.stats();
      expect(stats.lost).toBeGreaterThanOrEqual(5);
      expect(stats.spuriousLosses).toBe(stats.lost);
      // Not equal: acknowledgements that come late, once the sender has run out of data, do not
      // grow the window.
      expect(stats.congestionWindow).toBeGreaterThan(0.5 * clean.a.stats().congestionWindow);
    });

    it('widens its reordering window until reordering no longer causes retransmissions', () => {
      const [clean, reordered] = links();
      // Every tenth datagram arrives 4 ms late.
      reordered.delay = hold((n) => n % 10 === 0, 4);
      transfer(clean, 300, 0);
      transfer(reordered, 300, 0);
      const learned = reordered.a.stats();
      expect(learned.lost).toBeGreaterThan(0);
      expect(learned.spuriousLosses).toBe(learned.lost);
      // The same reordering costs nothing now: nothing declared lost, nothing sent twice.
      transfer(clean, 300, 300);
      transfer(reordered, 300, 300);
      const after = reordered.a.stats();
      expect(after.lost).toBe(learned.lost);
      expect(after.retransmissions).toBe(learned.retransmissions);
      expect(after.congestionWindow).toBeGreaterThan(0.5 * clean.a.stats().congestionWindow);
    });

    it('still backs off when losses are real', () => {
      const [clean, lossy] = links();
      // One data datagram in five dropped: 20%, over the 10% a round tolerates.
      let carried = 0;
      lossy.filter = (d, from) => !(from === 'a' && framesOf(d).some((f) => f.type === FrameType.MESSAGE) && ++carried % 5 === 0);
      transfer(clean, 600, 0);
      transfer(lossy, 600, 0);
      const stats = lossy.a.stats();
      expect(stats.lost).toBeGreaterThan(100);
      expect(stats.spuriousLosses).toBe(0);
      expect(stats.congestionWindow).toBeLessThan(clean.a.stats().congestionWindow / 2);
    });
  });

  it('keeps one message in flight in step-by-step mode (window 1)', () => {
    link = new Link(5, { window: 1 });
    let maxInFlight = 0;
    const original = link.filter;
    link.filter = (d, from) => {
      maxInFlight = Math.max(maxInFlight, link!.a.stats().messagesInFlight);
      return original(d, from);
    };
    for (let i = 0; i < 5; i++) link.a.send(pattern(3000, i), { reliable: true });
    runUntil(() => link!.atB.length === 5);
    expect(maxInFlight).toBe(1);
    expect(firstDifference(link.atB.map((m) => m.payload), Array.from({ length: 5 }, (_, i) => pattern(3000, i)))).toBe(-1);
  });

  it('returns false when the send buffer is full, then emits drain', () => {
    link = new Link(5, { sendBufferBytes: 8192 });
    link.filter = () => false; // the peer is unreachable for now
    let accepted = 0;
    while (link.a.send(pattern(1000, accepted), { reliable: true })) accepted++;
    expect(accepted).toBe(7); // 7 x (1000 + 64 bytes of bookkeeping) fit in 8192
    expect(link.a.send(Buffer.alloc(10), { reliable: true })).toBe(false);
    expect(link.a.stats().sendBufferBytes).toBeLessThanOrEqual(8192 + 1010);
    let drained = false;
    link.a.on('drain', () => (drained = true));
    vi.advanceTimersByTime(500);
    expect(drained).toBe(false);
    link.filter = () => true;
    runUntil(() => drained);
    runUntil(() => link!.atB.length === 9);
    expect(link.atB.at(-1)!.payload).toEqual(Buffer.alloc(10));
  });

  it('applies the overflow policies', () => {
    link = new Link(5, { sendBufferBytes: 4096, overflow: 'error' });
    link.filter = () => false;
    while (link.a.send(pattern(1000, 1), { reliable: true, overflow: 'wait' })) {
      /* fill */
    }
    expect(() => link!.a.send(Buffer.alloc(1000), { reliable: true })).toThrow(
      expect.objectContaining({ code: 'HW_ERR_SEND_QUEUE_FULL' }),
    );
    // Unreliable messages queued in the same turn are dropped, oldest first, for newer ones.
    const other = new ReliableEndpoint({ token: TOKEN_A, onDatagram: () => {}, sendBufferBytes: 4096, now: () => Date.now() });
    for (let i = 0; i < 3; i++) expect(other.send(pattern(1000, i))).toBe(true);
    expect(other.send(pattern(1000, 3), { overflow: 'drop-oldest-unreliable' })).toBe(false);
    expect(other.stats().drops.sendBuffer).toBe(1);
    expect(() => other.send(Buffer.alloc(5000))).toThrow(expect.objectContaining({ code: 'HW_ERR_FRAME_TOO_LARGE' }));
    other.close();
  });

  it('suppresses duplicates, reliable and unreliable', () => {
    link = new Link(5);
    const copies: Buffer[] = [];
    link.filter = (d, from) => {
      if (from === 'a') copies.push(d);
      return true;
    };
    link.a.send(Buffer.from('once'), { reliable: true });
    link.a.send(Buffer.from('also once'));
    runUntil(() => link!.atB.length === 2);
    for (const copy of copies) link.b.receive(copy.subarray(8));
    vi.advanceTimersByTime(100);
    expect(link.atB.map((m) => m.payload.toString()).sort()).toEqual(['also once', 'once']);
    expect(link.b.stats().drops.duplicate).toBe(2);
  });

  it('bounds the reorder buffer and holds out-of-order messages until the gap fills', () => {
    link = new Link(5);
    const b = link.b;
    // The span (16384 by default) bounds how far ahead a frame may be.
    b.receive(reliableFrame(16384, Buffer.from('far ahead')));
    expect(b.stats().drops.windowOverflow).toBe(1);
    b.receive(reliableFrame(2, Buffer.from('two')));
    b.receive(reliableFrame(1, Buffer.from('one')));
    expect(link.atB).toHaveLength(0);
    expect(b.stats().reassemblyBytes).toBe(3 + 64 + 3 + 64);
    b.receive(reliableFrame(0, Buffer.from('zero')));
    expect(link.atB.map((m) => m.payload.toString())).toEqual(['zero', 'one', 'two']);
    expect(b.stats().reassemblyBytes).toBe(0);
  });

  it('reassembles fragmented messages under loss', () => {
    link = new Link(5, { minRtoMs: 20 });
    let n = 0;
    link.filter = () => n++ % 7 !== 3;
    const big = [pattern(100_000, 1), pattern(5000, 2), pattern(1145, 3)];
    link.a.send(big[0]!, { reliable: true });
    link.a.send(big[1]!, { reliable: true, ordered: false, channel: 1 });
    link.a.send(big[2]!, { reliable: true });
    runUntil(() => link!.atB.length === 3);
    const ordered = link.atB.filter((m) => m.reliability === Reliability.RELIABLE_ORDERED).map((m) => m.payload);
    expect(firstDifference(ordered, [big[0]!, big[2]!])).toBe(-1);
    expect(link.atB.find((m) => m.reliability === Reliability.RELIABLE_UNORDERED)!.payload.equals(big[1]!)).toBe(true);
    expect(link.b.stats().reassemblyBytes).toBe(0);
  });

  it.each([1024, 2048])('keeps at most the span (%i) of sequences in flight past a loss, and recovers every fragment', (span) => {
    // A 3 MB message is 2,651 fragments; the sender's rings grow past their first 256 records,
    // holes left by loss are reported in acknowledgements far past the first lost one, and it never
    // sends a sequence the span or more past the oldest one unacknowledged.
    link = new Link(5, { minRtoMs: 20, span, sendBufferBytes: 8 << 20, reassemblyBytes: 8 << 20 });
    let n = 0;
    link.filter = (_, from) => from === 'b' || n++ % 40 !== 4;
    const acked = new Set<number>();
    let widest = 0;
    const unacked = (): number => {
      let oldest = 0;
      while (acked.has(oldest)) oldest++;
      return oldest;
    };
    const carried = link.filter;
    link.filter = (datagram, from) => {
      for (const frame of framesOf(datagram)) {
        if (from === 'a' && frame.type === FrameType.MESSAGE) widest = Math.max(widest, frame.sequence - unacked());
      }
      if (from === 'b') {
        // What b acknowledged: below the cumulative point, and each range after it.
        for (let at = 8; at + 16 <= datagram.length; ) {
          const length = datagram.readUInt32LE(at + 8);
          if (datagram[at + 1] === FrameType.ACK) {
            const cumulative = datagram.readUInt32LE(at + 4);
            for (let seq = 0; seq < cumulative; seq++) acked.add(seq);
            let position = cumulative;
            const ranges = datagram.readUInt16LE(at + 16 + 4);
            for (let r = 0; r < ranges; r++) {
              position += datagram.readUInt16LE(at + 16 + 6 + r * 4);
              const run = datagram.readUInt16LE(at + 16 + 8 + r * 4);
              for (let seq = position; seq < position + run; seq++) acked.add(seq);
              position += run;
            }
          }
          at += 16 + length;
        }
      }
      return carried(datagram, from);
    };
    const message = pattern(3_000_000, 5);
    expect(link.a.send(message, { reliable: true })).toBe(true);
    runUntil(() => link!.atB.length === 1, 120_000);
    expect(link.atB[0]!.payload.equals(message)).toBe(true);
    expect(widest).toBeLessThan(span);
    expect(widest).toBeGreaterThan(span / 2);
    expect(link.b.stats().drops.windowOverflow).toBe(0);
    expect(link.a.stats().retransmissions).toBeGreaterThan(0);
  });

  it('reassembles fragments that arrive in any order', () => {
    link = new Link(5);
    const message = pattern(4000, 9);
    for (const index of [3, 0, 2, 1]) {
      link.b.receive(fragmentFrame(10 + index, message, index, 4, 0));
    }
    expect(link.atB).toHaveLength(1);
    expect(link.atB[0]!.payload.equals(message)).toBe(true);
    expect(link.atB[0]!.reliability).toBe(Reliability.UNRELIABLE);
  });

  it('expires incomplete unreliable messages and caps reassembly memory', () => {
    link = new Link(5, { reassemblyBytes: 10_000, reassemblyTimeoutMs: 200 });
    const b = link.b;
    const first = pattern(6000, 1);
    b.receive(fragmentFrame(0, first, 0, 4, 0));
    expect(b.stats().reassemblyBytes).toBe(6000 + 64);
    // A second partial message does not fit beside the first: the older one is dropped.
    const second = pattern(6000, 2);
    b.receive(fragmentFrame(4, second, 0, 4, 0));
    expect(b.stats().drops.reassemblyOverflow).toBe(1);
    expect(b.stats().reassemblyBytes).toBe(6000 + 64);
    vi.advanceTimersByTime(250);
    expect(b.stats().drops.expired).toBe(1);
    expect(b.stats().reassemblyBytes).toBe(0);
    // The rest of the expired message arriving later does not resurrect it.
    for (const index of [1, 2, 3]) b.receive(fragmentFrame(4 + index, second, index, 4, 0));
    expect(link.atB).toHaveLength(0);
  });

  it('shares a reassembly budget across endpoints', () => {
    // Alone, an endpoint may hold half the total (a share is kept for the next: 12000 / 2); with
    // two holding memory, a share is 12000 / 3 and the second one's 5064 bytes would take the
    // last one (test/unit/reassembly-budget.test.ts has the rule).
    const budget = new ReassemblyBudget(12000);
    const options = { budget, onDatagram: () => {}, now: () => Date.now() };
    const one = new ReliableEndpoint({ ...options, token: TOKEN_A });
    const two = new ReliableEndpoint({ ...options, token: TOKEN_B });
    one.receive(fragmentFrame(0, pattern(5000, 1), 0, 2, 0));
    expect(budget.usedBytes).toBe(5064);
    two.receive(fragmentFrame(0, pattern(5000, 2), 0, 2, 0));
    expect(two.stats().drops.reassemblyOverflow).toBe(1);
    expect(budget.usedBytes).toBe(5064);
    one.close();
    two.close();
  });

  describe('a reliable message that stops making progress', () => {
    const timeoutMs = 200;

    function receiver(): { endpoint: ReliableEndpoint; errors: Error[]; delivered: Buffer[] } {
      const endpoint = new ReliableEndpoint({ token: TOKEN_B, onDatagram: () => {}, reassemblyTimeoutMs: timeoutMs, now: () => Date.now() });
      const errors: Error[] = [];
      const delivered: Buffer[] = [];
      endpoint.on('error', (error) => errors.push(error));
      endpoint.on('message', (payload) => delivered.push(Buffer.from(payload)));
      return { endpoint, errors, delivered };
    }

    it('a partial one with no fragment for reassemblyTimeoutMs closes the endpoint with HW_ERR_REASSEMBLY_TIMEOUT and frees its memory', () => {
      const { endpoint, errors, delivered } = receiver();
      const message = pattern(3000, 5);
      endpoint.receive(fragmentFrame(0, message, 0, 3, FrameFlag.RELIABLE));
      endpoint.receive(fragmentFrame(1, message, 1, 3, FrameFlag.RELIABLE));
      expect(endpoint.stats().reassemblyBytes).toBe(3064);
      vi.advanceTimersByTime(timeoutMs - 20);
      expect(errors).toEqual([]);
      vi.advanceTimersByTime(40);
      expect(errors).toEqual([expect.objectContaining({ code: 'HW_ERR_REASSEMBLY_TIMEOUT' })]);
      expect(endpoint.stats().reassemblyBytes).toBe(0);
      // Closed: the last fragment, arriving now, delivers nothing, and sending throws.
      endpoint.receive(fragmentFrame(2, message, 2, 3, FrameFlag.RELIABLE));
      expect(delivered).toEqual([]);
      expect(endpoint.stats().datagramsReceived).toBe(2);
      expect(() => endpoint.send(Buffer.alloc(1))).toThrow(expect.objectContaining({ code: 'HW_ERR_CONNECTION_CLOSED' }));
    });

    it('a whole one held for the gap before it fails the same way: it was acknowledged too', () => {
      const { endpoint, errors, delivered } = receiver();
      endpoint.receive(reliableFrame(1, pattern(500, 1)));
      expect(endpoint.stats().reassemblyBytes).toBe(564);
      vi.advanceTimersByTime(timeoutMs + 20);
      expect(errors).toEqual([expect.objectContaining({ code: 'HW_ERR_REASSEMBLY_TIMEOUT' })]);
      expect(endpoint.stats().reassemblyBytes).toBe(0);
      endpoint.receive(reliableFrame(0, pattern(500, 0)));
      expect(delivered).toEqual([]);
    });

    it('one that keeps getting fragments lives on, however long it takes, and is delivered', () => {
      const { endpoint, errors, delivered } = receiver();
      const message = pattern(6000, 6);
      for (let index = 0; index < 6; index++) {
        endpoint.receive(fragmentFrame(index, message, index, 6, FrameFlag.RELIABLE | FrameFlag.UNORDERED));
        vi.advanceTimersByTime(timeoutMs * 0.7);
      }
      expect(errors).toEqual([]);
      expect(delivered.map((payload) => payload.equals(message))).toEqual([true]);
      endpoint.close();
    });

    it('a peer that stops sending in the middle of a message gets no further acknowledgements, and its message is never delivered in part', () => {
      link = new Link(5, { reassemblyTimeoutMs: timeoutMs });
      const errors: Error[] = [];
      link.b.on('error', (error) => errors.push(error));
      // From the 4th datagram of a's on, nothing reaches b: a message of 20 fragments stops.
      let carried = 0;
      link.filter = (_, from) => from === 'b' || ++carried <= 3;
      link.a.send(pattern(20_000, 9), { reliable: true });
      runUntil(() => errors.length > 0, 10 * timeoutMs);
      expect(errors[0]).toMatchObject({ code: 'HW_ERR_REASSEMBLY_TIMEOUT' });
      expect(link.atB).toEqual([]);
      expect(link.b.stats().reassemblyBytes).toBe(0);
      const acknowledgementsBefore = link.sentByB.length;
      vi.advanceTimersByTime(10 * timeoutMs);
      expect(link.sentByB.length).toBe(acknowledgementsBefore);
    });
  });

  it('rejects corrupted datagrams by checksum and counts them', () => {
    link = new Link(5);
    link.filter = (d, from) => {
      if (from === 'a' && framesOf(d).some((f) => f.type === FrameType.MESSAGE) && link!.b.stats().drops.badChecksum === 0) {
        const corrupt = Buffer.from(d);
        corrupt[corrupt.length - 1]! ^= 0x40;
        link!.b.receive(corrupt.subarray(8));
        return false;
      }
      return true;
    };
    link.a.send(Buffer.from('intact'), { reliable: true });
    runUntil(() => link!.atB.length === 1, 5000);
    expect(link.atB[0]!.payload.toString()).toBe('intact');
    expect(link.b.stats().drops.badChecksum).toBe(1);
  });

  it('keeps delivering on one channel while another waits for a retransmission', () => {
    link = new Link(5, { minRtoMs: 500 });
    link.a.send(Buffer.from('warm up'), { reliable: true, channel: 1 });
    runUntil(() => link!.atB.length === 1 && link!.a.stats().messagesInFlight === 0);
    let blockChannel1 = true;
    link.filter = (d, from) =>
      !(blockChannel1 && from === 'a' && framesOf(d).some((f) => f.type === FrameType.MESSAGE && f.channel === 1));
    link.a.send(Buffer.from('stuck'), { reliable: true, channel: 1 });
    vi.advanceTimersByTime(1);
    const sent = Date.now();
    for (let i = 0; i < 5; i++) {
      link.a.send(Buffer.from(`free ${i}`), { reliable: true, channel: 2 });
      vi.advanceTimersByTime(3);
    }
    runUntil(() => link!.atB.filter((m) => m.channel === 2).length === 5);
    expect(Date.now() - sent).toBeLessThan(100);
    expect(link.atB.some((m) => m.payload.toString() === 'stuck')).toBe(false);
    blockChannel1 = false;
    runUntil(() => link!.atB.some((m) => m.payload.toString() === 'stuck'));
  });

  it('hands frames of other types back to its owner', () => {
    link = new Link(5);
    const frames: Array<[number, string]> = [];
    link.b.on('frame', (type, _flags, _channel, _sequence, payload) => frames.push([type, payload.toString()]));
    const datagram = new FrameEncoder().encodeToBuffer([
      { type: FrameType.PING, payload: Buffer.from('ping') },
      { type: FrameType.MESSAGE, payload: Buffer.from('between') },
      { type: 0x0b, payload: Buffer.from('8 bytes!') },
      { type: 0x9f, payload: Buffer.from('ignorable') },
    ]);
    link.b.receive(datagram);
    expect(frames).toEqual([
      [FrameType.PING, 'ping'],
      [0x0b, '8 bytes!'],
      [0x9f, 'ignorable'],
    ]);
    expect(link.atB.map((m) => m.payload.toString())).toEqual(['between']);
    expect(link.b.stats().framesDelivered).toBe(3);
  });

  describe('drops a datagram whole, using none of its frames, when one frame', () => {
    // docs/PROTOCOL.md section 4: each case puts a good message and a PING before the bad frame.
    const good = [
      { type: FrameType.MESSAGE, payload: Buffer.from('before') },
      { type: FrameType.PING, payload: Buffer.from('ping') },
    ];
    const cases: Array<[string, Parameters<FrameEncoder['encodeToBuffer']>[0][number], 'malformed' | 'badChecksum']> = [
      ['is a TCP-only type (CLOSE)', { type: FrameType.CLOSE, payload: Buffer.from('bye') }, 'malformed'],
      ['is a TCP-only type (PATH_RESPONSE)', { type: 0x0c, payload: Buffer.alloc(8) }, 'malformed'],
      ['is an unknown critical type', { type: 0x7e }, 'malformed'],
      ['is a COMPRESSED message', { type: FrameType.MESSAGE, flags: FrameFlag.COMPRESSED, payload: Buffer.from('zz') }, 'malformed'],
      ['is a BATCH message', { type: FrameType.MESSAGE, flags: FrameFlag.BATCH, payload: Buffer.alloc(0) }, 'malformed'],
      ['is a PING of 65 bytes', { type: FrameType.PING, payload: Buffer.alloc(65) }, 'malformed'],
      ['is a PONG of 65 bytes', { type: FrameType.PONG, payload: Buffer.alloc(65) }, 'malformed'],
      ['is a PATH_CHALLENGE of 7 bytes', { type: 0x0b, payload: Buffer.alloc(7) }, 'malformed'],
    ];
    for (const [what, bad, counter] of cases) {
      it(what, () => {
        link = new Link(5);
        const frames: number[] = [];
        link.b.on('frame', (type) => frames.push(type));
        link.b.receive(new FrameEncoder({ maxFrameSize: 1 << 20 }).encodeToBuffer([...good, bad]));
        expect(link.atB).toEqual([]);
        expect(frames).toEqual([]);
        expect(link.b.stats().drops[counter]).toBe(1);
      });
    }

    it('has a bad checksum, is truncated, or has a bad version', () => {
      link = new Link(5);
      const frames: number[] = [];
      link.b.on('frame', (type) => frames.push(type));
      const whole = new FrameEncoder().encodeToBuffer([...good, { type: FrameType.MESSAGE, payload: Buffer.from('last') }]);
      const corrupt = Buffer.from(whole);
      corrupt[corrupt.length - 1]! ^= 0xff;
      const badVersion = Buffer.from(whole);
      badVersion[whole.length - 20] = 2;
      link.b.receive(corrupt);
      link.b.receive(whole.subarray(0, whole.length - 1));
      link.b.receive(badVersion);
      expect(link.atB).toEqual([]);
      expect(frames).toEqual([]);
      expect(link.b.stats().drops.badChecksum).toBe(1);
      expect(link.b.stats().drops.malformed).toBe(2);
    });

    it('is bad after more frames than one decode takes (the rows are checked in batches)', () => {
      link = new Link(5);
      const frames: number[] = [];
      link.b.on('frame', (type) => frames.push(type));
      const many = Array.from({ length: 300 }, (_, i) => ({ type: FrameType.PONG, sequence: i }));
      link.b.receive(new FrameEncoder().encodeToBuffer([...good, ...many, { type: FrameType.HELLO, payload: Buffer.from('{}') }]));
      expect(link.atB).toEqual([]);
      expect(frames).toEqual([]);
      expect(link.b.stats().drops.malformed).toBe(1);
    });
  });

  it('delivers everything from a datagram with more frames than its row table holds', () => {
    link = new Link(5);
    const frames = [];
    for (let i = 0; i < 600; i++) {
      frames.push(
        i % 2 === 0
          ? { type: FrameType.MESSAGE, sequence: i, payload: Buffer.from(`m${i}`) }
          : { type: FrameType.PONG, sequence: i, payload: Buffer.from(`p${i}`) },
      );
    }
    const order: string[] = [];
    link.b.on('message', (payload) => order.push(payload.toString()));
    link.b.on('frame', (_type, _flags, _channel, _sequence, payload) => order.push(payload.toString()));
    link.b.receive(new FrameEncoder().encodeToBuffer(frames));
    expect(order).toEqual(frames.map((f) => f.payload.toString()));
  });

  it('counts datagrams and bytes on both sides', () => {
    link = new Link(5);
    for (let i = 0; i < 30; i++) link.a.send(pattern(500, i), { reliable: i % 2 === 0 });
    runUntil(() => link!.atB.length === 30 && link!.a.stats().messagesInFlight === 0);
    vi.advanceTimersByTime(100);
    const a = link.a.stats();
    const b = link.b.stats();
    expect(a.messagesSent).toBe(30);
    expect(b.messagesDelivered).toBe(30);
    expect(b.datagramsReceived).toBe(a.datagramsSent);
    expect(b.bytesReceived).toBe(a.bytesSent);
    expect(a.datagramsReceived).toBe(b.datagramsSent);
    expect(a.retransmissions).toBe(0);
    expect(a.congestionWindow).toBeGreaterThan(0);
  });

  it('writes and reads the bytes of the test vectors in docs/PROTOCOL.md, section 7', () => {
    const hex = (text: string) => Buffer.from(text.replace(/\s+/g, ''), 'hex');
    let clockMs = 0;
    const sent: Buffer[] = [];
    const make = () =>
      new ReliableEndpoint({ token: Buffer.from('tokenAAA'), onDatagram: (d) => sent.push(Buffer.from(d)), now: () => clockMs });

    const v1 = make();
    v1.send(Buffer.from('hi'), { reliable: true, channel: 2 });
    v1.flush();
    expect(sent.pop()).toEqual(hex('746f6b656e414141 0104080200000000 02000000f2c3399b 6869'));
    v1.close();

    const v2 = make();
    v2.send(Buffer.from('ping'));
    v2.send(Buffer.from('pong'), { reliable: true, ordered: false, channel: 7 });
    v2.flush();
    expect(sent.pop()).toEqual(
      hex('746f6b656e414141 0104000000000000 04000000aefa2be5 70696e67 0104880700000000 040000001ac5d997 706f6e67'),
    );
    v2.close();

    const v3 = make();
    const delivered: string[] = [];
    v3.on('message', (payload) => delivered.push(payload.toString()));
    for (const seq of [0, 1, 2, 5, 6, 9]) {
      clockMs = seq === 9 ? 10 : 5;
      v3.receive(reliableFrame(seq, Buffer.from(String.fromCharCode(97 + seq)), 1));
    }
    clockMs = 10.25;
    v3.flush();
    expect(sent.pop()).toEqual(
      hex('746f6b656e414141 0105080103000000 0e000000fded1b36 fa000000 0200 02000200 02000100'),
    );
    clockMs = 11;
    v3.receive(reliableFrame(3, Buffer.from('d'), 1));
    v3.flush();
    expect(sent.pop()).toEqual(
      hex('746f6b656e414141 0105080104000000 0e000000290f0bd7 ffffffff 0200 01000200 02000100'),
    );
    expect(delivered).toEqual(['a', 'b', 'c', 'd']);
    v3.close();

    const v5 = make();
    v5.on('message', (payload, channel, reliability) => delivered.push(`${payload.toString()} ${channel} ${reliability}`));
    v5.receive(hex('0104040028000000 140000007b83f7e9 0c00000000000000 02000000 68656c6c6f2c2077'));
    v5.receive(hex('0104040029000000 10000000b86f3003 0c00000001000000 02000000 6f726c64'));
    expect(delivered.at(-1)).toBe(`hello, world 0 ${Reliability.UNRELIABLE}`);
    v5.close();

    // V6: a path MTU probe of 1280 bytes (the only size between mtu 1200 and maxMtu 1280), and
    // the answer of a peer that received it.
    const prober = new ReliableEndpoint({ token: Buffer.from('tokenAAA'), onDatagram: (d) => sent.push(Buffer.from(d)), now: () => clockMs, maxMtu: 1280 });
    prober.flush();
    const probe = sent.pop()!;
    expect(probe.length).toBe(1280);
    expect(probe.subarray(0, 24)).toEqual(hex('746f6b656e414141 0180000001000000 e8040000a6fcfc9f'));
    expect(probe.subarray(24).every((byte) => byte === 0)).toBe(true);
    const answerer = make();
    answerer.receive(probe.subarray(8));
    answerer.flush();
    const answer = sent.pop()!;
    expect(answer).toEqual(hex('746f6b656e414141 0181000001000000 040000008fa002d6 00050000'));
    prober.receive(answer.subarray(8));
    expect(prober.stats().pathMtu).toBe(1280);
    prober.close();
    answerer.close();
  });

  it('validates its options (endpoint-options.test.ts has them all) and the arguments of send', () => {
    const base = { token: TOKEN_A, onDatagram: () => {} };
    expect(() => new ReliableEndpoint({ ...base, mtu: 100 })).toThrow(/mtu must be an integer from 128 to 65507/);
    const endpoint = new ReliableEndpoint(base);
    expect(() => endpoint.send(Buffer.alloc(1), { channel: 256 })).toThrow(expect.objectContaining({ code: 'HW_ERR_INVALID_ARGUMENT' }));
    endpoint.close();
  });
});
