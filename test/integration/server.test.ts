import net, { type AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import { connect, createServer, type Peer } from '../../ts/index.js';
import { nextEvent } from '../support/raw-peer.js';
import { closeAfterEach, startClient, startServer, waitUntil } from '../support/sessions.js';

closeAfterEach();

describe('Server.listen', () => {
  it('can be called again after the TCP port was taken (EADDRINUSE)', async () => {
    const blocker = net.createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    const port = (blocker.address() as AddressInfo).port;
    const server = createServer({ host: '127.0.0.1', tcpPort: port, udpPort: false });
    try {
      await expect(server.listen()).rejects.toMatchObject({ code: 'EADDRINUSE' });
      await new Promise<void>((resolve) => blocker.close(() => resolve()));
      expect((await server.listen()).tcpPort).toBe(port);
      const client = await connect({ host: '127.0.0.1', tcpPort: port, udpPort: false });
      expect(await client.request('ping')).toBe('pong');
      await client.close();
    } finally {
      blocker.close();
      await server.close();
    }
  });
});

describe('failures that do not end the session', () => {
  it("an error thrown by a one-way message's handler reaches 'peerError', over TCP and UDP, sync or async", async () => {
    const { server, tcpPort, udpPort } = await startServer();
    const errors: Array<[Peer | undefined, Error]> = [];
    server.on('peerError', (peer, error) => errors.push([peer, error]));
    server.handle('sync', () => {
      throw new Error('sync failure');
    });
    server.handle('async', async () => {
      throw new Error('async failure');
    });
    const connected = nextEvent<[Peer]>(server, 'connection');
    const client = await startClient({ tcpPort, udpPort });
    const [peer] = await connected;
    await waitUntil(() => client.udpReady, 'the UDP path');
    client.send('sync', 1);
    client.send('async', 2);
    client.send('sync', 3, { transport: 'udp', reliable: true });
    await waitUntil(() => errors.length === 3, "three 'peerError' events");
    expect(errors.map(([who]) => who)).toEqual([peer, peer, peer]);
    expect(errors.map(([, error]) => (error as { code?: string }).code)).toEqual(['HW_ERR_HANDLER_FAILED', 'HW_ERR_HANDLER_FAILED', 'HW_ERR_HANDLER_FAILED']);
    expect(errors.map(([, error]) => (error.cause as Error).message).sort()).toEqual(['async failure', 'sync failure', 'sync failure']);
    // The session goes on.
    expect(await client.request('ping')).toBe('pong');
    expect(server.stats().protocolErrors).toBe(0);
  });

  it("a 'message' listener that throws on a UDP message is reported through 'peerError', not swallowed", async () => {
    const { server, tcpPort, udpPort } = await startServer();
    const bug = new TypeError('listener bug');
    server.on('message', () => {
      throw bug;
    });
    const client = await startClient({ tcpPort, udpPort });
    await waitUntil(() => client.udpReady, 'the UDP path');
    const reported = nextEvent<[Peer | undefined, Error]>(server, 'peerError');
    client.send('nobody-handles-this', { n: 1 }, { transport: 'udp', reliable: true });
    const [peer, error] = await reported;
    expect(error).toBe(bug);
    expect(peer?.id).toBe(client.sessionId);
    expect(await client.request('ping')).toBe('pong');
  });

  it.each([
    ['TCP', {}],
    ['UDP', { transport: 'udp', reliable: true }],
  ] as const)("a reply that cannot be encoded fails the request with HW_ERR_HANDLER_FAILED over %s and reaches 'peerError'", async (_name, via) => {
    const { server, tcpPort, udpPort } = await startServer();
    server.handle('cyclic', () => {
      const value: Record<string, unknown> = {};
      value.self = value;
      return value;
    });
    const client = await startClient({ tcpPort, udpPort });
    await waitUntil(() => client.udpReady, 'the UDP path');
    const reported = nextEvent<[Peer | undefined, Error]>(server, 'peerError');
    await expect(client.request('cyclic', undefined, { ...via, timeoutMs: 5000 })).rejects.toMatchObject({ code: 'HW_ERR_HANDLER_FAILED' });
    const [, error] = await reported;
    expect(error).toBeInstanceOf(TypeError);
    expect(await client.request('ping')).toBe('pong');
    expect(client.state).toBe('connected');
  });
});

describe('Server.broadcast', () => {
  it('throws for a type name that cannot be sent, before any peer gets anything', async () => {
    const { server, tcpPort } = await startServer({ udpPort: false });
    const client = await startClient({ tcpPort, udpPort: false });
    const got: unknown[] = [];
    client.handle('news', (payload) => got.push(payload));
    for (const bad of ['', 'x'.repeat(256), 42 as unknown as string]) {
      expect(() => server.broadcast(bad, 1)).toThrow(expect.objectContaining({ code: 'HW_ERR_INVALID_ARGUMENT' }));
    }
    expect(server.broadcast('news', 'ok')).toBe(1);
    await waitUntil(() => got.length === 1, 'the broadcast');
    expect(got).toEqual(['ok']);
    expect(client.state).toBe('connected');
    expect(server.stats().protocolErrors).toBe(0);
  });

  it('counts the peers that miss a broadcast in broadcastDrops', async () => {
    const { server, tcpPort } = await startServer({ udpPort: false });
    const a = await startClient({ tcpPort, udpPort: false });
    const b = await startClient({ tcpPort, udpPort: false });
    // No session has a UDP path: both miss it, and say so.
    expect(server.broadcast('news', 'by udp', { transport: 'udp' })).toBe(0);
    expect(server.stats().broadcastDrops).toBe(2);
    const got: unknown[] = [];
    a.handle('news', (payload) => got.push(payload));
    b.handle('news', (payload) => got.push(payload));
    expect(server.broadcast('news', 'by tcp')).toBe(2);
    await waitUntil(() => got.length === 2, 'the TCP broadcast');
    expect(server.stats().broadcastDrops).toBe(2);
  });

  it("reports an unexpected failure for one peer through 'peerError'; the others still get it", async () => {
    const { server, tcpPort } = await startServer({ udpPort: false });
    const connected = nextEvent<[Peer]>(server, 'connection');
    await startClient({ tcpPort, udpPort: false });
    const [broken] = await connected;
    const healthy = await startClient({ tcpPort, udpPort: false });
    const fault = new TypeError('a bug in one session');
    broken.connection.sendEncoded = () => {
      throw fault;
    };
    const got = new Promise((resolve) => healthy.handle('news', resolve));
    const reported = nextEvent<[Peer | undefined, Error]>(server, 'peerError');
    expect(server.broadcast('news', 'hello')).toBe(1);
    expect(await reported).toEqual([broken, fault]);
    expect(await got).toBe('hello');
    expect(server.stats().broadcastDrops).toBe(0);
  });
});
