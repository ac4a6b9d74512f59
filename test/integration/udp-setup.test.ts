/**
 * ts/api/udp-setup.ts: the UDP socket of sessions and the routing of each received batch to its
 * sessions (a run of one session's datagrams in one call, anything else to the router one at a
 * time), and a session's UdpSession wired to its Connection — over real sockets on 127.0.0.1,
 * port 0.
 */
import dgram from 'node:dgram';
import net, { type AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { createUdpSocket, attachUdpSession, type DatagramRouter, type UdpSide } from '../../ts/api/udp-setup.js';
import { HandlerTable } from '../../ts/api/handler-table.js';
import { resolveLimits, type LimitOptions } from '../../ts/api/limits.js';
import { FrameType } from '../../ts/codec/frame.js';
import { SOCKET_ROW_WIDTH, SocketRow } from '../../ts/native/layouts.js';
import { Connection, type MessageInfo } from '../../ts/session/connection.js';
import { TOKEN_SIZE, type UdpSession } from '../../ts/transport/udp-session.js';
import type { UdpSocket } from '../../ts/transport/udp-socket.js';
import { nextEvent } from '../support/raw-peer.js';
import { waitUntil, within } from '../support/wait.js';

const cleanup: Array<() => void> = [];
afterEach(() => {
  for (const step of cleanup.splice(0).reverse()) step();
});

const TOKEN = Buffer.from('a1a2a3a4a5a6a7a8', 'hex');
const OTHER_TOKEN = Buffer.from('b1b2b3b4b5b6b7b8', 'hex');

async function sender(): Promise<dgram.Socket & { port: number }> {
  const socket = dgram.createSocket('udp4');
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', () => resolve()));
  cleanup.push(() => socket.close());
  return Object.assign(socket, { port: socket.address().port });
}

function send(socket: dgram.Socket, port: number, token: Buffer, text: string): Promise<void> {
  return new Promise((resolve, reject) => socket.send(Buffer.concat([token, Buffer.from(text)]), port, '127.0.0.1', (error) => (error ? reject(error) : resolve())));
}

/**
 * A stand-in for a UdpSession as routeBatch sees it: takes, from `from`, the datagrams that carry
 * TOKEN and come from the first one's sender (as the real one does), or just one when `oneAtATime`.
 */
class SessionStandIn {
  readonly received: string[] = [];
  readonly calls: Array<[number, number]> = [];

  constructor(private readonly oneAtATime = false) {}

  receiveRows(bytes: Buffer, rows: Uint32Array, from: number, to: number): number {
    this.calls.push([from, to]);
    const row = (index: number, field: number) => rows[index * SOCKET_ROW_WIDTH + field]!;
    let index = from;
    while (index < to) {
      const start = row(index, SocketRow.OFFSET);
      const end = start + row(index, SocketRow.LENGTH);
      if (TOKEN.compare(bytes, start, start + TOKEN_SIZE) !== 0) break;
      if (row(index, SocketRow.PORT) !== row(from, SocketRow.PORT) || row(index, SocketRow.SENDER) !== row(from, SocketRow.SENDER)) break;
      this.received.push(bytes.toString('utf8', start + TOKEN_SIZE, end));
      index++;
      if (this.oneAtATime) break;
    }
    return index;
  }

  receive(): void {
    throw new Error('a batch socket hands datagrams over by rows');
  }
}

/** A socket from createUdpSocket whose router knows one session: TOKEN from `knownPort`. */
async function routedSocket(knownPort: () => number, session: SessionStandIn) {
  const others: Array<{ bytes: Buffer; address: string; port: number }> = [];
  const lookups: Array<{ token: string; address: string; port: number }> = [];
  let known = 0;
  const router: DatagramRouter = {
    knownSession: (bytes, start, end, address, port) => {
      lookups.push({ token: bytes.toString('hex', start, start + TOKEN_SIZE), address, port });
      return port === knownPort() && address === '127.0.0.1' && end - start >= TOKEN_SIZE && TOKEN.compare(bytes, start, start + TOKEN_SIZE) === 0
        ? (session as unknown as UdpSession)
        : undefined;
    },
    otherDatagram: (bytes, start, end, address, port) => {
      // Lent bytes: copied to be kept.
      others.push({ bytes: Buffer.from(bytes.subarray(start, end)), address, port });
    },
  };
  const socket = createUdpSocket('udp4', resolveLimits({}), router, (count) => {
    known += count;
  });
  const port = await socket.bind(0, '127.0.0.1');
  cleanup.push(() => socket.close());
  return { socket, port, others, lookups, known: () => known };
}

describe('createUdpSocket: routing each batch', () => {
  it.each([
    ['a session that takes whole runs', false],
    ['a session that takes one datagram at a time', true],
  ])("gives a known session its datagrams and the router everything else: %s", async (_what, oneAtATime) => {
    const session = new SessionStandIn(oneAtATime);
    const known = await sender();
    const stranger = await sender();
    const routed = await routedSocket(() => known.port, session);
    // Interleaved, sent back to back so that batches hold several: the session's own, its token
    // from another sender, another token from its sender, a datagram shorter than a token.
    const sends: Array<Promise<void>> = [];
    for (let i = 0; i < 6; i++) sends.push(send(known, routed.port, TOKEN, `mine ${i}`));
    await Promise.all(sends.splice(0));
    await send(stranger, routed.port, TOKEN, 'stolen token');
    await send(known, routed.port, OTHER_TOKEN, 'another session');
    for (let i = 6; i < 10; i++) sends.push(send(known, routed.port, TOKEN, `mine ${i}`));
    await Promise.all(sends);
    await send(stranger, routed.port, Buffer.alloc(3), 'short');
    await waitUntil(() => session.received.length === 10 && routed.others.length === 3, 5000, () => `10 and 3 datagrams (got ${session.received.length} and ${routed.others.length})`);
    expect(session.received).toEqual(Array.from({ length: 10 }, (_, i) => `mine ${i}`));
    expect(routed.others).toEqual([
      { bytes: Buffer.concat([TOKEN, Buffer.from('stolen token')]), address: '127.0.0.1', port: stranger.port },
      { bytes: Buffer.concat([OTHER_TOKEN, Buffer.from('another session')]), address: '127.0.0.1', port: known.port },
      { bytes: Buffer.concat([Buffer.alloc(3), Buffer.from('short')]), address: '127.0.0.1', port: stranger.port },
    ]);
    // What known sessions took is counted, and nothing else.
    expect(routed.known()).toBe(10);
    // The router is asked once per run the session takes, and once for each other datagram.
    expect(routed.lookups).toHaveLength(session.calls.length + 3);
    for (const [from, to] of session.calls) expect(from).toBeLessThan(to);
  });
});

/** Two Connections over a loopback TCP pair, each with its UDP side attached to the other's. */
async function udpPair(options: LimitOptions = {}) {
  const limits = resolveLimits(options);
  const listener = net.createServer({ allowHalfOpen: true });
  await new Promise<void>((resolve) => listener.listen(0, '127.0.0.1', resolve));
  cleanup.push(() => listener.close());
  const accepted = nextEvent<[net.Socket]>(listener, 'connection');
  const dialed = net.connect({ host: '127.0.0.1', port: (listener.address() as AddressInfo).port, allowHalfOpen: true });
  await nextEvent(dialed, 'connect');
  const [answered] = await accepted;

  function end(socket: net.Socket) {
    const handlers = new HandlerTable<unknown>();
    const connection = new Connection(socket, handlers, undefined, limits);
    connection.open(8, 8, []);
    cleanup.push(() => connection.destroy());
    const events = { pongs: 0, challenges: [] as Buffer[] };
    const side: UdpSide = {
      holdUnreliable: false,
      pong: () => void events.pongs++,
      challenge: (payload) => void events.challenges.push(Buffer.from(payload)),
    };
    let session: UdpSession | undefined;
    let peerPort = 0;
    const socketOfEnd: UdpSocket = createUdpSocket('udp4', limits, {
      knownSession: (bytes, start, _end, address, port) => (port === peerPort && address === '127.0.0.1' && TOKEN.compare(bytes, start, start + TOKEN_SIZE) === 0 ? session : undefined),
      otherDatagram: () => {},
    }, () => {});
    cleanup.push(() => socketOfEnd.close());
    return {
      connection,
      handlers,
      events,
      socket: socketOfEnd,
      attach(port: number) {
        peerPort = port;
        session = attachUdpSession(connection, socketOfEnd, { udpAddress: { address: '127.0.0.1', port } }, limits, { token: TOKEN, step: false, negotiated: undefined, sealing: undefined }, undefined, side);
        return session;
      },
    };
  }

  const a = end(dialed);
  const b = end(answered);
  const portA = await a.socket.bind(0, '127.0.0.1');
  const portB = await b.socket.bind(0, '127.0.0.1');
  const sessionA = a.attach(portB);
  const sessionB = b.attach(portA);
  return { a: { ...a, session: sessionA, port: portA }, b: { ...b, session: sessionB, port: portB } };
}

describe("attachUdpSession: a session's UDP side wired to its Connection", () => {
  it("is the connection's UDP path: its messages reach the connection's handlers, and replies come back the way requests went", async () => {
    const { a, b } = await udpPair();
    expect(a.connection.udpPath).toBe(a.session);
    a.session.pathReady();
    b.session.pathReady();
    const got: Array<[unknown, MessageInfo]> = [];
    b.handlers.set('position', (value: unknown, _context: unknown, info: MessageInfo) => void got.push([value, info]));
    b.handlers.set('double', (n: number) => n * 2);
    a.connection.send('position', { x: 1 }, { transport: 'udp', reliable: true });
    a.connection.send('position', { x: 2 }, { transport: 'udp', reliable: true, ordered: false, channel: 7 });
    await waitUntil(() => got.length === 2, 5000, 'both UDP messages');
    expect(got).toEqual(
      expect.arrayContaining([
        [{ x: 1 }, { type: 'position', transport: 'udp', requestId: undefined }],
        [{ x: 2 }, { type: 'position', transport: 'udp', requestId: undefined }],
      ]),
    );
    expect(await within(a.connection.request('double', 21, 5000, undefined, { transport: 'udp', reliable: true }), 5000, 'the UDP reply')).toBe(42);
    expect(a.connection.stats().udp.messagesOut).toBe(3);
    expect(b.connection.stats().udp.messagesIn).toBe(3);
  });

  it('gives sessions that agreed the same parameters one options object (idle memory), not a copy each', async () => {
    const { a, b } = await udpPair();
    const optionsOf = (session: UdpSession) => (session as unknown as { options: Record<string, unknown> }).options;
    expect(optionsOf(a.session)).toBe(optionsOf(b.session));
    expect(optionsOf(a.session)).toMatchObject({ holdUnreliable: false, window: expect.any(Number) });
  });

  it('hands PONGs and PATH_CHALLENGEs to its side', async () => {
    const { a, b } = await udpPair();
    a.session.sendControl(FrameType.PING, Buffer.alloc(8), 1);
    await waitUntil(() => a.events.pongs === 1, 5000, "the answer to A's PING");
    b.session.sendChallenge(Buffer.from('challng!'), b.socket.destination('127.0.0.1', a.port));
    await waitUntil(() => a.events.challenges.length === 1, 5000, "B's PATH_CHALLENGE");
    expect(a.events.challenges[0]!.toString()).toBe('challng!');
    expect(b.events).toEqual({ pongs: 0, challenges: [] });
  });

  it("turns the UDP side's 'drain' into the connection's", async () => {
    const { a } = await udpPair({ udpSendBufferBytes: 1024 });
    // Held until the path is ready, past half the send buffer: send() says wait.
    expect(a.connection.send('big', 'x'.repeat(600), { transport: 'udp', reliable: true })).toBe(false);
    const drained = nextEvent(a.connection, 'drain');
    a.session.pathReady();
    await drained;
  });

  it('closes with its connection', async () => {
    const { a } = await udpPair();
    a.session.pathReady();
    const closed = nextEvent(a.connection, 'close');
    a.connection.destroy();
    await closed;
    expect(() => a.session.send(Buffer.alloc(8), 4, 'x', true, true, 0)).toThrow(expect.objectContaining({ code: 'HW_ERR_CONNECTION_CLOSED' }));
  });
});
