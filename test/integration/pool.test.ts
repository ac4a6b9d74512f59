/** ts/pool/pool.ts: createPool() against a real server on 127.0.0.1, port 0. */
import { once } from 'node:events';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createPool, createServer, type Peer, type Pool, type Server } from '../../ts/index.js';
import { waitUntil, within } from '../support/wait.js';

const cleanup: Array<() => Promise<unknown> | unknown> = [];
afterEach(async () => {
  for (const step of cleanup.splice(0).reverse()) await Promise.resolve(step()).catch(() => {});
});

async function startServer(options: Parameters<typeof createServer>[0] = {}): Promise<{ server: Server; tcpPort: number }> {
  const server = createServer({ host: '127.0.0.1', udpPort: false, ...options });
  const { tcpPort } = await server.listen();
  cleanup.push(() => server.close());
  return { server, tcpPort };
}

async function startPool(options: Parameters<typeof createPool>[0]): Promise<Pool> {
  const pool = await createPool(options);
  cleanup.push(() => pool.close());
  return pool;
}

/** A handler whose replies wait until release() is called; records which peer each request came from. */
function heldReplies(server: Server) {
  const peers: string[] = [];
  const waiting: Array<() => void> = [];
  server.handle<string>('held', (value, peer) => {
    peers.push(peer.id);
    return new Promise((resolve) => waiting.push(() => resolve(`${value}!`)));
  });
  return { peers, release: () => waiting.splice(0).forEach((resolve) => resolve()), count: () => waiting.length };
}

