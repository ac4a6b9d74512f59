/**
 * Reliable and unreliable UDP through the public API (createServer/connect), with the client's
 * datagrams passing through a chaos proxy that drops, duplicates, reorders, delays and corrupts.
 */
import { describe, expect, it } from 'vitest';
import { connect, createServer, type Client, type Peer, type Server } from '../../ts/index.js';
import { UdpChaosProxy } from './udp-chaos-proxy.js';
import { pseudoRandomBytes as pattern } from '../support/bytes.js';
import { cleanupAfterEach } from '../support/abuse.js';

const defer = cleanupAfterEach();

interface Setup {
  server: Server;
  client: Client;
  peer: Peer;
  proxy: UdpChaosProxy;
}

async function setup(loss: number, extra: { mtu?: number } = {}, corrupt = loss > 0 ? 0.01 : 0): Promise<Setup> {
  const server = createServer({ host: '127.0.0.1', closeTimeoutMs: 500, ...extra });
  const { tcpPort, udpPort } = await server.listen();
  defer(() => server.close());
  const proxy = await UdpChaosProxy.start({
    target: { port: udpPort!, address: '127.0.0.1' },
    seed: 1234 + Math.round(loss * 100),
    loss,
    duplicate: loss > 0 ? 0.02 : 0,
    reorder: loss > 0 ? 0.05 : 0,
    delayMs: loss > 0 ? 2 : 0,
    reorderDelayMs: 5,
    corrupt,
    corruptFrom: 8,
  });
  defer(() => proxy.close());
  const connected = new Promise<Peer>((resolve) => server.once('connection', resolve));
  const client = await connect({ host: '127.0.0.1', tcpPort, udpPort: proxy.port, closeTimeoutMs: 500, ...extra });
  defer(() => client.close());
  const peer = await connected;
  const until = Date.now() + 10_000;
  while (!client.udpReady && Date.now() < until) await new Promise((resolve) => setTimeout(resolve, 10));
  expect(client.udpReady).toBe(true);
  return { server, client, peer, proxy };
}


function waitFor(check: () => boolean, what: string, timeoutMs: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const started = Date.now();
    const poll = () => {
      if (check()) return resolve();
      if (Date.now() - started > timeoutMs) return reject(new Error(`timed out waiting for ${what}`));
      setTimeout(poll, 10);
    };
    poll();
  });
}

describe.each([0, 0.01, 0.05, 0.2])('reliable UDP through the API at %s loss', (loss) => {
  it('delivers every reliable message exactly once, in order per channel, intact, from 1 byte to 1 MiB', async () => {
    const { server, client, peer } = await setup(loss);
    const sizes = [1, 100, 1199, 1200, 5000, 64 * 1024, 1024 * 1024];
    const received = new Map<number, Array<{ index: number; ok: boolean }>>();
    server.handle<Uint8Array>('item', (payload, _peer, info) => {
      expect(info.transport).toBe('udp');
      const bytes = Buffer.from(payload);
      const channel = bytes[0]!;
      const index = bytes.readUInt32LE(1);
      const list = received.get(channel) ?? [];
      list.push({ index, ok: bytes.subarray(5).equals(pattern(bytes.length - 5, index)) });
      received.set(channel, list);
    });
    const perChannel = loss >= 0.2 ? 12 : 25;
    let total = 0;
    for (let index = 0; index < perChannel; index++) {
      for (const channel of [0, 1]) {
        const size = sizes[(index + channel) % sizes.length]!;
        const message = Buffer.concat([Buffer.from([channel]), Buffer.alloc(4), pattern(size, index)]);
        message.writeUInt32LE(index, 1);
        client.send('item', message, { transport: 'udp', reliable: true, channel });
        total++;
      }
    }
    await waitFor(() => [...received.values()].reduce((n, list) => n + list.length, 0) >= total, `${total} reliable messages`, 60_000);
    for (const channel of [0, 1]) {
      const list = received.get(channel)!;
      expect(list.map((entry) => entry.index)).toEqual(Array.from({ length: perChannel }, (_, i) => i));
      expect(list.every((entry) => entry.ok)).toBe(true);
    }
    const stats = client.udpStats()!;
    expect(stats.messagesSent).toBeGreaterThanOrEqual(total);
    if (loss >= 0.05) expect(stats.retransmissions).toBeGreaterThan(0);
    expect(peer.udpStats()!.messagesDelivered).toBeGreaterThanOrEqual(total);
    // Nothing arrives twice, even after the sender's retransmissions settle.
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect([...received.values()].reduce((n, list) => n + list.length, 0)).toBe(total);
  });

  it('never delivers an unreliable message twice or corrupted', async () => {
    const { server, client } = await setup(loss);
    const seen = new Set<number>();
    let duplicates = 0;
    let corrupted = 0;
    server.handle<Uint8Array>('blip', (payload) => {
      const bytes = Buffer.from(payload);
      const index = bytes.readUInt32LE(0);
      if (seen.has(index)) duplicates++;
      seen.add(index);
      if (!bytes.subarray(4).equals(pattern(bytes.length - 4, index))) corrupted++;
    });
    const count = 400;
    for (let index = 0; index < count; index++) {
      const message = Buffer.concat([Buffer.alloc(4), pattern(index % 3 === 0 ? 3000 : 40, index)]);
      message.writeUInt32LE(index, 0);
      client.send('blip', message, { transport: 'udp' });
      if (index % 50 === 49) await new Promise((resolve) => setTimeout(resolve, 2));
    }
    // A reliable marker sent last on the same path arrives after the unreliable ones it follows.
    const done = new Promise<void>((resolve) => server.handle('marker', () => resolve()));
    client.send('marker', undefined, { transport: 'udp', reliable: true });
    await done;
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(duplicates).toBe(0);
    expect(corrupted).toBe(0);
    if (loss === 0) expect(seen.size).toBe(count);
    else expect(seen.size).toBeGreaterThan(0);
  });
});

