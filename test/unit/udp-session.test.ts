/**
 * A session's UDP side (ts/transport/udp-session.ts) over a real socket on 127.0.0.1: messages
 * wait for the path to be ready (docs/PROTOCOL.md 4.1, 4.3) within their bound, one PONG per
 * datagram (4.2), PATH_CHALLENGEs in and out; sealed (4.4) when it has keys.
 */
import dgram from 'node:dgram';
import { once } from 'node:events';
import { afterEach, describe, expect, it } from 'vitest';
import { FrameFlag, FrameType } from '../../ts/index.js';
import { Judged, UdpSession, type UdpSessionEvents, type UdpSessionOptions } from '../../ts/transport/udp-session.js';
import { DatagramSeal, type EpochKeys, type UdpSealing } from '../../ts/transport/datagram-seal.js';
import { decodeDatagram } from '../../ts/transport/datagram-rule.js';
import { DatagramDecoder } from '../../ts/codec/datagram-decoder.js';
import { UdpSocket } from '../../ts/transport/udp-socket.js';
import { PATH_CHALLENGE, datagram, parseFrames, type ParsedFrame } from '../support/wire.js';
import { within } from '../support/wait.js';

const TOKEN = Buffer.from('746f6b656e414141', 'hex');
const cleanup: Array<() => void> = [];
afterEach(() => {
  for (const step of cleanup.splice(0).reverse()) step();
});

/** The other end: a plain dgram socket that keeps the frames of every datagram it receives. */
async function peerSocket(): Promise<{ port: number; frames: ParsedFrame[]; next: (count: number) => Promise<void> }> {
  const socket = dgram.createSocket('udp4');
  socket.bind(0, '127.0.0.1');
  await once(socket, 'listening');
  cleanup.push(() => socket.close());
  const frames: ParsedFrame[] = [];
  let waiter: (() => void) | undefined;
  socket.on('message', (bytes) => {
    if (!bytes.subarray(0, 8).equals(TOKEN)) return;
    frames.push(...parseFrames(bytes));
    waiter?.();
  });
  return {
    port: socket.address().port,
    frames,
    next: (count) =>
      within(
        new Promise<void>((resolve) => {
          const check = () => {
            if (frames.length >= count) resolve();
          };
          waiter = check;
          check();
        }),
        3000,
        `${count} frames at the peer`,
      ),
  };
}

interface Harness {
  session: UdpSession;
  socket: UdpSocket;
  peer: Awaited<ReturnType<typeof peerSocket>>;
  events: { pongs: number; challenges: Buffer[]; drains: number; messages: Buffer[] };
}

async function harness(options: Partial<UdpSessionOptions> = {}): Promise<Harness> {
  const socket = new UdpSocket({ type: 'udp4', bufferBytes: 0, queueBytes: 1 << 20, onDatagram: () => {} });
  await socket.bind(0, '127.0.0.1');
  cleanup.push(() => socket.close());
  const peer = await peerSocket();
  const events = { pongs: 0, challenges: [] as Buffer[], drains: 0, messages: [] as Buffer[], failures: [] as Error[] };
  const handlers: UdpSessionEvents = {
    message: (payload) => events.messages.push(Buffer.from(payload)),
    pong: () => events.pongs++,
    challenge: (payload) => events.challenges.push(Buffer.from(payload)),
    drain: () => events.drains++,
    failed: (error) => events.failures.push(error),
  };
  const target = { address: '127.0.0.1', port: peer.port };
  const session = new UdpSession(socket, TOKEN, { get udpAddress() { return target; } }, {
    mtu: 1200,
    maxMtu: 1200,
    window: 64,
    sendBufferBytes: 4096,
    reassemblyBytes: 1 << 20,
    span: 16384,
    reassemblyTimeoutMs: 5000,
    maxAckDelayMs: 10,
    minRtoMs: 100,
    maxRtoMs: 1000,
    batchDelayMs: 0,
    budget: undefined,
    holdUnreliable: true,
    ...options,
  }, handlers);
  cleanup.push(() => session.close());
  return { session, socket, peer, events };
}

/** Sends `text` as a message body behind a 4-byte prefix. */
function send(session: UdpSession, text: string, reliable: boolean): boolean {
  return session.send(Buffer.from([1, 0, 0, 0]), 4, text, reliable, true, 0);
}

/** Lets the turns pass in which the endpoint would flush what was queued. */
async function turns(count = 3): Promise<void> {
  for (let i = 0; i < count; i++) await new Promise((resolve) => setImmediate(resolve));
}

