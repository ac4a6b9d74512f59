/**
 * ts/api/client.ts: the Client's states and events, its reconnect schedule, the refusals and
 * failures of connect(), option validation and its UDP path, over real servers on 127.0.0.1,
 * port 0 (the library's, or a hand-written one that answers the handshake as a test needs).
 */
import net, { type AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { Client, connect, type ClientOptions, type ClientState } from '../../ts/api/client.js';
import type { Peer } from '../../ts/api/peer.js';
import { FrameDecoder } from '../../ts/codec/frame-decoder.js';
import { FrameEncoder } from '../../ts/codec/frame-encoder.js';
import { FrameType } from '../../ts/codec/frame.js';
import { OptionError } from '../../ts/errors.js';
import { closeAfterEach, startServer } from '../support/sessions.js';
import { nextEvent } from '../support/raw-peer.js';
import { waitUntil, within } from '../support/wait.js';

closeAfterEach();
const cleanup: Array<() => Promise<unknown> | unknown> = [];
afterEach(async () => {
  for (const step of cleanup.splice(0).reverse()) await step();
});

/** A Client built and started by hand, so that its events are watched from the first one. */
async function started(options: ClientOptions, watch: (client: Client) => void = () => {}): Promise<Client> {
  const client = new Client({ host: '127.0.0.1', ...options });
  cleanup.push(() => client.close());
  watch(client);
  return client.start();
}

/** Records every event a client emits, in order, with its arguments. */
function recorder(client: Client): Array<[string, ...unknown[]]> {
  const log: Array<[string, ...unknown[]]> = [];
  for (const event of ['connect', 'disconnect', 'reconnecting', 'reconnect', 'reconnect_failed', 'state', 'close'] as const) {
    client.on(event, (...args: unknown[]) => log.push([event, ...args]));
  }
  return log;
}

interface HandServer {
  port: number;
  /** HELLO payloads received, parsed. */
  hellos: Array<Record<string, unknown>>;
  /** The server side of each connection, for the test to close. */
  sockets: net.Socket[];
}

/**
 * A TCP server that answers each HELLO with `answer(hello)`: frames to write (or none, to say
 * nothing at all).
 */
async function handServer(answer: (hello: Record<string, unknown>) => Array<{ type: number; body: unknown }>): Promise<HandServer> {
  const state: HandServer = { port: 0, hellos: [], sockets: [] };
  const server = net.createServer((socket) => {
    state.sockets.push(socket);
    socket.on('error', () => {});
    const decoder = new FrameDecoder();
    const encoder = new FrameEncoder();
    socket.on('data', (chunk) => {
      let count: number;
      try {
        count = decoder.push(chunk);
      } catch {
        return;
      }
      for (let i = 0; i < count; i++) {
        if (decoder.type(i) !== FrameType.HELLO) continue;
        const hello = JSON.parse(Buffer.from(decoder.payload(i)).toString()) as Record<string, unknown>;
        state.hellos.push(hello);
        const frames = answer(hello).map(({ type, body }) => ({ type, payload: Buffer.from(JSON.stringify(body)) }));
        if (frames.length > 0) socket.write(Buffer.concat(encoder.encode(frames)));
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  cleanup.push(() => {
    for (const socket of state.sockets) socket.destroy();
    return new Promise((resolve) => server.close(resolve));
  });
  state.port = (server.address() as AddressInfo).port;
  return state;
}

const ACCEPTED = {
  accepted: true,
  version: '1.0.0',
  sessionId: 'hand-made',
  token: '0011223344556677',
  features: ['json'],
  mode: 'burst',
  maxPacketSize: 65536,
  windowSize: 8,
  heartbeatIntervalMs: 5000,
  heartbeatTimeoutMs: 15000,
  udpPort: 0,
};

describe('Client: states and events', () => {
  it("connecting, then connected with 'connect'; close(): closing, closed and 'close', once", async () => {
    const { server, tcpPort } = await startServer({ udpPort: false });
    const connected = nextEvent<[Peer]>(server, 'connection');
    let log: Array<[string, ...unknown[]]> = [];
    const states: ClientState[] = [];
    const client = await started({ tcpPort, udpPort: false, clientId: 'me' }, (client) => {
      expect(client.state).toBe('connecting');
      log = recorder(client);
      client.on('state', (state) => states.push(state));
    });
    expect(client.state).toBe('connected');
    const [peer] = await connected;
    expect(client.sessionId).toBe(peer.id);
    expect(peer.clientId).toBe('me');
    await client.close();
    await client.close();
    expect(states).toEqual(['connected', 'closing', 'closed']);
    // The session's end is a 'disconnect' (without an error) here too.
    expect(log).toEqual([['state', 'connected'], ['connect'], ['state', 'closing'], ['disconnect', undefined], ['state', 'closed'], ['close']]);
    expect(() => client.send('x', 1)).toThrow(expect.objectContaining({ code: 'HW_ERR_NOT_CONNECTED', message: 'client is closed' }));
    await expect(client.request('ping')).rejects.toMatchObject({ code: 'HW_ERR_NOT_CONNECTED' });
  });

  it("without reconnect, a session the server ends closes the client: 'disconnect', closed, 'close'", async () => {
    const { server, tcpPort } = await startServer({ udpPort: false });
    const connected = nextEvent<[Peer]>(server, 'connection');
    const client = await started({ tcpPort, udpPort: false });
    const log = recorder(client);
    const [peer] = await connected;
    const closed = nextEvent(client, 'close');
    await peer.close('go away');
    await closed;
    expect(log).toEqual([['disconnect', undefined], ['state', 'closed'], ['close']]);
    expect(client.state).toBe('closed');
  });
});

describe('Client: reconnecting', () => {
  it('waits initialDelayMs, doubling up to maxDelayMs, for each attempt; then reconnect_failed with the last error, and close', async () => {
    const { server, tcpPort } = await startServer({ udpPort: false });
    const client = await started({ tcpPort, udpPort: false, reconnect: { initialDelayMs: 5, maxDelayMs: 20, maxAttempts: 5, jitter: 0 } });
    const log = recorder(client);
    const failed = nextEvent<[Error]>(client, 'reconnect_failed', 10_000);
    await server.close();
    const [error] = await failed;
    expect(error).toMatchObject({ code: 'HW_ERR_CONNECT_FAILED' });
    expect(error.message).toContain(`127.0.0.1:${tcpPort}`);
    await waitUntil(() => client.state === 'closed', 5000, 'the client to close');
    expect(log).toEqual([
      ['disconnect', undefined],
      ['state', 'reconnecting'],
      ['reconnecting', { attempt: 1, delayMs: 5 }],
      ['reconnecting', { attempt: 2, delayMs: 10 }],
      ['reconnecting', { attempt: 3, delayMs: 20 }],
      ['reconnecting', { attempt: 4, delayMs: 20 }],
      ['reconnecting', { attempt: 5, delayMs: 20 }],
      ['state', 'closed'],
      ['reconnect_failed', error],
      ['close'],
    ]);
  });

  it('scales each delay by a random factor within [1 - jitter, 1 + jitter]', async () => {
    const { server, tcpPort } = await startServer({ udpPort: false });
    const client = await started({ tcpPort, udpPort: false, reconnect: { initialDelayMs: 40, maxDelayMs: 40, maxAttempts: 6, jitter: 0.5 } });
    const delays: number[] = [];
    client.on('reconnecting', ({ delayMs }) => delays.push(delayMs));
    const failed = nextEvent(client, 'reconnect_failed', 10_000);
    await server.close();
    await failed;
    expect(delays).toHaveLength(6);
    for (const delay of delays) {
      expect(Number.isInteger(delay)).toBe(true);
      expect(delay).toBeGreaterThanOrEqual(20);
      expect(delay).toBeLessThanOrEqual(60);
    }
  });

  it("finds the server again after its session is dropped: 'reconnect' with the attempt, 'connect', a new session", async () => {
    const { server, tcpPort } = await startServer({ udpPort: false });
    const first = nextEvent<[Peer]>(server, 'connection');
    const client = await started({ tcpPort, udpPort: false, reconnect: { initialDelayMs: 5, jitter: 0 } });
    const log = recorder(client);
    const [peer] = await first;
    const oldSession = client.sessionId;
    const reconnected = nextEvent(client, 'connect', 10_000);
    await peer.close('dropped');
    await reconnected;
    expect(log).toEqual([
      ['disconnect', undefined],
      ['state', 'reconnecting'],
      ['reconnecting', { attempt: 1, delayMs: 5 }],
      ['state', 'connected'],
      ['reconnect', { attempt: 1 }],
      ['connect'],
    ]);
    expect(client.sessionId).not.toBe(oldSession);
    expect(await client.request('ping', undefined, { timeoutMs: 5000 })).toBe('pong');
  });

  it('refuses sends while reconnecting, and close() then ends it for good', async () => {
    const { server, tcpPort } = await startServer({ udpPort: false });
    const client = await started({ tcpPort, udpPort: false, reconnect: { initialDelayMs: 60_000, maxAttempts: 3 } });
    const log = recorder(client);
    const reconnecting = nextEvent(client, 'reconnecting');
    await server.close();
    await reconnecting;
    expect(client.state).toBe('reconnecting');
    expect(() => client.send('x', 1)).toThrow(expect.objectContaining({ code: 'HW_ERR_NOT_CONNECTED', message: 'client is reconnecting' }));
    await within(client.close(), 5000, 'close() while reconnecting');
    expect(client.state).toBe('closed');
    expect(log.map(([event, ...args]) => (event === 'state' ? `state ${String(args[0])}` : event))).toEqual([
      'disconnect',
      'state reconnecting',
      'reconnecting',
      'state closing',
      'state closed',
      'close',
    ]);
  });
});

describe('connect(): failures', () => {
  it('HW_ERR_CONNECT_FAILED, naming the address, when nothing listens', async () => {
    const { server, tcpPort } = await startServer({ udpPort: false });
    await server.close();
    const error = (await connect({ host: '127.0.0.1', tcpPort }).catch((caught: unknown) => caught)) as Error & { code: string };
    expect(error.code).toBe('HW_ERR_CONNECT_FAILED');
    expect(error.message).toMatch(new RegExp(`^cannot connect to 127\\.0\\.0\\.1:${tcpPort}: .*ECONNREFUSED`));
  });

  it('HW_ERR_SERVER_FULL from a server at maxConnections', async () => {
    const { tcpPort } = await startServer({ udpPort: false, maxConnections: 1 });
    await started({ tcpPort, udpPort: false });
    await expect(connect({ host: '127.0.0.1', tcpPort, udpPort: false })).rejects.toMatchObject({ code: 'HW_ERR_SERVER_FULL' });
  });

  it.each([
    ['HW_ERR_VERSION_MISMATCH', 'HW_ERR_VERSION_MISMATCH'],
    ['HW_ERR_SERVER_FULL', 'HW_ERR_SERVER_FULL'],
    ['HW_ERR_SOMETHING_ELSE', 'HW_ERR_HANDSHAKE_REFUSED'],
  ])("a refusal with %s is %s, with the server's reason", async (code, expected) => {
    const hand = await handServer(() => [{ type: FrameType.HELLO_ACK, body: { accepted: false, version: '2.0.0', code, reason: 'not today' } }]);
    const error = (await connect({ host: '127.0.0.1', tcpPort: hand.port, udpPort: false }).catch((caught: unknown) => caught)) as Error & { code: string };
    expect(error).toMatchObject({ code: expected, message: 'server refused the session: not today' });
  });

  it('sends a HELLO with its offer: version, features, mode, window, clientId', async () => {
    const hand = await handServer(() => [{ type: FrameType.HELLO_ACK, body: { accepted: false, code: 'HW_ERR_SERVER_FULL', reason: 'full' } }]);
    await expect(connect({ host: '127.0.0.1', tcpPort: hand.port, udpPort: false, mode: 'step', windowSize: 100, clientId: 'c-1' })).rejects.toMatchObject({ code: 'HW_ERR_SERVER_FULL' });
    await expect(connect({ host: '127.0.0.1', tcpPort: hand.port, udpPort: false, windowSize: 100 })).rejects.toMatchObject({ code: 'HW_ERR_SERVER_FULL' });
    expect(hand.hellos[0]).toMatchObject({ version: '1.0.0', mode: 'step', windowSize: 1, clientId: 'c-1' });
    expect(hand.hellos[0]!.features).toEqual(expect.arrayContaining(['json', 'binary', 'udp', 'request']));
    expect(hand.hellos[1]).toMatchObject({ mode: 'burst', windowSize: 100 });
    expect(hand.hellos[1]).not.toHaveProperty('clientId');
  });

  it('HW_ERR_CONNECT_TIMEOUT from a server that accepts but never answers, and the socket is closed', async () => {
    const hand = await handServer(() => []);
    const error = (await connect({ host: '127.0.0.1', tcpPort: hand.port, udpPort: false, connectTimeoutMs: 100 }).catch((caught: unknown) => caught)) as Error & { code: string };
    expect(error).toMatchObject({ code: 'HW_ERR_CONNECT_TIMEOUT', message: `no session with 127.0.0.1:${hand.port} within 100 ms` });
    const [socket] = hand.sockets;
    if (!socket!.closed) await nextEvent(socket!, 'close');
    expect(hand.hellos).toHaveLength(1);
  });

  it.each([
    ['a HELLO_ACK with a malformed token', [{ type: FrameType.HELLO_ACK, body: { ...ACCEPTED, token: 'xyz' } }], 'HW_ERR_BAD_HANDSHAKE'],
    ['two HELLO_ACKs', [{ type: FrameType.HELLO_ACK, body: ACCEPTED }, { type: FrameType.HELLO_ACK, body: ACCEPTED }], 'HW_ERR_HANDSHAKE_ORDER'],
    ['a HELLO instead of a HELLO_ACK', [{ type: FrameType.HELLO, body: { version: '1.0.0' } }], 'HW_ERR_HANDSHAKE_ORDER'],
  ])('fails with %s', async (_what, frames, code) => {
    const hand = await handServer(() => frames);
    await expect(connect({ host: '127.0.0.1', tcpPort: hand.port, udpPort: false })).rejects.toMatchObject({ code });
  });
});

describe('Client: options', () => {
  it.each([
    [undefined, 'connect() needs an options object with tcpPort'],
    [{ tcpPort: 70_000 }, 'option tcpPort must be an integer from 0 to 65535, got 70000'],
    [{ tcpPort: 1, udpPort: -1 }, 'option udpPort must be an integer from 0 to 65535, got -1'],
    [{ tcpPort: 1, mode: 'fast' }, "option mode must be 'step' or 'burst', got fast"],
    [{ tcpPort: 1, connectTimeoutMs: 0 }, 'option connectTimeoutMs must be an integer from 1 to 3600000, got 0'],
    [{ tcpPort: 1, reconnect: { jitter: 1.5 } }, 'option reconnect.jitter must be a number from 0 to 1, got 1.5'],
    [{ tcpPort: 1, reconnect: { jitter: '0.1' } }, 'option reconnect.jitter must be a number from 0 to 1, got 0.1'],
    [{ tcpPort: 1, reconnect: { maxAttempts: 0 } }, 'option reconnect.maxAttempts must be an integer from 1 to 1000000, got 0'],
    [{ tcpPort: 1, reconnect: { initialDelayMs: 0.5 } }, 'option reconnect.initialDelayMs must be an integer from 1 to 3600000, got 0.5'],
    [{ tcpPort: 1, reconnect: { maxDelayMs: 3_600_001 } }, 'option reconnect.maxDelayMs must be an integer from 1 to 3600000, got 3600001'],
    [{ tcpPort: 1, windowSize: 0 }, 'option windowSize must be an integer from 1 to 1048576, got 0'],
  ])('new Client(%j) throws OptionError: %s', (options, message) => {
    const build = () => new Client(options as unknown as ClientOptions);
    expect(build).toThrow(OptionError);
    expect(build).toThrow(message);
  });

  it('connect() rejects rather than throws on bad options', async () => {
    const pending = connect({ tcpPort: -5 });
    expect(pending).toBeInstanceOf(Promise);
    await expect(pending).rejects.toMatchObject({ code: 'HW_ERR_INVALID_OPTION' });
  });
});

describe('Client: handlers and UDP', () => {
  it('routes server messages to handlers with the client as context; unhandled ones to its message event', async () => {
    const { server, tcpPort } = await startServer({ udpPort: false });
    const connected = nextEvent<[Peer]>(server, 'connection');
    const client = await started({ tcpPort, udpPort: false });
    const [peer] = await connected;
    const handled = new Promise<[unknown, unknown]>((resolve) => client.handle('news', (payload, context) => resolve([payload, context])));
    const unhandled = nextEvent<[string, unknown]>(client, 'message');
    peer.send('news', { headline: 'x' });
    peer.send('gossip', 'y');
    expect(await within(handled, 5000, 'the news')).toEqual([{ headline: 'x' }, client]);
    expect((await unhandled).slice(0, 2)).toEqual(['gossip', 'y']);
    // Its handlers answer the server's requests.
    client.handle('double', (n: number) => n * 2);
    expect(await peer.request('double', 21, { timeoutMs: 5000 })).toBe(42);
    const rtt = await client.ping({ timeoutMs: 5000 });
    expect(Number.isFinite(rtt) && rtt >= 0).toBe(true);
  });

  it('with udpPort false: no UDP path, UDP sends fail with HW_ERR_UDP_UNAVAILABLE', async () => {
    const { tcpPort } = await startServer();
    const client = await started({ tcpPort, udpPort: false });
    expect(client.udpReady).toBe(false);
    expect(client.udpStats()).toBeUndefined();
    expect(() => client.send('x', 1, { transport: 'udp' })).toThrow(expect.objectContaining({ code: 'HW_ERR_UDP_UNAVAILABLE' }));
  });

  it('with UDP: the server validates the path (udpReady), and messages sent before that wait for it', async () => {
    const { server, tcpPort } = await startServer();
    const received: unknown[] = [];
    server.handle('position', (payload) => void received.push(payload));
    const client = await started({ tcpPort });
    expect(client.supportsFeature('udp')).toBe(true);
    // Sent at once, before the path is validated: held, then delivered.
    client.send('position', { x: 1 }, { transport: 'udp' });
    client.send('position', { x: 2 }, { transport: 'udp', reliable: true });
    await waitUntil(() => client.udpReady, 5000, 'the UDP path to be validated');
    await waitUntil(() => received.length === 2, 5000, 'both UDP messages');
    expect(received).toEqual(expect.arrayContaining([{ x: 1 }, { x: 2 }]));
    expect(client.udpStats()!.messagesSent).toBe(2);
  });
});