describe('createPool', () => {
  it('opens size connections and gives each request to the one with the fewest pending', async () => {
    const { server, tcpPort } = await startServer();
    const held = heldReplies(server);
    const pool = await startPool({ host: '127.0.0.1', tcpPort, size: 3 });
    expect(server.peers.size).toBe(3);
    expect(pool.stats().open).toBe(3);
    const replies = ['a', 'b', 'c'].map((value) => pool.request('held', value));
    await waitUntil(() => held.count() === 3, 5000, 'three held requests at the server');
    // One pending on each: every connection got one.
    expect(new Set(held.peers).size).toBe(3);
    expect(pool.stats().pending).toBe(3);
    expect(pool.stats().connections.map((connection) => connection.pending)).toEqual([1, 1, 1]);
    held.release();
    expect(await Promise.all(replies)).toEqual(['a!', 'b!', 'c!']);
    expect(pool.stats().pending).toBe(0);

    // Messages spread over the connections in turn when none is busier.
    const from = new Map<string, number>();
    server.handle('note', (_payload, peer) => void from.set(peer.id, (from.get(peer.id) ?? 0) + 1));
    for (let i = 0; i < 9; i++) pool.send('note', i);
    await waitUntil(() => [...from.values()].reduce((a, b) => a + b, 0) === 9, 5000, 'nine notes');
    expect([...from.values()]).toEqual([3, 3, 3]);
    expect(pool.stats()).toMatchObject({ sent: 9, requests: 3 });
  });

  it('replaces a connection the server drops, and keeps serving meanwhile', async () => {
    const { server, tcpPort } = await startServer();
    server.handle<number>('double', (n) => n * 2);
    const held = heldReplies(server);
    const pool = await startPool({ host: '127.0.0.1', tcpPort, size: 2, replaceBackoff: { initialDelayMs: 20 } });
    // A request in flight on the lost connection fails; the pool does not send it again.
    const inFlight = pool.request('held', 'lost').then(
      () => 'answered',
      (error: { code?: string }) => error.code,
    );
    await waitUntil(() => held.count() === 1, 5000, 'the held request');
    const victim = server.peers.get(held.peers[0]!)!;
    const lost = once(pool, 'connectionLost');
    const replaced = once(pool, 'connectionReplaced');
    victim.connection.destroy();
    await within(lost, 5000, 'connectionLost');
    expect(await inFlight).toBe('HW_ERR_CONNECTION_CLOSED');
    // The other connection takes the work while the replacement is on its way.
    expect(await pool.request('double', 21)).toBe(42);
    expect(await within(replaced, 5000, 'connectionReplaced')).toEqual(['lost']);
    expect(pool.stats()).toMatchObject({ open: 2, replaced: 1 });
    expect(server.peers.has(victim.id)).toBe(false);
    expect(server.peers.size).toBe(2);
    const answers = await Promise.all([1, 2, 3, 4].map((n) => pool.request('double', n)));
    expect(answers).toEqual([2, 4, 6, 8]);
  });

  it('keeps trying to replace connections while the server is down, and close() ends the attempts', async () => {
    const { server, tcpPort } = await startServer();
    const pool = await createPool({ host: '127.0.0.1', tcpPort, size: 2, replaceBackoff: { initialDelayMs: 5, maxDelayMs: 20 } });
    await server.close();
    await waitUntil(() => pool.stats().connectFailures >= 6, 10_000, 'six failed attempts to replace the connections');
    expect(pool.stats()).toMatchObject({ open: 0, replaced: 0 });
    await expect(pool.request('x')).rejects.toMatchObject({ code: 'HW_ERR_NOT_CONNECTED' });
    await within(pool.close(), 5000, 'close() while replacements are failing');
  });

  it('drops and replaces a connection whose health-check ping goes unanswered', async () => {
    // No built-in ping: every health check fails.
    const { tcpPort } = await startServer({ builtins: false });
    const pool = await startPool({ host: '127.0.0.1', tcpPort, size: 1, healthCheckIntervalMs: 50, healthCheckTimeoutMs: 200, replaceBackoff: { initialDelayMs: 10 } });
    const first = pool.stats().connections[0]!.sessionId;
    await within(once(pool, 'connectionReplaced'), 5000, 'a replacement after a failed health check');
    expect(pool.stats().healthCheckFailures).toBeGreaterThanOrEqual(1);
    await waitUntil(() => pool.stats().open === 1, 5000, 'the replacement open');
    expect(pool.stats().connections[0]!.sessionId).not.toBe(first);
  });

  it('keeps healthy connections: answered pings drop nothing', async () => {
    const { server, tcpPort } = await startServer();
    const pool = await startPool({ host: '127.0.0.1', tcpPort, size: 2, healthCheckIntervalMs: 20 });
    const before = new Set(server.peers.keys());
    const pinged = new Set<string>();
    server.on('message', () => {});
    // Ten rounds of health checks at least: the built-in ping answered each time.
    await waitUntil(() => {
      for (const peer of server.peers.values()) if (peer.stats.tcp.messagesIn >= 10) pinged.add(peer.id);
      return pinged.size === 2;
    }, 5000, 'ten health checks on each connection');
    expect(new Set(server.peers.keys())).toEqual(before);
    expect(pool.stats()).toMatchObject({ healthCheckFailures: 0, replaced: 0, open: 2 });
  });

  it('rotates an idle connection: a fresh one opens, the old one closes', async () => {
    const { server, tcpPort } = await startServer();
    const pool = await startPool({ host: '127.0.0.1', tcpPort, size: 1, idleTimeoutMs: 100, maxLifetimeMs: 0 });
    const first = pool.stats().connections[0]!.sessionId!;
    const firstGone = new Promise<void>((resolve) => server.on('disconnect', (peer: Peer) => peer.id === first && resolve()));
    expect(await within(once(pool, 'connectionReplaced'), 5000, 'an idle rotation')).toEqual(['idle']);
    await within(firstGone, 5000, 'the idle connection closed at the server');
    expect(pool.stats().rotated.idle).toBeGreaterThanOrEqual(1);
    expect(pool.stats().rotated.lifetime).toBe(0);
    expect(pool.stats().connections.map((connection) => connection.sessionId)).not.toContain(first);
  });

  it('rotates a connection past maxLifetimeMs even while it is busy, without losing its requests', async () => {
    const { server, tcpPort } = await startServer();
    const held = heldReplies(server);
    const pool = await startPool({ host: '127.0.0.1', tcpPort, size: 1, idleTimeoutMs: 0, maxLifetimeMs: 150 });
    const reply = pool.request('held', 'old');
    await waitUntil(() => held.count() === 1, 5000, 'the held request');
    expect(await within(once(pool, 'connectionReplaced'), 5000, 'a lifetime rotation')).toEqual(['lifetime']);
    // The retired connection closes only once its request is answered.
    held.release();
    expect(await reply).toBe('old!');
    expect(pool.stats().rotated.lifetime).toBeGreaterThanOrEqual(1);
    server.handle('echo2', (value) => value);
    expect(await pool.request('echo2', 'new')).toBe('new');
  });

  it('close() waits for requests in flight, then closes every connection; later sends are refused', async () => {
    const { server, tcpPort } = await startServer();
    const held = heldReplies(server);
    const pool = await createPool({ host: '127.0.0.1', tcpPort, size: 2 });
    const order: string[] = [];
    const reply = pool.request('held', 'last').then((value) => {
      order.push('reply');
      return value;
    });
    await waitUntil(() => held.count() === 1, 5000, 'the held request');
    const closed = pool.close().then(() => order.push('closed'));
    expect(() => pool.send('x')).toThrow(expect.objectContaining({ code: 'HW_ERR_NOT_CONNECTED' }));
    held.release();
    await within(closed, 5000, 'close()');
    expect(await reply).toBe('last!');
    expect(order).toEqual(['reply', 'closed']);
    await waitUntil(() => server.peers.size === 0, 5000, 'every session closed at the server');
  });

  it('close() waits no longer than drainTimeoutMs', async () => {
    const { server, tcpPort } = await startServer({ closeTimeoutMs: 100 });
    heldReplies(server);
    const pool = await createPool({ host: '127.0.0.1', tcpPort, size: 1, drainTimeoutMs: 50, closeTimeoutMs: 50 });
    const reply = pool.request('held', 'never').then(
      () => 'answered',
      (error: { code?: string }) => error.code,
    );
    await waitUntil(() => pool.stats().pending === 1, 5000, 'the pending request');
    await within(pool.close(), 5000, 'close() past its drain bound');
    expect(await reply).toMatch(/^HW_ERR_/);
  });

  it.skipIf(process.platform === 'win32')('pools sessions over a local socket too', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hw-pool-'));
    cleanup.push(() => fs.rmSync(dir, { recursive: true, force: true }));
    const socketPath = path.join(dir, 'pool.sock');
    const server = createServer({ path: socketPath });
    await server.listen();
    cleanup.push(() => server.close());
    server.handle<number>('double', (n) => n * 2);
    const pool = await startPool({ path: socketPath, size: 3 });
    expect(server.peers.size).toBe(3);
    expect(await Promise.all([1, 2, 3].map((n) => pool.request('double', n)))).toEqual([2, 4, 6]);
  });

  it('refuses bad options by name, and rejects when the server cannot be reached', async () => {
    await expect(createPool({ tcpPort: 1, size: 0 })).rejects.toMatchObject({ code: 'HW_ERR_INVALID_OPTION', option: 'size' });
    await expect(createPool({ tcpPort: 1, idleTimeoutMs: -1 })).rejects.toMatchObject({ code: 'HW_ERR_INVALID_OPTION', option: 'idleTimeoutMs' });
    await expect(createPool({ tcpPort: 1, reconnect: true } as never)).rejects.toMatchObject({ code: 'HW_ERR_INVALID_OPTION', option: 'reconnect' });
    const { server, tcpPort } = await startServer();
    await server.close();
    await expect(createPool({ host: '127.0.0.1', tcpPort, size: 2 })).rejects.toMatchObject({ code: 'HW_ERR_CONNECT_FAILED' });
  });
});