function bodies(frames: ParsedFrame[]): string[] {
  return frames.filter((frame) => frame.type === FrameType.MESSAGE).map((frame) => frame.payload.subarray(4).toString());
}

describe('UdpSession', () => {
  it('sends nothing before the path is ready; then what waited goes out, in order, reliable and unreliable alike', async () => {
    const { session, socket, peer } = await harness();
    expect(send(session, 'u1', false)).toBe(true);
    expect(send(session, 'r1', true)).toBe(true);
    expect(send(session, 'u2', false)).toBe(true);
    await turns();
    expect(socket.stats().datagramsSent).toBe(0);
    expect(session.ready).toBe(false);
    // No endpoint yet, so no path MTU probe and no statistics.
    expect(session.stats()).toBeUndefined();
    session.pathReady();
    expect(session.ready).toBe(true);
    send(session, 'after', false);
    await peer.next(4);
    // In order within each sequence space (the spaces share datagrams in the endpoint's order).
    const reliable = (frame: ParsedFrame) => (frame.flags & FrameFlag.RELIABLE) !== 0;
    expect(bodies(peer.frames.filter((frame) => !reliable(frame)))).toEqual(['u1', 'u2', 'after']);
    expect(bodies(peer.frames.filter(reliable))).toEqual(['r1']);
  });

  it('on a server (holdUnreliable false), unreliable messages before the path is ready are lost, reliable ones wait', async () => {
    const { session, peer } = await harness({ holdUnreliable: false });
    expect(send(session, 'lost', false)).toBe(true);
    expect(send(session, 'kept', true)).toBe(true);
    session.pathReady();
    send(session, 'after', true);
    await peer.next(2);
    expect(bodies(peer.frames)).toEqual(['kept', 'after']);
  });

  it('bounds what waits by sendBufferBytes: false past half of it, with a drain once they are out', async () => {
    const { session, peer, events } = await harness();
    const kilobyte = 'k'.repeat(1020);
    expect(send(session, kilobyte, true)).toBe(true);
    expect(send(session, kilobyte, true)).toBe(false);
    expect(events.drains).toBe(0);
    session.pathReady();
    expect(events.drains).toBe(1);
    await peer.next(2);
    expect(bodies(peer.frames)).toEqual([kilobyte, kilobyte]);
  });

  it('past sendBufferBytes waiting, send() throws HW_ERR_SEND_QUEUE_FULL', async () => {
    const { session } = await harness();
    const kilobyte = 'k'.repeat(1020);
    for (let i = 0; i < 4; i++) send(session, kilobyte, i % 2 === 0);
    expect(() => send(session, 'one byte too many', false)).toThrow(expect.objectContaining({ code: 'HW_ERR_SEND_QUEUE_FULL' }));
  });

  it('refuses at once a message the endpoint could never take (HW_ERR_FRAME_TOO_LARGE), rather than after the wait', async () => {
    const { session } = await harness({ sendBufferBytes: 8192, reassemblyBytes: 2048 });
    expect(() => send(session, 'x'.repeat(2000), true)).toThrow(expect.objectContaining({ code: 'HW_ERR_FRAME_TOO_LARGE' }));
    expect(() => send(session, 'x'.repeat(9000), false)).toThrow(expect.objectContaining({ code: 'HW_ERR_FRAME_TOO_LARGE' }));
    // Unfragmented unreliable messages are not bounded by the peer's reassembly budget.
    expect(send(session, 'x'.repeat(1100), false)).toBe(true);
  });

  it('answers a datagram of many PINGs with one PONG, echoing the first', async () => {
    const { session, socket, peer } = await harness();
    session.pathReady();
    const pings = Array.from({ length: 50 }, (_, i) => ({ type: FrameType.PING, sequence: 100 + i, payload: Buffer.from([i]) }));
    session.receive(datagram(TOKEN, pings).subarray(8));
    expect(socket.stats().datagramsSent).toBe(1);
    await peer.next(1);
    expect(peer.frames).toMatchObject([{ type: FrameType.PONG, sequence: 100, payload: Buffer.from([0]) }]);
    // The next datagram is answered again.
    session.receive(datagram(TOKEN, pings.slice(7)).subarray(8));
    await peer.next(2);
    expect(peer.frames[1]).toMatchObject({ type: FrameType.PONG, sequence: 107 });
  });

  it('reports PONGs and 8-byte PATH_CHALLENGEs; a datagram with a PATH_CHALLENGE of another size is dropped whole', async () => {
    const { session, events } = await harness();
    const good = datagram(TOKEN, [{ type: FrameType.PONG }, { type: PATH_CHALLENGE, payload: Buffer.from('8 bytes!') }]).subarray(8);
    const bad = datagram(TOKEN, [{ type: FrameType.PONG }, { type: PATH_CHALLENGE, payload: Buffer.from('9 bytes!!') }]).subarray(8);
    session.receive(good);
    expect(events.pongs).toBe(1);
    expect(events.challenges).toEqual([Buffer.from('8 bytes!')]);
    // Before the path is ready, dropped without building the endpoint (whose path MTU probes would start).
    session.receive(bad);
    expect(session.stats()).toBeUndefined();
    session.pathReady();
    session.receive(bad);
    expect(events.pongs).toBe(1);
    expect(events.challenges.length).toBe(1);
    expect(session.stats()!.drops.malformed).toBe(1);
  });

  it('sends a PATH_CHALLENGE to the address given, not to its own destination', async () => {
    const { session, socket, peer } = await harness();
    const other = await peerSocket();
    session.sendChallenge(Buffer.from('5c0e93d17a28f4b6', 'hex'), socket.destination('127.0.0.1', other.port));
    await other.next(1);
    expect(other.frames).toMatchObject([{ type: PATH_CHALLENGE, sequence: 0, flags: 0, channel: 0, payload: Buffer.from('5c0e93d17a28f4b6', 'hex') }]);
    expect(peer.frames).toEqual([]);
  });
});

