/**
 * ts/cli/bench-target.ts: the servers `hybridwire bench` measures against — in this process, forked
 * into a child (`bench-server` over IPC), or a running server counted from its stats — and the
 * clients it connects to them. Real sockets on 127.0.0.1, port 0.
 */
import { pathToFileURL } from 'node:url';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Client } from '../../ts/index.js';
import { closeClients, connectClients, inProcessTarget, remoteTarget, udpReady, type Target } from '../../ts/cli/bench-target.js';
import { REPO, ensureBuilt, killAll, runCli } from '../support/cli-process.js';
import { closeAfterEach, startServer } from '../support/sessions.js';
import { nextEvent } from '../support/raw-peer.js';
import { waitUntil } from '../support/wait.js';

closeAfterEach();
const cleanup: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const step of cleanup.splice(0).reverse()) await step();
});
afterAll(async () => {
  await killAll();
});

/** `n` messages of `type` over TCP from each client, then a request each: once answered, all were handled. */
async function sendAndSettle(clients: Client[], type: string, n: number): Promise<void> {
  for (const client of clients) for (let i = 0; i < n; i++) client.send(type, i);
  await Promise.all(clients.map((client) => client.request('ping', undefined, { timeoutMs: 5000 })));
}

/** Polls target.count() until it reaches `expected` or 5 s pass; returns the last count. */
async function countOnceAt(target: Target, transport: 'tcp' | 'udp', expected: number): Promise<number> {
  const deadline = Date.now() + 5000;
  let counted = await target.count(transport);
  while (counted < expected && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 5));
    counted = await target.count(transport);
  }
  return counted;
}

async function opened(target: Promise<Target>): Promise<Target> {
  const ready = await target;
  cleanup.push(() => ready.close());
  return ready;
}

async function connected(target: Target, n: number, udp: boolean): Promise<Client[]> {
  const clients = await connectClients(target, n, udp);
  cleanup.push(() => closeClients(clients));
  return clients;
}

/** True while a process with this PID exists. */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

describe('inProcessTarget', () => {
  it("is a server in this process whose 'bench' handler counts what arrives, over TCP and UDP", async () => {
    const target = await opened(inProcessTarget('127.0.0.1'));
    expect(target).toMatchObject({ where: 'in-process', pid: process.pid, host: '127.0.0.1', sinkType: 'bench', countedBy: 'receiver' });
    expect(target.tcpPort).toBeGreaterThan(0);
    expect(target.udpPort).toBeGreaterThan(0);
    expect(await target.count('tcp')).toBe(0);
    const clients = await connected(target, 3, false);
    await sendAndSettle(clients, 'bench', 10);
    expect(await target.count('tcp')).toBe(30);
    // Other types are not the sink's.
    await sendAndSettle(clients, 'other', 5);
    expect(await target.count('tcp')).toBe(30);
  });

  it('counts reliable UDP messages once the clients have a UDP path', async () => {
    const target = await opened(inProcessTarget('127.0.0.1'));
    const clients = await connected(target, 2, true);
    expect(await udpReady(clients, 5000)).toBe(true);
    for (const client of clients) for (let i = 0; i < 20; i++) client.send('bench', i, { transport: 'udp', reliable: true });
    expect(await countOnceAt(target, 'udp', 40)).toBe(40);
  });

  it('close() stops its server: no new client can connect', async () => {
    const target = await inProcessTarget('127.0.0.1');
    await target.close();
    await expect(connectClients(target, 1, false)).rejects.toMatchObject({ code: 'HW_ERR_CONNECT_FAILED' });
  });
});

describe('connectClients, closeClients and udpReady', () => {
  it('connects n clients in groups of 16; without UDP they open no UDP path', async () => {
    const { server, tcpPort, udpPort } = await startServer({ builtins: true });
    const target: Target = { where: 'remote', pid: undefined, host: '127.0.0.1', tcpPort, udpPort, sinkType: 'ping', countedBy: 'server-stats', count: () => Promise.resolve(0), close: () => Promise.resolve() };
    const clients = await connected(target, 20, false);
    expect(clients).toHaveLength(20);
    expect(new Set(clients.map((client) => client.sessionId)).size).toBe(20);
    expect(server.stats().connectedClients).toBe(20);
    expect(await udpReady(clients, 50)).toBe(false);
    await closeClients(clients);
    expect(clients.map((client) => client.state)).toEqual(Array(20).fill('closed'));
    await waitUntil(() => server.stats().connectedClients === 0, 5000, 'the server to see every client go');
  });

  it('when one client cannot connect, rejects with its error and closes those that did', async () => {
    const { server, tcpPort } = await startServer({ maxConnections: 17, udpPort: false });
    const target: Target = { where: 'remote', pid: undefined, host: '127.0.0.1', tcpPort, udpPort: undefined, sinkType: 'ping', countedBy: 'server-stats', count: () => Promise.resolve(0), close: () => Promise.resolve() };
    let sessions = 0;
    server.on('connection', () => sessions++);
    await expect(connectClients(target, 20, false)).rejects.toMatchObject({ code: 'HW_ERR_SERVER_FULL' });
    await waitUntil(() => sessions === 17 && server.stats().connectedClients === 0, 5000, () => `17 sessions opened and all closed (${sessions} opened, ${server.stats().connectedClients} open)`);
  });
});

