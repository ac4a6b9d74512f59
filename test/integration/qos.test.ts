/**
 * Priorities and rate limits (ts/qos) over real sockets on 127.0.0.1, port 0: queued high-priority
 * messages overtake normal and low ones, low ones are not starved, each rate-limit action of a
 * server (delay, drop, disconnect; the error reply to a dropped request) and a client's own shaping.
 */
import { describe, expect, it } from 'vitest';
import type { Peer } from '../../ts/api/peer.js';
import { nextEvent } from '../support/raw-peer.js';
import { closeAfterEach, startClient, startServer, waitUntil } from '../support/sessions.js';
import { within } from '../support/wait.js';

closeAfterEach();

/** A server that records the payload of every 'm' message, in order of arrival. */
async function recordingServer(options: Parameters<typeof startServer>[0] = {}) {
  const started = await startServer({ udpPort: false, ...options });
  const arrived: string[] = [];
  started.server.handle('m', (payload: Uint8Array) => {
    arrived.push(Buffer.from(payload).toString('latin1').replace(/ +$/, ''));
  });
  return { ...started, arrived };
}

/** high0..high{n-1}, then normal0.., then low0.. */
function inPriorityOrder(count: number): string[] {
  return ['high', 'normal', 'low'].flatMap((name) => Array.from({ length: count }, (_, i) => `${name}${i}`));
}

/** A binary payload of `size` bytes that starts with `label` (padded with spaces). */
function labelled(label: string, size: number): Buffer {
  return Buffer.from(label.padEnd(size, ' '), 'latin1');
}

describe('priorities', () => {
  it('messages queued behind a full window leave high first, then normal, then low, each in order', async () => {
    const { tcpPort, arrived } = await recordingServer();
    // A window of 2 frames: what a turn sends past it waits for the server's acknowledgements.
    const client = await startClient({ tcpPort, udpPort: false, windowSize: 2 });
    // Large enough for a frame each: the window is full within this synchronous turn.
    for (let i = 0; i < 6; i++) client.send('m', labelled(`fill${i}`, 2000));
    const order: Array<['high' | 'normal' | 'low', string]> = [];
    for (let i = 0; i < 10; i++) order.push(['low', `low${i}`], ['normal', `normal${i}`], ['high', `high${i}`]);
    for (const [priority, label] of order) client.send('m', labelled(label, 100), { priority });
    await waitUntil(() => arrived.length === 36, 'all 36 messages to arrive');
    // Sent interleaved (low, normal, high, low...), they arrive by priority, each in order.
    expect(arrived.filter((label) => !label.startsWith('fill'))).toEqual(inPriorityOrder(10));
    expect(arrived.filter((label) => label.startsWith('fill'))).toEqual(Array.from({ length: 6 }, (_, i) => `fill${i}`));
    const qos = client.stats!.qos;
    expect(qos.high).toMatchObject({ queued: 10, sent: 10, waiting: 0 });
    expect(qos.low).toMatchObject({ queued: 10, sent: 10, waiting: 0 });
  });

  it('messages queued behind a paused reader (congested socket) leave in priority order once it reads again', async () => {
    const { server, tcpPort, arrived } = await recordingServer();
    const connection = nextEvent<[Peer]>(server, 'connection');
    const client = await startClient({ tcpPort, udpPort: false });
    const [peer] = await connection;
    peer.connection.socket.pause();
    // More than loopback's socket buffers hold: the client's socket stays congested. Low
    // priority, so that those which must wait queue ahead of low0..4 in their queue.
    for (let i = 0; i < 32; i++) client.send('m', labelled(`fill${i}`, 1024 * 1024), { priority: 'low' });
    await new Promise((resolve) => setImmediate(resolve));
    expect(client.connection!.socket.writableNeedDrain).toBe(true);
    for (let i = 0; i < 5; i++) {
      client.send('m', labelled(`low${i}`, 64), { priority: 'low' });
      client.send('m', labelled(`normal${i}`, 64));
      client.send('m', labelled(`high${i}`, 64), { priority: 'high' });
    }
    expect(client.stats!.qos.high.waiting).toBe(5);
    peer.connection.socket.resume();
    await waitUntil(() => arrived.length === 47, 'all 47 messages to arrive', 20_000);
    expect(arrived.filter((label) => !label.startsWith('fill'))).toEqual(inPriorityOrder(5));
    expect(arrived.filter((label) => label.startsWith('fill'))).toEqual(Array.from({ length: 32 }, (_, i) => `fill${i}`));
    // The high and normal ones overtook the fill messages that had to wait.
    expect(arrived.indexOf('normal4')).toBeLessThan(arrived.indexOf('fill31'));
  });

  it('low-priority messages are not starved by a long backlog of high-priority ones', async () => {
    const { tcpPort, arrived } = await recordingServer();
    const client = await startClient({ tcpPort, udpPort: false, windowSize: 2 });
    for (let i = 0; i < 6; i++) client.send('m', labelled(`fill${i}`, 2000));
    for (let i = 0; i < 400; i++) client.send('m', labelled(`high${i}`, 1000), { priority: 'high' });
    for (let i = 0; i < 5; i++) client.send('m', labelled(`low${i}`, 100), { priority: 'low' });
    await waitUntil(() => arrived.length === 411, 'all 411 messages to arrive', 10_000);
    const lastLow = arrived.indexOf('low4');
    // With 8:4:1 weights by bytes, low gets its first turn after about 32 KiB of high ones.
    expect(lastLow).toBeGreaterThan(6);
    expect(lastLow).toBeLessThan(6 + 64);
    expect(arrived.filter((label) => label.startsWith('low'))).toEqual(['low0', 'low1', 'low2', 'low3', 'low4']);
  });

  it('refuses a priority that is not high, normal or low', async () => {
    const { tcpPort } = await recordingServer();
    const client = await startClient({ tcpPort, udpPort: false });
    expect(() => client.send('m', Buffer.from('x'), { priority: 'urgent' as never })).toThrow(expect.objectContaining({ code: 'HW_ERR_INVALID_ARGUMENT' }));
  });
});