/** Fixed keys per epoch, as the session's end (`server`) and its peer (`client`) use them. */
function fixedSealing(role: 'client' | 'server', fail = false): UdpSealing {
  return {
    algorithm: 'aes-256-gcm',
    keys: (epoch): EpochKeys => {
      if (fail) throw new Error('no TLS connection any more');
      const block = Buffer.from(Array.from({ length: 88 }, (_, i) => (i * 3 + epoch) & 0xff));
      const [client, server] = [{ key: block.subarray(0, 32), iv: block.subarray(64, 76) }, { key: block.subarray(32, 64), iv: block.subarray(76, 88) }];
      const [own, other] = role === 'client' ? [client, server] : [server, client];
      return { sendKey: own.key, sendIv: own.iv, receiveKey: other.key, receiveIv: other.iv };
    },
  };
}

/** A sealed session (the server's end) and a raw peer that keeps what arrives, with the client's keys. */
async function sealedHarness(fail = false) {
  const socket = new UdpSocket({ type: 'udp4', bufferBytes: 0, queueBytes: 1 << 20, onDatagram: () => {} });
  await socket.bind(0, '127.0.0.1');
  cleanup.push(() => socket.close());
  const peer = dgram.createSocket('udp4');
  peer.bind(0, '127.0.0.1');
  await once(peer, 'listening');
  cleanup.push(() => peer.close());
  const arrived: Buffer[] = [];
  peer.on('message', (bytes) => arrived.push(bytes));
  const events = { pongs: 0, messages: [] as string[], failures: [] as Error[] };
  const target = { address: '127.0.0.1', port: peer.address().port };
  const options: UdpSessionOptions = {
    mtu: 1200, maxMtu: 1200, window: 64, sendBufferBytes: 1 << 20, reassemblyBytes: 1 << 20, span: 16384, reassemblyTimeoutMs: 5000,
    maxAckDelayMs: 10, minRtoMs: 100, maxRtoMs: 1000, batchDelayMs: 0, budget: undefined, sealing: fixedSealing('server', fail),
  };
  const session = new UdpSession(socket, TOKEN, { get udpAddress() { return target; } }, options, {
    message: (payload) => events.messages.push(payload.subarray(4).toString()),
    pong: () => events.pongs++,
    challenge: () => {},
    drain: () => {},
    failed: (error) => events.failures.push(error),
  });
  cleanup.push(() => session.close());
  // The client's end of the keys: it opens what the session sends and seals what it receives.
  const client = new DatagramSeal(TOKEN, fixedSealing('client'));
  const seal = (frames: Parameters<typeof datagram>[1]) => client.seal(datagram(TOKEN, frames))!;
  const next = (count: number) => within(new Promise<void>((resolve) => {
    const check = () => (arrived.length >= count ? resolve() : setImmediate(check));
    check();
  }), 3000, `${count} datagrams at the peer`);
  return { session, socket, arrived, events, client, seal, next };
}