describe('reliable UDP through the API', () => {
  it('reports corrupted datagrams as dropped, and ordered channels do not stall each other', async () => {
    const { server, client, peer, proxy } = await setup(0.05, {}, 0.15);
    const order: string[] = [];
    server.handle<{ c: number; i: number }>('tick', (message) => {
      order.push(`${message.c}:${message.i}`);
    });
    for (let i = 0; i < 100; i++) {
      client.send('tick', { c: 3, i }, { transport: 'udp', reliable: true, channel: 3 });
      client.send('tick', { c: 4, i }, { transport: 'udp', reliable: true, channel: 4 });
      // Spread over many datagrams, so that corruption has some to hit.
      if (i % 5 === 4) await new Promise((resolve) => setTimeout(resolve, 1));
    }
    await waitFor(() => order.length >= 200, '200 ticks', 30_000);
    for (const c of [3, 4]) {
      expect(order.filter((entry) => entry.startsWith(`${c}:`))).toEqual(Array.from({ length: 100 }, (_, i) => `${c}:${i}`));
    }
    expect(proxy.counts.corrupted).toBeGreaterThan(0);
    // They come from the address the session already has, so its endpoint verifies and counts
    // them (the server counts in droppedMalformed only what would move a session's address).
    const drops = peer.udpStats()!.drops;
    expect(drops.badChecksum + drops.malformed).toBeGreaterThan(0);
  });

  it('a request over reliable UDP is answered over reliable UDP, through 5% loss', async () => {
    const { server, client, peer } = await setup(0.05);
    server.handle<number>('double', (n) => n * 2);
    const before = peer.stats.udp.messagesOut;
    const tcpBefore = peer.stats.tcp.messagesOut;
    const answers = await Promise.all(Array.from({ length: 50 }, (_, i) => client.request('double', i, { transport: 'udp', reliable: true, timeoutMs: 20_000 })));
    expect(answers).toEqual(Array.from({ length: 50 }, (_, i) => i * 2));
    expect(peer.stats.udp.messagesOut - before).toBe(50);
    expect(peer.stats.tcp.messagesOut).toBe(tcpBefore);
    await expect(client.request('nobody-handles-this', 1, { transport: 'udp', reliable: true, timeoutMs: 20_000 })).rejects.toMatchObject({ code: 'HW_ERR_NO_HANDLER' });
  });

  it('timer options reach both ends: udpMinRtoMs floors the retransmission timeout, the larger ack delay offer wins', async () => {
    expect(() => createServer({ udpMinRtoMs: 0 })).toThrow(/udpMinRtoMs/);
    await expect(connect({ host: '127.0.0.1', tcpPort: 1, udpMinRtoMs: 500, udpMaxRtoMs: 400 })).rejects.toThrow(/udpMaxRtoMs/);
    expect(() => createServer({ udpMaxAckDelayMs: 1001 })).toThrow(/udpMaxAckDelayMs/);
    // Server: 1 ms ack delay, 7 ms RTO floor. Client: 2 ms ack delay, default floor (100 ms).
    const server = createServer({ host: '127.0.0.1', udpMaxAckDelayMs: 1, udpMinRtoMs: 7 });
    const { tcpPort, udpPort } = await server.listen();
    defer(() => server.close());
    const connected = new Promise<Peer>((resolve) => server.once('connection', resolve));
    const client = await connect({ host: '127.0.0.1', tcpPort, udpPort: udpPort!, udpMaxAckDelayMs: 2 });
    defer(() => client.close());
    const peer = await connected;
    let echoed = 0;
    client.on('message', () => echoed++);
    server.handle<number>('ping', (n, from) => {
      from.send('pong', n, { transport: 'udp', reliable: true });
    });
    await waitFor(() => client.udpReady, 'the UDP path', 10_000);
    for (let i = 0; i < 50; i++) client.send('ping', i, { transport: 'udp', reliable: true });
    await waitFor(() => echoed === 50, '50 echoes', 10_000);
    // The echoes' acknowledgements are what give the server its round-trip samples.
    await waitFor(() => peer.udpStats()!.messagesInFlight === 0, 'the echoes to be acknowledged', 10_000);
    // On loopback SRTT and its variance are well under a millisecond, so each RTO is
    // max(floor, SRTT + 4 RTTVAR + ack delay): the server's is its 7 ms floor or just above the
    // negotiated 2 ms delay; the client's is its default 100 ms floor.
    expect(peer.udpStats()!.rtoMs).toBeGreaterThanOrEqual(7);
    expect(peer.udpStats()!.rtoMs).toBeLessThan(50);
    expect(client.udpStats()!.rtoMs).toBe(100);
  });

  it.runIf(process.platform === 'linux')(
    'path MTU discovery: over loopback datagrams grow from the 1200-byte base to 65507 bytes; udpMaxMtu caps it, and a peer that offers no cap keeps the base',
    async () => {
      const server = createServer({ host: '127.0.0.1' });
      const { tcpPort, udpPort } = await server.listen();
      defer(() => server.close());
      const connected = new Promise<Peer>((resolve) => server.once('connection', resolve));
      const client = await connect({ host: '127.0.0.1', tcpPort, udpPort: udpPort!, udpMaxMtu: 9000 });
      defer(() => client.close());
      const peer = await connected;
      const got: Buffer[] = [];
      server.handle<Uint8Array>('blob', (payload) => {
        got.push(Buffer.from(payload));
      });
      client.on('message', () => {});
      await waitFor(() => client.udpReady, 'the UDP path', 10_000);
      client.send('blob', pattern(100, 1), { transport: 'udp', reliable: true });
      // The smaller offer (the client's 9000) bounds both directions; loopback carries it.
      await waitFor(() => client.udpStats()?.pathMtu === 9000, 'the client to find 9000', 10_000);
      peer.send('hello', 1, { transport: 'udp', reliable: true });
      await waitFor(() => peer.udpStats()?.pathMtu === 9000, 'the server to find 9000', 10_000);
      const before = client.udpStats()!.datagramsSent;
      const big = pattern(8000, 2);
      client.send('blob', big, { transport: 'udp', reliable: true });
      await waitFor(() => got.length === 2, 'the 8000-byte message', 10_000);
      expect(got[1]!.equals(big)).toBe(true);
      // One datagram where the base size would take eight.
      expect(client.udpStats()!.datagramsSent - before).toBeLessThanOrEqual(2);

      const unbounded = createServer({ host: '127.0.0.1' });
      const ports = await unbounded.listen();
      defer(() => unbounded.close());
      const wide = await connect({ host: '127.0.0.1', tcpPort: ports.tcpPort, udpPort: ports.udpPort! });
      defer(() => wide.close());
      await waitFor(() => wide.udpReady, 'the UDP path', 10_000);
      wide.send('x', 1, { transport: 'udp', reliable: true });
      await waitFor(() => wide.udpStats()?.pathMtu === 65507, 'the default search to reach 65507', 10_000);

      const pinned = await connect({ host: '127.0.0.1', tcpPort: ports.tcpPort, udpPort: ports.udpPort!, udpMaxMtu: 1200 });
      defer(() => pinned.close());
      await waitFor(() => pinned.udpReady, 'the UDP path', 10_000);
      pinned.send('x', 1, { transport: 'udp', reliable: true });
      await new Promise((resolve) => setTimeout(resolve, 100));
      expect(pinned.udpStats()).toMatchObject({ pathMtu: 1200, mtuProbesSent: 0 });
    },
  );

  it('step mode maps onto a window of one reliable message', async () => {
    const server = createServer({ host: '127.0.0.1' });
    const { tcpPort, udpPort } = await server.listen();
    defer(() => server.close());
    const client = await connect({ host: '127.0.0.1', tcpPort, udpPort: udpPort!, mode: 'step' });
    defer(() => client.close());
    const got: number[] = [];
    server.handle<number>('n', (n) => {
      got.push(n);
    });
    for (let i = 0; i < 20; i++) client.send('n', i, { transport: 'udp', reliable: true });
    await waitFor(() => got.length === 20, '20 messages', 10_000);
    expect(got).toEqual(Array.from({ length: 20 }, (_, i) => i));
    // Read once the endpoint exists: sent before the UDP path was validated, the messages waited
    // for it (docs/PROTOCOL.md 4.3) and the endpoint was built when they went out.
    expect(client.udpStats()!.window).toBe(1);
  });
});
