import dgram from 'node:dgram';
import { once } from 'node:events';
import { afterEach, describe, expect, it } from 'vitest';
import { FrameType } from '../../ts/index.js';
import {
  Reliability,
  ReliableEndpoint,
  type ReliabilityValue,
  type ReliableEndpointOptions,
} from '../../ts/reliable/reliable-endpoint.js';
import { UdpChaosProxy, type UdpChaosProxyOptions } from './udp-chaos-proxy.js';
import { pseudoRandomBytes as pattern } from '../support/bytes.js';

// Two reliable endpoints on real dgram sockets on 127.0.0.1, A talking to B through the chaos
// proxy. Every wait is for an event, bounded by a deadline that fails the test.

const TOKEN_A = Buffer.from('tokenAAA');
const TOKEN_B = Buffer.from('tokenBBB');
const LOOPBACK = '127.0.0.1';
const ENDPOINT_OPTIONS: Partial<ReliableEndpointOptions> = { minRtoMs: 10, maxRtoMs: 1000, maxAckDelayMs: 2 };

interface Delivery {
  payload: Buffer;
  channel: number;
  reliability: ReliabilityValue;
}


/** A message that names itself: channel and index in its first 8 bytes, the rest derived from them. */
function tagged(channel: number, index: number, length: number): Buffer {
  const out = pattern(Math.max(length, 8), channel * 100_003 + index);
  out.writeUInt32LE(channel, 0);
  out.writeUInt32LE(index, 4);
  return out;
}

function isIntactTagged(payload: Buffer): boolean {
  if (payload.length < 8) return false;
  return payload.equals(tagged(payload.readUInt32LE(0), payload.readUInt32LE(4), payload.length));
}

/** The index of the first delivered payload that differs from the one sent, or -1 if none. */
function firstDifference(delivered: Buffer[], sent: Buffer[]): number {
  // Buffer.equals, not toEqual: a deep comparison of a megabyte takes seconds.
  for (let i = 0; i < Math.max(delivered.length, sent.length); i++) {
    if (delivered[i] === undefined || sent[i] === undefined || !delivered[i]!.equals(sent[i]!)) return i;
  }
  return -1;
}

function hasToken(datagram: Buffer, token: Buffer): boolean {
  return datagram.length >= 8 && datagram.compare(token, 0, 8, 0, 8) === 0;
}

/** Resolves when `done()` holds after an event of `emitter`; rejects after `ms`. */
function until(endpoint: ReliableEndpoint, done: () => boolean, ms: number, what: string): Promise<void> {
  return new Promise((resolve, reject) => {
    if (done()) return resolve();
    const check = () => {
      if (!done()) return;
      clearTimeout(timer);
      endpoint.off('message', check);
      resolve();
    };
    const timer = setTimeout(() => {
      endpoint.off('message', check);
      reject(new Error(`timed out after ${ms} ms waiting for ${what}`));
    }, ms);
    endpoint.on('message', check);
  });
}

class Pair {
  a!: ReliableEndpoint;
  b!: ReliableEndpoint;
  proxy!: UdpChaosProxy;
  readonly atA: Delivery[] = [];
  readonly atB: Delivery[] = [];
  foreignAtA = 0;
  foreignAtB = 0;
  private readonly socketA = dgram.createSocket('udp4');
  private readonly socketB = dgram.createSocket('udp4');
  private peerOfB: dgram.RemoteInfo | undefined;