describe('UdpSession with sealing (docs/PROTOCOL.md 4.4)', () => {
  it('seals every datagram it sends, probes included, within the datagram size; the peer opens them into the frames', async () => {
    const { session, arrived, client, next } = await sealedHarness();
    session.sendControl(FrameType.PING, Buffer.alloc(8), 1);
    session.pathReady();
    send(session, 'y'.repeat(3000), true);
    await next(4);
    const opened = arrived.map((bytes) => {
      expect(bytes.subarray(0, 8)).toEqual(TOKEN);
      expect(bytes.length).toBeLessThanOrEqual(1200);
      expect(decodeDatagram(new DatagramDecoder(), bytes.subarray(8))).toBeLessThan(0);
      const frames = client.openFrames(Buffer.from(bytes.subarray(8)), true);
      expect(frames).toBeInstanceOf(Uint8Array);
      return parseFrames(Buffer.concat([TOKEN, frames as Uint8Array]));
    });
    expect(opened[0]).toMatchObject([{ type: FrameType.PING, sequence: 1 }]);
    expect(opened.slice(1).flat().filter((frame) => frame.type === FrameType.MESSAGE).length).toBe(3);
    expect(session.stats()!.sealing).toMatchObject({ algorithm: 'aes-256-gcm', sealed: arrived.length });
    // pathMtu is the size on the wire; the endpoint inside works with 24 bytes less.
    expect(session.stats()!.pathMtu).toBe(1200);
  });

  it('delivers a sealed datagram once: a copy is a replay, a flipped one does not open; both are counted', async () => {
    const { session, events, seal } = await sealedHarness();
    session.pathReady();
    const sealed = seal([{ type: FrameType.MESSAGE, payload: Buffer.concat([Buffer.from([1, 0, 0, 0]), Buffer.from('once')]) }]);
    const flipped = Buffer.from(sealed);
    flipped[30]! ^= 0x40;
    session.receive(Buffer.from(flipped.subarray(8)));
    session.receive(Buffer.from(sealed.subarray(8)));
    session.receive(Buffer.from(sealed.subarray(8)));
    // An unsealed datagram, well formed, does not open either.
    session.receive(datagram(TOKEN, [{ type: FrameType.PONG }]).subarray(8));
    expect(events.messages).toEqual(['once']);
    expect(events.pongs).toBe(0);
    expect(session.stats()!.sealing).toMatchObject({ opened: 1, unopened: 2, replayed: 1 });
  });

  it('judges a datagram from another address without counting its record number as seen', async () => {
    const { session, events, seal } = await sealedHarness();
    const rule = (frames: Uint8Array) => decodeDatagram(new DatagramDecoder(), frames) >= 0;
    const ping = seal([{ type: FrameType.PING, payload: Buffer.alloc(8) }]);
    expect(session.judge(Buffer.from(ping), 0, ping.length, rule)).toBe(Judged.WELL_FORMED);
    expect(session.judge(Buffer.from(ping), 0, ping.length, rule)).toBe(Judged.WELL_FORMED);
    const pong = seal([{ type: FrameType.PONG }]);
    session.receive(Buffer.from(pong.subarray(8)));
    expect(events.pongs).toBe(1);
    expect(session.judge(Buffer.from(pong), 0, pong.length, rule)).toBe(Judged.REPLAYED);
    const forged = datagram(TOKEN, [{ type: FrameType.PING, payload: Buffer.alloc(8) }]);
    expect(session.judge(forged, 0, forged.length, rule)).toBe(Judged.UNOPENED);
    const garbage = seal([]);
    expect(session.judge(Buffer.from(garbage), 0, garbage.length, rule)).toBe(Judged.MALFORMED);
    expect(events.pongs).toBe(1);
  });

  it('when keys cannot be had, sends nothing, closes, and asks for the session to close with HW_ERR_AEAD_LIMIT_REACHED', async () => {
    const { session, socket, events } = await sealedHarness(true);
    session.sendControl(FrameType.PING, Buffer.alloc(8), 1);
    expect(socket.stats().datagramsSent).toBe(0);
    expect(events.failures).toEqual([expect.objectContaining({ code: 'HW_ERR_AEAD_LIMIT_REACHED' })]);
    expect(() => send(session, 'late', true)).toThrow(expect.objectContaining({ code: 'HW_ERR_CONNECTION_CLOSED' }));
  });
});
