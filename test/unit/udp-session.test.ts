/**
 * A session's UDP side (ts/transport/udp-session.ts) over a real socket on 127.0.0.1: messages
 * wait for the path to be ready (docs/PROTOCOL.md 4.1, 4.3) within their bound, one PONG per
 * datagram (4.2), PATH_CHALLENGEs in and out.
 */
import dgram from 'node:dgram';
import { once } from 'node:events';
import { afterEach, describe, expect, it } from 'vitest';
import { FrameFlag, FrameType } from '../../ts/index.js';
import { UdpSession, type UdpSessionEvents, type UdpSessionOptions } from '../../ts/transport/udp-session.js';
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
  const session = new UdpSession(socket, TOKEN, () => target, {
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
