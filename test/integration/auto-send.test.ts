/** ts/selection/auto-send.ts: 'auto' through send(), request() and broadcast(), and the server's totals. */
import { afterEach, describe, expect, it } from 'vitest';
import { connect, createServer, type Client, type Peer } from '../../ts/index.js';
import { waitUntil, within } from '../support/wait.js';

const cleanup: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const step of cleanup.splice(0).reverse()) await step().catch(() => {});
});

describe("transport 'auto' through the session API", () => {
  it('counts per session, in broadcasts too, and the server sums them with closed sessions included', async () => {
    const server = createServer({ host: '127.0.0.1', autoProbeIntervalMs: 20 });
    const { tcpPort, udpPort } = await server.listen();
    cleanup.push(() => server.close());
    const clients: Client[] = [];
    const peers: Peer[] = [];
    server.on('connection', (peer) => peers.push(peer));
    for (let i = 0; i < 2; i++) {
      const client = await connect({ host: '127.0.0.1', tcpPort, udpPort, autoProbeIntervalMs: 20 });
      cleanup.push(() => client.close());
      clients.push(client);
    }
    await waitUntil(() => peers.length === 2 && clients.every((client) => client.udpReady), 5000, 'two sessions with UDP');
    expect(server.stats().selection).toEqual({ tcp: 0, udp: 0, udpReliable: 0 });
    const got = clients.map((client) => new Promise((resolve) => client.handle('news', (_payload, _client, info) => resolve(info.transport))));
    // Large: TCP for both, whatever their UDP paths.
    expect(server.broadcast('news', Buffer.alloc(5000), { transport: 'auto' })).toBe(2);
    expect(await within(Promise.all(got), 5000, 'the broadcast')).toEqual(['tcp', 'tcp']);
    expect(peers.map((peer) => peer.stats.selection.reason)).toEqual(['reliable-large', 'reliable-large']);

    server.handle<string>('upper', (text) => text.toUpperCase());
    expect(await clients[0]!.request('upper', 'auto', { transport: 'auto', reliable: false })).toBe('AUTO');
    expect(clients[0]!.stats!.selection).toMatchObject({ udp: 1, reason: 'unreliable-small' });
    await clients[0]!.sendWhenReady('upper', 'x', { transport: 'auto' });
    expect(clients[0]!.stats!.selection).toMatchObject({ udp: 1, udpReliable: 1, reason: 'reliable-small' });

    expect(server.stats().selection).toEqual({ tcp: 2, udp: 0, udpReliable: 0 });
    // A closed session's counts stay in the totals.
    const gone = new Promise((resolve) => server.once('disconnect', resolve));
    await clients[1]!.close();
    await within(gone, 5000, 'the disconnect');
    expect(server.stats().selection).toEqual({ tcp: 2, udp: 0, udpReliable: 0 });
  });

  it('counts only what left: a send or request that throws (a full send queue) is not counted', async () => {
    const server = createServer({ host: '127.0.0.1' });
    const { tcpPort, udpPort } = await server.listen();
    cleanup.push(() => server.close());
    server.handle('echo', (payload) => payload);
    const client = await connect({ host: '127.0.0.1', tcpPort, udpPort, maxQueueBytes: 2000, highWaterMark: 2000 });
    cleanup.push(() => client.close());
    // 5000 bytes: TCP whatever the UDP path, and more than the queue may hold.
    expect(() => client.send('echo', Buffer.alloc(5000), { transport: 'auto' })).toThrow(expect.objectContaining({ code: 'HW_ERR_SEND_QUEUE_FULL' }));
    await expect(client.request('echo', Buffer.alloc(5000), { transport: 'auto' })).rejects.toMatchObject({ code: 'HW_ERR_SEND_QUEUE_FULL' });
    expect(client.stats!.selection).toMatchObject({ tcp: 0, udp: 0, udpReliable: 0 });
    expect(await client.request('echo', Buffer.alloc(1500), { transport: 'auto' })).toHaveLength(1500);
    expect(client.stats!.selection).toMatchObject({ tcp: 1, udp: 0, udpReliable: 0 });
  });
});