describe('remoteTarget', () => {
  it("counts the server's messagesIn from its stats, less its own stats requests", async () => {
    const { tcpPort, udpPort } = await startServer({ builtins: true });
    const target = await opened(remoteTarget('127.0.0.1', tcpPort, udpPort));
    expect(target).toMatchObject({ where: 'remote', pid: undefined, host: '127.0.0.1', tcpPort, udpPort, sinkType: 'ping', countedBy: 'server-stats' });
    const clients = await connected(target, 2, false);
    const before = await target.count('tcp');
    // The same count read twice: the stats requests themselves are not counted.
    expect(await target.count('tcp')).toBe(before);
    await sendAndSettle(clients, 'ping', 7);
    // 7 one-way pings and one ping request from each client.
    expect((await target.count('tcp')) - before).toBe(16);
    expect(await target.count('udp')).toBe(0);
  });

  it('fails with a clear message when the stats reply has no messagesIn', async () => {
    const { server, tcpPort } = await startServer({ udpPort: false });
    server.handle('stats', () => ({ something: 'else' }));
    await expect(remoteTarget('127.0.0.1', tcpPort, undefined)).rejects.toThrow(
      "the server's stats reply has no tcp.messagesIn: is it a hybridwire server with the stats built-in enabled (builtins: true, as hybridwire serve has)?",
    );
  });

  it('against a server without the stats built-in: a clear HW_ERR_NO_HANDLER, and its control connection closed', async () => {
    const { server, tcpPort } = await startServer({ udpPort: false });
    const closed = nextEvent(server, 'disconnect', 2000);
    await expect(remoteTarget('127.0.0.1', tcpPort, undefined)).rejects.toMatchObject({
      code: 'HW_ERR_NO_HANDLER',
      message: expect.stringContaining('stats built-in'),
    });
    await closed;
    expect(server.stats().connectedClients).toBe(0);
  });

  it('fails at once when nothing listens there', async () => {
    const { server, tcpPort } = await startServer({ udpPort: false });
    await server.close();
    await expect(remoteTarget('127.0.0.1', tcpPort, undefined)).rejects.toMatchObject({ code: 'HW_ERR_CONNECT_FAILED' });
  });

  it('close() ends its control connection', async () => {
    const { server, tcpPort } = await startServer({ builtins: true, udpPort: false });
    const target = await remoteTarget('127.0.0.1', tcpPort, undefined);
    expect(server.stats().connectedClients).toBe(1);
    const gone = nextEvent(server, 'disconnect');
    await target.close();
    await gone;
    expect(server.stats().connectedClients).toBe(0);
  });
});

describe('separateTarget and the bench-server command', () => {
  let built: typeof import('../../ts/cli/bench-target.js');

  beforeAll(async () => {
    await ensureBuilt();
    // The child is dist/cli/main.js, found next to the module: the built one.
    built = (await import(pathToFileURL(path.join(REPO, 'dist', 'cli', 'bench-target.js')).href)) as typeof built;
  }, 240_000);

  it('forks `hybridwire bench-server`, counts over IPC, and the child is gone after close()', async () => {
    const target = await built.separateTarget('127.0.0.1');
    cleanup.push(() => target.close());
    expect(target).toMatchObject({ where: 'separate-process', host: '127.0.0.1', sinkType: 'bench', countedBy: 'receiver' });
    const pid = target.pid!;
    expect(pid).not.toBe(process.pid);
    expect(alive(pid)).toBe(true);
    const clients = await connected(target, 2, false);
    await sendAndSettle(clients, 'bench', 25);
    expect(await target.count('tcp')).toBe(50);
    await closeClients(clients);
    await target.close();
    await waitUntil(() => !alive(pid), 5000, `the bench server process ${pid} to exit`);
  });

  it('bench-server run by hand (without an IPC channel) refuses with exit 2', async () => {
    const run = await runCli(['bench-server'], 15_000);
    expect(run.exit, run.transcript()).toEqual({ code: 2, signal: null });
    expect(run.stderr.join('\n')).toBe('hybridwire: bench-server is internal: `hybridwire bench --separate` starts it');
    expect(run.stdout.join('\n')).toBe('');
  });
});