describe('server rate limits', () => {
  it('are validated at construction: HW_ERR_INVALID_OPTION naming the option and its range', async () => {
    const { createServer } = await import('../../ts/index.js');
    expect(() => createServer({ rateLimit: { messagesPerSecond: 2e9 } })).toThrow(
      expect.objectContaining({ code: 'HW_ERR_INVALID_OPTION', message: expect.stringContaining('rateLimit.messagesPerSecond must be an integer from 0 to 1000000000') }),
    );
    expect(() => createServer({ rateLimits: { chat: { messagesPerSecond: 1, action: 'kick' as never } } })).toThrow(expect.objectContaining({ code: 'HW_ERR_INVALID_OPTION', option: 'rateLimits.chat.action' }));
  });

  it("'drop' discards and counts messages over the limit of their type; other types pass", async () => {
    const { server, tcpPort } = await startServer({ udpPort: false, rateLimits: { flood: { messagesPerSecond: 1, burst: 5, action: 'drop' } } });
    let flooded = 0;
    server.handle('flood', () => void flooded++);
    server.handle('done', () => 'done');
    const client = await startClient({ tcpPort, udpPort: false });
    for (let i = 0; i < 50; i++) client.send('flood', Buffer.from([i]));
    // Sent after them over the same TCP stream: once it is answered, all 50 have been taken.
    expect(await client.request('done')).toBe('done');
    expect(flooded).toBeGreaterThanOrEqual(5);
    expect(flooded).toBeLessThan(10);
    expect(server.stats().qos.dropped).toBe(50 - flooded);
    expect(client.state).toBe('connected');
  });

  it("an over-limit request under 'drop' gets the error reply HW_ERR_RATE_LIMITED and the session stays", async () => {
    const { server, tcpPort } = await startServer({ udpPort: false, rateLimit: { messagesPerSecond: 1, burst: 3, action: 'drop' } });
    server.handle('work', () => 'ok');
    const client = await startClient({ tcpPort, udpPort: false });
    const results = await Promise.allSettled(Array.from({ length: 10 }, () => client.request('work')));
    const refused = results.filter((result) => result.status === 'rejected');
    expect(results.filter((result) => result.status === 'fulfilled').length).toBeGreaterThanOrEqual(3);
    expect(refused.length).toBeGreaterThan(0);
    for (const result of refused) expect((result as PromiseRejectedResult).reason).toMatchObject({ code: 'HW_ERR_RATE_LIMITED' });
    expect(server.stats().qos.dropped).toBe(refused.length);
    expect(client.state).toBe('connected');
  });

  it("'disconnect' closes the peer with ERROR HW_ERR_RATE_LIMITED", async () => {
    const { server, tcpPort } = await startServer({ udpPort: false, rateLimits: [{ match: 'flood', messagesPerSecond: 1, burst: 5, action: 'disconnect' }] });
    server.handle('flood', () => {});
    const client = await startClient({ tcpPort, udpPort: false });
    const disconnected = nextEvent<[Error | undefined]>(client, 'disconnect');
    for (let i = 0; i < 50; i++) client.send('flood', Buffer.from([i]));
    const [error] = await within(disconnected, 5000, "the client's disconnect");
    expect(error).toMatchObject({ code: 'HW_ERR_RATE_LIMITED' });
    expect(server.stats().qos.disconnected).toBe(1);
  });

  it("'delay' stops reading the peer until the bucket refills, and loses nothing", async () => {
    const { server, tcpPort, arrived } = await recordingServer({ rateLimit: { messagesPerSecond: 20, burst: 5, action: 'delay' } });
    const client = await startClient({ tcpPort, udpPort: false });
    for (let i = 0; i < 40; i++) client.send('m', labelled(`m${i}`, 10));
    // Reading stops after the burst: the rest waits in the peer's socket, not in the server.
    await waitUntil(() => arrived.length >= 5, 'the burst to arrive');
    expect(arrived.length).toBeLessThan(40);
    await waitUntil(() => arrived.length === 40, 'all 40 messages to arrive', 10_000);
    expect(arrived).toEqual(Array.from({ length: 40 }, (_, i) => `m${i}`));
    const qos = server.stats().qos;
    expect(qos.delayed).toBeGreaterThan(0);
    expect(qos.dropped).toBe(0);
  });
});

