/**
 * transport: 'auto' through the public API, the client's datagrams passing through a relay
 * (./udp-chaos-proxy.ts) that is clean, blocks UDP entirely, or loses 30% in each direction.
 */
import { describe, expect, it } from 'vitest';
import { connect, createServer, type Client, type MessageInfo, type Peer, type Server } from '../../ts/index.js';
import { UdpChaosProxy } from './udp-chaos-proxy.js';
import { waitUntil, within } from '../support/wait.js';
import { cleanupAfterEach } from '../support/abuse.js';

const defer = cleanupAfterEach();

interface Setup {
  server: Server;
  client: Client;
  peer: Peer;
  proxy: UdpChaosProxy;
  /** How each 'm' message arrived at the server, by its payload. */
  arrivals: Map<number, MessageInfo['transport']>;
}

async function setup(options: { loss?: number; blocked?: boolean } = {}): Promise<Setup> {
  const server = createServer({ host: '127.0.0.1', closeTimeoutMs: 500, autoProbeIntervalMs: 20 });
  const arrivals = new Map<number, MessageInfo['transport']>();
  server.handle<number | Uint8Array>('m', (payload, _peer, info) => {
    arrivals.set(typeof payload === 'number' ? payload : Buffer.from(payload.buffer, payload.byteOffset, payload.length).readUInt32LE(0), info.transport);
  });
  const { tcpPort, udpPort } = await server.listen();
  defer(() => server.close());
  const proxy = await UdpChaosProxy.start({ target: { port: udpPort!, address: '127.0.0.1' }, seed: 30, loss: options.loss ?? 0 });
  if (options.blocked) proxy.filter = () => false;
  defer(() => proxy.close());
  const connected = new Promise<Peer>((resolve) => server.once('connection', resolve));
  const client = await connect({ host: '127.0.0.1', tcpPort, udpPort: proxy.port, closeTimeoutMs: 500, autoProbeIntervalMs: 20, autoBlockedAfterMs: 200, autoMaxLossPercent: 10 });
  defer(() => client.close());
  const peer = await within(connected, 5000, 'the connection');
  return { server, client, peer, proxy, arrivals };
}

/** A binary payload of `size` bytes numbered `n`. */
function numbered(n: number, size: number): Buffer {
  const payload = Buffer.alloc(size, 0x5a);
  payload.writeUInt32LE(n, 0);
  return payload;
}