  async start(chaos: Omit<UdpChaosProxyOptions, 'target'>, options: Partial<ReliableEndpointOptions> = {}): Promise<void> {
    this.socketA.bind(0, LOOPBACK);
    this.socketB.bind(0, LOOPBACK);
    await Promise.all([once(this.socketA, 'listening'), once(this.socketB, 'listening')]);
    for (const socket of [this.socketA, this.socketB]) {
      socket.setRecvBufferSize(4 * 1024 * 1024);
      socket.setSendBufferSize(4 * 1024 * 1024);
    }
    this.proxy = await UdpChaosProxy.start({ ...chaos, target: { port: this.socketB.address().port } });
    const proxyPort = this.proxy.port;
    this.a = new ReliableEndpoint({
      ...ENDPOINT_OPTIONS,
      ...options,
      token: TOKEN_A,
      onDatagram: (d) => this.socketA.send(d, proxyPort, LOOPBACK),
    });
    this.b = new ReliableEndpoint({
      ...ENDPOINT_OPTIONS,
      ...options,
      token: TOKEN_B,
      onDatagram: (d) => {
        if (this.peerOfB !== undefined) this.socketB.send(d, this.peerOfB.port, this.peerOfB.address);
      },
    });
    this.socketA.on('message', (d) => {
      if (hasToken(d, TOKEN_B)) this.a.receive(d.subarray(8));
      else this.foreignAtA++;
    });
    this.socketB.on('message', (d, from) => {
      this.peerOfB = from;
      if (hasToken(d, TOKEN_A)) this.b.receive(d.subarray(8));
      else this.foreignAtB++;
    });
    this.a.on('message', (payload, channel, reliability) => this.atA.push({ payload, channel, reliability }));
    this.b.on('message', (payload, channel, reliability) => this.atB.push({ payload, channel, reliability }));
  }

  async close(): Promise<void> {
    this.a?.close();
    this.b?.close();
    await this.proxy?.close();
    const closing = [once(this.socketA, 'close'), once(this.socketB, 'close')];
    this.socketA.close();
    this.socketB.close();
    await Promise.all(closing);
  }
}

const ORDERED_SIZES = [1, 2, 7, 100, 1000, 1144, 1145, 1200, 5000, 65_536, 300_000, 1024 * 1024];

