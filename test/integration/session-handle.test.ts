import { describe, expect, it } from 'vitest';
import type { Peer } from '../../ts/index.js';
import { nextEvent } from '../support/raw-peer.js';
import { closeAfterEach, startClient, startServer, waitUntil } from '../support/sessions.js';

closeAfterEach();

const BAD_TYPES: Array<[string, unknown]> = [
  ['empty', ''],
  ['256 ASCII bytes', 'x'.repeat(256)],
  ['256 UTF-8 bytes in 128 characters', 'é'.repeat(128)],
  ['a number', 42],
  ['undefined', undefined],
];

async function connectedPair(options: { udp: boolean }) {
  const { server, tcpPort, udpPort } = await startServer(options.udp ? {} : { udpPort: false });
  const connected = nextEvent<[Peer]>(server, 'connection');
  const client = await startClient({ tcpPort, udpPort: options.udp ? udpPort : false });
  const [peer] = await connected;
  if (options.udp) await waitUntil(() => client.udpReady, 'the UDP path');
  return { server, client, peer };
}

describe('type names are checked on send', () => {
  it.each(BAD_TYPES)('a type that is %s throws HW_ERR_INVALID_ARGUMENT at the sender and never reaches the peer', async (_what, type) => {
    const { server, client, peer } = await connectedPair({ udp: true });
    const arrived: string[] = [];
    server.on('message', (name) => arrived.push(name));
    client.on('message', (name) => arrived.push(name));
    const peerErrors: Error[] = [];
    server.on('peerError', (_peer, error) => peerErrors.push(error));
    const bad = type as string;
    const code = { code: 'HW_ERR_INVALID_ARGUMENT' };
    expect(() => client.send(bad, 'payload')).toThrow(expect.objectContaining(code));
    expect(() => client.send(bad, new Uint8Array(3), { transport: 'udp' })).toThrow(expect.objectContaining(code));
    expect(() => peer.send(bad, 'payload')).toThrow(expect.objectContaining(code));
    await expect(client.request(bad, 'payload')).rejects.toMatchObject(code);
    await expect(peer.request(bad, 'payload')).rejects.toMatchObject(code);
    // Both sessions go on, and the next message of a good type is the first thing to arrive.
    client.send('after', 1);
    peer.send('after', 2);
    await waitUntil(() => arrived.length === 2, 'the messages after the refused ones');
    expect(arrived).toEqual(['after', 'after']);
    expect(await client.request('ping')).toBe('pong');
    expect(peerErrors).toEqual([]);
    expect(client.state).toBe('connected');
  });

  it('a type name of exactly 255 UTF-8 bytes is sent over TCP and UDP', async () => {
    const { server, client } = await connectedPair({ udp: true });
    const longest = 'é'.repeat(127) + 'x';
    const arrived: Array<[string, string]> = [];
    server.handle(longest, (payload: string, _peer, info) => arrived.push([payload, info.transport]));
    client.send(longest, 'tcp');
    client.send(longest, 'udp', { transport: 'udp', reliable: true });
    await waitUntil(() => arrived.length === 2, 'both messages');
    expect(arrived.sort()).toEqual([
      ['tcp', 'tcp'],
      ['udp', 'udp'],
    ]);
  });
});

describe('Peer and Client share send, request and stats', () => {
  it("Peer.request times out after the server's requestTimeoutMs, or the call's timeoutMs", async () => {
    const { server, tcpPort } = await startServer({ udpPort: false, requestTimeoutMs: 50 });
    const connected = nextEvent<[Peer]>(server, 'connection');
    // A handler that never settles holds a graceful close for closeTimeoutMs.
    const client = await startClient({ tcpPort, udpPort: false, closeTimeoutMs: 100 });
    const [peer] = await connected;
    client.handle('never', () => new Promise(() => {}));
    await expect(peer.request('never')).rejects.toMatchObject({ code: 'HW_ERR_REQUEST_TIMEOUT', message: expect.stringContaining('50 ms') });
    await expect(peer.request('never', undefined, { timeoutMs: 20 })).rejects.toMatchObject({ code: 'HW_ERR_REQUEST_TIMEOUT', message: expect.stringContaining('20 ms') });
  }, 3000);

  it('Peer.request can be aborted through its signal, and rejects rather than throws once the peer is gone', async () => {
    const { server, tcpPort } = await startServer({ udpPort: false });
    const connected = nextEvent<[Peer]>(server, 'connection');
    const client = await startClient({ tcpPort, udpPort: false, closeTimeoutMs: 100 });
    const [peer] = await connected;
    client.handle('never', () => new Promise(() => {}));
    const controller = new AbortController();
    const pending = peer.request('never', undefined, { signal: controller.signal });
    controller.abort();
    await expect(pending).rejects.toMatchObject({ name: 'AbortError' });
    const gone = nextEvent(peer, 'close');
    await client.close();
    await gone;
    const late = peer.request('ping');
    expect(late).toBeInstanceOf(Promise);
    await expect(late).rejects.toMatchObject({ code: 'HW_ERR_NOT_CONNECTED' });
  });

  it('stats is a snapshot: later traffic does not change an object already read', async () => {
    const { server, client, peer } = await connectedPair({ udp: false });
    const got = new Promise((resolve) => server.handle('count', resolve));
    const clientBefore = client.stats!;
    const peerBefore = peer.stats;
    expect(client.stats).not.toBe(clientBefore);
    client.send('count', 1);
    await got;
    await waitUntil(() => peer.stats.tcp.messagesIn === peerBefore.tcp.messagesIn + 1, 'the peer to count the message');
    expect(clientBefore.tcp.messagesOut).toBe(client.stats!.tcp.messagesOut - 1);
    expect(peerBefore.tcp.messagesIn).toBe(peer.stats.tcp.messagesIn - 1);
    expect(peer.queuedBytes).toBe(peer.stats.queuedBytes);
  });
});