describe("transport: 'auto'", () => {
  it('on a clean path: small reliable messages over reliable UDP, large ones over TCP, small unreliable ones over UDP', async () => {
    const { client, peer, server, arrivals } = await setup();
    await waitUntil(() => client.udpReady, 5000, 'the UDP path ready');
    expect(client.stats!.selection).toMatchObject({ tcp: 0, udp: 0, udpReliable: 0, reason: 'none' });

    client.send('m', 1, { transport: 'auto' });
    expect(client.stats!.selection.reason).toBe('reliable-small');
    client.send('m', numbered(2, 20_000), { transport: 'auto' });
    expect(client.stats!.selection.reason).toBe('reliable-large');
    client.send('m', numbered(3, 20_000), { transport: 'auto', reliable: false });
    expect(client.stats!.selection.reason).toBe('unreliable-large');
    client.send('m', 4, { transport: 'auto', reliable: false });
    expect(client.stats!.selection.reason).toBe('unreliable-small');
    expect(client.stats!.selection).toMatchObject({ tcp: 1, udp: 1, udpReliable: 2 });
    // The reliable ones arrive, each the way it was sent (the unreliable one may be lost, as a datagram may).
    await waitUntil(() => arrivals.has(1) && arrivals.has(2) && arrivals.has(3), 5000, () => `the reliable messages (arrived: ${JSON.stringify([...arrivals])})`);
    expect([arrivals.get(1), arrivals.get(2), arrivals.get(3)]).toEqual(['udp', 'tcp', 'udp']);

    // A request goes the chosen way, and the probes measure the path.
    server.handle<number>('double', (n) => n * 2);
    expect(await client.request('double', 21, { transport: 'auto' })).toBe(42);
    expect(client.stats!.selection.udpReliable).toBe(3);
    await waitUntil(() => client.stats!.selection.probesAnswered >= 3, 5000, 'three probes answered');
    expect(client.stats!.selection.udpRttMs).toBeGreaterThan(0);

    // The server's side chooses too, for its own sends.
    const got = new Promise((resolve) => client.handle('back', (_payload, _client, info) => resolve(info.transport)));
    peer.send('back', 'hello', { transport: 'auto' });
    expect(await within(got, 5000, 'the server\'s auto send')).toBe('udp');
    expect(peer.stats.selection).toMatchObject({ udpReliable: 1, reason: 'reliable-small' });
    expect(server.stats().selection).toEqual({ tcp: 0, udp: 0, udpReliable: 1 });
  });

  it('falls back to TCP when UDP is blocked, and moves to UDP once datagrams get through', async () => {
    const { client, proxy, arrivals } = await setup({ blocked: true });
    let n = 0;
    client.send('m', n++, { transport: 'auto' });
    // Nothing answered yet: TCP while the path may still come up...
    expect(client.stats!.selection.reason).toBe('udp-not-ready');
    // ...and blocked once autoBlockedAfterMs has passed without an answer.
    await waitUntil(() => {
      client.send('m', n++, { transport: 'auto' });
      return client.stats!.selection.reason === 'udp-blocked';
    }, 5000, "the reason 'udp-blocked'");
    const sent = n;
    expect(client.stats!.selection).toMatchObject({ tcp: sent, udp: 0, udpReliable: 0 });
    await waitUntil(() => arrivals.size === sent, 5000, `${sent} messages at the server`);
    expect(new Set(arrivals.values())).toEqual(new Set(['tcp']));
    expect(proxy.counts.filtered).toBeGreaterThan(0);

    // UDP unblocked: the client's announcement, still probing, gets its answer.
    proxy.filter = undefined;
    await waitUntil(() => client.udpReady, 10_000, 'the UDP path ready once unblocked');
    client.send('m', n, { transport: 'auto' });
    expect(client.stats!.selection.reason).toBe('reliable-small');
    await waitUntil(() => arrivals.has(n), 5000, 'the message over UDP');
    expect(arrivals.get(n)).toBe('udp');
  });

  it('falls back to TCP on a path losing 30%, and returns to UDP when the loss stops', async () => {
    const { client, proxy, arrivals } = await setup({ loss: 0.3 });
    await waitUntil(() => client.udpReady, 10_000, 'the UDP path ready despite the loss');
    let n = 0;
    await waitUntil(() => {
      client.send('m', n++, { transport: 'auto' });
      return client.stats!.selection.reason === 'udp-loss';
    }, 10_000, "the reason 'udp-loss'");
    const selection = client.stats!.selection;
    expect(selection.udpLoss).toBeGreaterThan(0.1);
    // Every message sent since the loss was measured went over TCP, and arrived.
    const before = selection.tcp;
    for (let i = 0; i < 20; i++) client.send('m', n++, { transport: 'auto' });
    expect(client.stats!.selection.tcp).toBe(before + 20);
    const last = n - 1;
    await waitUntil(() => arrivals.get(last) === 'tcp', 5000, 'the last message over TCP');

    // The probes go on; once the loss stops, UDP is chosen again.
    proxy.rates.loss = 0;
    await waitUntil(() => {
      client.send('m', n++, { transport: 'auto' });
      return client.stats!.selection.reason === 'reliable-small';
    }, 15_000, 'UDP chosen again');
    expect(client.stats!.selection.udpLoss).toBeLessThanOrEqual(0.1);
  });

  it('on a session without UDP: TCP, udp-unavailable', async () => {
    const server = createServer({ host: '127.0.0.1', udpPort: false });
    const { tcpPort } = await server.listen();
    defer(() => server.close());
    const client = await connect({ host: '127.0.0.1', tcpPort });
    defer(() => client.close());
    client.send('m', 1, { transport: 'auto', reliable: false });
    expect(client.stats!.selection).toMatchObject({ tcp: 1, udp: 0, udpReliable: 0, reason: 'udp-unavailable', probesSent: 0 });
  });
});