describe('reliable UDP through the chaos proxy', () => {
  let pair: Pair | undefined;

  afterEach(async () => {
    await pair?.close();
    pair = undefined;
  });

  const scenarios = [
    { loss: 0, seed: 11 },
    { loss: 0.01, seed: 12 },
    { loss: 0.05, seed: 13 },
    { loss: 0.2, seed: 14 },
  ];

  for (const { loss, seed } of scenarios) {
    it(`delivers every reliable message exactly once, intact and in order at ${loss * 100}% loss`, async () => {
      pair = new Pair();
      await pair.start({ seed, loss, duplicate: 0.02, reorder: 0.03, reorderDelayMs: 2, corrupt: 0.01, corruptFrom: 8 });
      const { a, b, proxy } = pair;

      // Channel 1: sizes from 1 byte to 1 MiB, in order. Channel 2: many small ordered messages.
      // Channel 3: reliable unordered. Channel 4: unreliable. Channel 7: B to A, ordered.
      const channel1 = ORDERED_SIZES.map((size, i) => pattern(size, 1000 + i));
      const channel2 = Array.from({ length: 300 }, (_, i) => tagged(2, i, 8 + ((i * 37) % 1500)));
      const channel3 = Array.from({ length: 100 }, (_, i) => tagged(3, i, 8 + ((i * 131) % 20_000)));
      const channel4 = Array.from({ length: 200 }, (_, i) => tagged(4, i, 8 + ((i * 53) % 3000)));
      const channel7 = Array.from({ length: 100 }, (_, i) => tagged(7, i, 8 + ((i * 71) % 4000)));
      for (let i = 0; i < 300; i++) {
        if (i < channel1.length) a.send(channel1[i]!, { reliable: true, channel: 1 });
        a.send(channel2[i]!, { reliable: true, channel: 2 });
        if (i < channel3.length) a.send(channel3[i]!, { reliable: true, ordered: false, channel: 3 });
        if (i < channel4.length) a.send(channel4[i]!, { channel: 4 });
      }
      // B answers once it has heard from A (the test's B only learns A's address then).
      await until(b, () => pair!.atB.length > 0, 10_000, 'the first message at B');
      for (const message of channel7) b.send(message, { reliable: true, channel: 7 });
      const reliableAtB = () => pair!.atB.filter((m) => m.reliability !== Reliability.UNRELIABLE).length;
      await Promise.all([
        until(b, () => reliableAtB() >= channel1.length + channel2.length + channel3.length, 40_000, 'A to B'),
        until(a, () => pair!.atA.length >= channel7.length, 40_000, 'B to A'),
      ]);

      const on = (list: Delivery[], channel: number) => list.filter((m) => m.channel === channel);
      // Ordered channels: exactly the sent sequence.
      expect(firstDifference(on(pair.atB, 1).map((m) => m.payload), channel1)).toBe(-1);
      expect(firstDifference(on(pair.atB, 2).map((m) => m.payload), channel2)).toBe(-1);
      expect(firstDifference(on(pair.atA, 7).map((m) => m.payload), channel7)).toBe(-1);
      // Unordered: each once, intact.
      const unordered = on(pair.atB, 3);
      expect(unordered.every((m) => m.reliability === Reliability.RELIABLE_UNORDERED && isIntactTagged(m.payload))).toBe(true);
      expect(new Set(unordered.map((m) => m.payload.readUInt32LE(4))).size).toBe(channel3.length);
      expect(unordered).toHaveLength(channel3.length);
      // Unreliable: never twice, never corrupted; at 0% loss only the kernel may lose some.
      const unreliable = on(pair.atB, 4);
      expect(unreliable.every((m) => m.reliability === Reliability.UNRELIABLE && isIntactTagged(m.payload))).toBe(true);
      expect(new Set(unreliable.map((m) => m.payload.readUInt32LE(4))).size).toBe(unreliable.length);
      expect(unreliable.length).toBeLessThanOrEqual(channel4.length);
      if (loss === 0) expect(unreliable.length).toBeGreaterThan(channel4.length * 0.9);

      // Corrupted datagrams were caught by the checksum (or the frame format), none delivered.
      const statsA = a.stats();
      const statsB = b.stats();
      const caught =
        statsA.drops.badChecksum + statsA.drops.malformed + statsB.drops.badChecksum + statsB.drops.malformed;
      expect(proxy.counts.corrupted).toBeGreaterThan(0);
      expect(statsA.drops.badChecksum + statsB.drops.badChecksum).toBeGreaterThan(0);
      expect(caught).toBeLessThanOrEqual(proxy.counts.corrupted);
      expect(pair.foreignAtA + pair.foreignAtB).toBe(0);
      // Duplicated datagrams were recognised.
      expect(proxy.counts.duplicated).toBeGreaterThan(0);
      expect(statsB.drops.duplicate).toBeGreaterThan(0);
      if (loss > 0) expect(statsA.retransmissions).toBeGreaterThan(0);
      expect(statsA.rttMs).toBeGreaterThan(0);
    });
  }

  it('keeps delivering on one channel while another waits for a lost message', async () => {
    pair = new Pair();
    let blockChannel5 = true;
    let firstDrop!: () => void;
    const dropped = new Promise<void>((resolve) => (firstDrop = resolve));
    await pair.start({
      seed: 5,
      filter: (datagram, direction) => {
        if (!blockChannel5 || direction !== 'forward') return true;
        // Drop datagrams that carry a MESSAGE frame on channel 5.
        for (let at = 8; at + 16 <= datagram.length; at += 16 + datagram.readUInt32LE(at + 8)) {
          if (datagram[at + 1] === FrameType.MESSAGE && datagram[at + 3] === 5) {
            firstDrop();
            return false;
          }
        }
        return true;
      },
    });
    const { a, b } = pair;
    a.send(Buffer.from('held back'), { reliable: true, channel: 5 });
    await dropped;
    for (let i = 0; i < 20; i++) a.send(tagged(6, i, 100), { reliable: true, channel: 6 });
    await until(b, () => pair!.atB.filter((m) => m.channel === 6).length === 20, 10_000, 'channel 6');
    expect(pair.atB.some((m) => m.channel === 5)).toBe(false);
    blockChannel5 = false;
    await until(b, () => pair!.atB.some((m) => m.channel === 5), 10_000, 'channel 5 after the loss');
    expect(pair.atB.find((m) => m.channel === 5)!.payload.toString()).toBe('held back');
  });
});