describe('client shaping', () => {
  it("a client's rateLimit makes sends past the burst wait, in order, and drops none", async () => {
    const { tcpPort, arrived } = await recordingServer();
    const client = await startClient({ tcpPort, udpPort: false, rateLimit: { messagesPerSecond: 50, burst: 5 } });
    for (let i = 0; i < 40; i++) client.send('m', labelled(`m${i}`, 10));
    const qos = client.stats!.qos;
    // 5 pass at once; the rest wait for tokens, behind one another (a slow turn may have let a few leave already).
    expect(qos.normal.queued).toBeGreaterThan(20);
    expect(qos.normal.waiting).toBeGreaterThan(0);
    await waitUntil(() => arrived.length === 40, 'all 40 messages to arrive', 10_000);
    expect(arrived).toEqual(Array.from({ length: 40 }, (_, i) => `m${i}`));
    expect(client.stats!.qos.normal).toMatchObject({ sent: 40, waiting: 0 });
  });

  it('a client refuses a rateLimit that would drop or disconnect', async () => {
    const { connect } = await import('../../ts/index.js');
    await expect(connect({ tcpPort: 1, rateLimit: { messagesPerSecond: 10, action: 'drop' } })).rejects.toMatchObject({ code: 'HW_ERR_INVALID_OPTION' });
  });
});

describe('the pub/sub seam', () => {
  it("a server peer's connection has its limiter, whose admitTopic() applies the rateLimits filters", async () => {
    const { server, tcpPort } = await startServer({ udpPort: false, rateLimits: { 'sensors/#': { messagesPerSecond: 1, burst: 1, action: 'drop' } } });
    const connection = nextEvent<[Peer]>(server, 'connection');
    const client = await startClient({ tcpPort, udpPort: false });
    const [peer] = await connection;
    const limiter = peer.connection.rateLimiter!;
    expect([limiter.admitTopic('sensors/a', 5), limiter.admitTopic('sensors/b', 5), limiter.admitTopic('news', 5)]).toEqual([true, false, true]);
    expect(client.connection!.rateLimiter).toBeUndefined();
  });
});
