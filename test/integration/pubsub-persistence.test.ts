/**
 * Durability (`persistence: { dir }`, ts/pubsub/persistent-store.ts) over real sockets: retained
 * messages, persistent sessions' subscriptions and their queued QoS 1 and QoS 2 messages survive a
 * server closed and a new one on the same directory, and a `hybridwire serve` killed with SIGKILL
 * right after it acknowledged a QoS 1 publish; a store that cannot be read is refused at construction.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createServer } from '../../ts/index.js';
import type { PubsubMessage } from '../../ts/pubsub/wire.js';
import { ensureBuilt, killAll, startCli, type CliProcess } from '../support/cli-process.js';
import { closeAfterEach, startClient, startServer } from '../support/sessions.js';
import { waitUntil } from '../support/wait.js';

closeAfterEach();

const dirs: string[] = [];
function tempDir(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hybridwire-persist-'));
  dirs.push(dir);
  return dir;
}
afterEach(async () => {
  await killAll();
  for (const dir of dirs.splice(0)) fs.rmSync(dir, { recursive: true, force: true });
});

function collect(client: { on(event: 'publish', listener: (message: PubsubMessage) => void): unknown }): PubsubMessage[] {
  const messages: PubsubMessage[] = [];
  client.on('publish', (message) => messages.push(message));
  return messages;
}

describe('persistence across a server restart', () => {
  it('keeps retained messages, persistent subscriptions and queued QoS 1 and QoS 2 messages, in order', async () => {
    const dir = tempDir();
    const first = await startServer({ udpPort: false, persistence: { dir } });
    const away = await startClient({ tcpPort: first.tcpPort, udpPort: false, clientId: 'durable', cleanSession: false, sessionExpiryMs: 60_000 });
    await away.subscribe('orders/#', { qos: 2 });
    await away.close();
    await waitUntil(() => first.server.peerByClientId('durable') === undefined, 5000, 'the session to go away');
    const publisher = await startClient({ tcpPort: first.tcpPort, udpPort: false });
    await publisher.publish('orders/1', 'one', { qos: 1 });
    await publisher.publish('orders/2', { n: 2 }, { qos: 2 });
    await publisher.publish('orders/3', Buffer.from([3]), { qos: 1 });
    await publisher.publish('status/door', 'open', { qos: 1, retain: true });
    await publisher.publish('status/gone', 'soon cleared', { qos: 1, retain: true });
    await publisher.publish('status/gone', Buffer.alloc(0), { qos: 1, retain: true });
    expect(first.server.stats().pubsub.retained).toBe(1);
    expect(first.server.stats().pubsub.queuedOffline).toBe(3);
    await publisher.close();
    await first.server.close();

    const second = await startServer({ udpPort: false, persistence: { dir } });
    expect(second.server.stats().pubsub).toMatchObject({ retained: 1, sessions: 1, subscriptions: 1, queuedOffline: 3 });
    const back = await startClient({ tcpPort: second.tcpPort, udpPort: false, clientId: 'durable', cleanSession: false, sessionExpiryMs: 60_000 });
    const messages = collect(back);
    await waitUntil(() => messages.length === 3, 5000, 'the queued messages');
    expect(messages.map((m) => [m.topic, m.qos])).toEqual([
      ['orders/1', 1],
      ['orders/2', 2],
      ['orders/3', 1],
    ]);
    expect(messages[1]!.payload).toEqual({ n: 2 });
    expect(messages[2]!.payload).toEqual(Buffer.from([3]));
    // The restored subscription goes on delivering.
    const publisher2 = await startClient({ tcpPort: second.tcpPort, udpPort: false });
    await publisher2.publish('orders/4', 'four', { qos: 1 });
    await waitUntil(() => messages.length === 4, 5000, 'a live message');
    // The retained message goes to a new subscription; the cleared one does not come back.
    const watcher = await startClient({ tcpPort: second.tcpPort, udpPort: false });
    const retained = collect(watcher);
    await watcher.subscribe('status/#', { qos: 1 });
    await waitUntil(() => retained.length === 1, 5000, 'the retained message');
    expect(retained[0]).toMatchObject({ topic: 'status/door', payload: 'open', retain: true });
    await watcher.ping();
    expect(retained).toHaveLength(1);
    await waitUntil(() => second.server.stats().pubsub.inflight === 0, 5000, 'all acknowledged');
    await back.close();
    await second.server.close();

    // What was acknowledged is gone from the store: a third server has nothing to send again.
    const third = await startServer({ udpPort: false, persistence: { dir } });
    expect(third.server.stats().pubsub).toMatchObject({ sessions: 1, queuedOffline: 0, inflight: 0, retained: 1 });
  });

  it('a clean session is not kept; a persistent session that reconnects clean is removed from the store', async () => {
    const dir = tempDir();
    const first = await startServer({ udpPort: false, persistence: { dir } });
    const clean = await startClient({ tcpPort: first.tcpPort, udpPort: false, clientId: 'clean' });
    await clean.subscribe('a', { qos: 1 });
    const kept = await startClient({ tcpPort: first.tcpPort, udpPort: false, clientId: 'changes', cleanSession: false });
    await kept.subscribe('b', { qos: 1 });
    await kept.close();
    const cleaned = await startClient({ tcpPort: first.tcpPort, udpPort: false, clientId: 'changes' });
    await cleaned.ping();
    await first.server.close();
    const second = await startServer({ udpPort: false, persistence: { dir } });
    expect(second.server.stats().pubsub).toMatchObject({ sessions: 0, subscriptions: 0 });
  });

  it('honours maxOfflineMessages for what it stores', async () => {
    const dir = tempDir();
    const first = await startServer({ udpPort: false, persistence: { dir }, maxOfflineMessages: 2 });
    const away = await startClient({ tcpPort: first.tcpPort, udpPort: false, clientId: 'bounded', cleanSession: false });
    await away.subscribe('m', { qos: 1 });
    await away.close();
    const publisher = await startClient({ tcpPort: first.tcpPort, udpPort: false });
    for (let i = 0; i < 5; i++) await publisher.publish('m', i, { qos: 1 });
    await first.server.close();
    const second = await startServer({ udpPort: false, persistence: { dir }, maxOfflineMessages: 2 });
    expect(second.server.stats().pubsub.queuedOffline).toBe(2);
    const back = await startClient({ tcpPort: second.tcpPort, udpPort: false, clientId: 'bounded', cleanSession: false });
    const messages = collect(back);
    await waitUntil(() => messages.length === 2, 5000, 'the two kept messages');
    expect(messages.map((m) => m.payload)).toEqual([3, 4]);
  });
});

describe('a store that cannot be used', () => {
  it('is refused when the server is constructed, naming the directory', () => {
    const dir = tempDir();
    fs.writeFileSync(path.join(dir, 'pubsub.sqlite'), Buffer.alloc(8192, 0x5a));
    expect(() => createServer({ persistence: { dir } })).toThrow(expect.objectContaining({ code: 'HW_ERR_STORE_UNAVAILABLE', message: expect.stringContaining(dir) }));
    const file = path.join(tempDir(), 'a-file');
    fs.writeFileSync(file, 'not a directory');
    expect(() => createServer({ persistence: { dir: file } })).toThrow(expect.objectContaining({ code: 'HW_ERR_STORE_UNAVAILABLE' }));
  });

  it('a QoS 1 publish that could not be written is refused with HW_ERR_STORE_UNAVAILABLE, not acknowledged', async () => {
    const dir = tempDir();
    const { tcpPort } = await startServer({ udpPort: false, persistence: { dir } });
    const away = await startClient({ tcpPort, udpPort: false, clientId: 'waiting', cleanSession: false });
    await away.subscribe('jobs', { qos: 1 });
    await away.close();
    const other = new Database(path.join(dir, 'pubsub.sqlite'));
    other.exec('DROP TABLE deliveries');
    other.close();
    const publisher = await startClient({ tcpPort, udpPort: false });
    await expect(publisher.publish('jobs', 'not stored', { qos: 1 })).rejects.toMatchObject({ code: 'HW_ERR_STORE_UNAVAILABLE' });
  });

  it('a bad persistence option is HW_ERR_INVALID_OPTION naming it', () => {
    for (const persistence of [{}, { dir: '' }, { dir: 3 }, 'dir', null]) {
      expect(() => createServer({ persistence: persistence as never })).toThrow(expect.objectContaining({ code: 'HW_ERR_INVALID_OPTION', message: expect.stringContaining('persistence') }));
    }
  });
});

describe('a server process killed with SIGKILL', () => {
  beforeAll(async () => {
    await ensureBuilt();
  }, 180_000);

  async function serve(config: string): Promise<{ cli: CliProcess; tcpPort: number }> {
    const cli = startCli(['serve', '--host', '127.0.0.1', '--tcp-port', '0', '--udp-port', '0', '--config', config]);
    const { match } = await cli.waitForLine(/"event":"listening".*"tcpPort":(\d+)/, { timeoutMs: 10_000 });
    return { cli, tcpPort: Number(match[1]) };
  }

  it('delivers after the restart a QoS 1 message it acknowledged before it was killed', async () => {
    const dir = tempDir();
    const config = path.join(dir, 'hybridwire.toml');
    fs.writeFileSync(config, `[persistence]\ndir = ${JSON.stringify(path.join(dir, 'store'))}\n`);
    const first = await serve(config);
    const options = { host: '127.0.0.1', udpPort: false as const, clientId: 'survivor', cleanSession: false, sessionExpiryMs: 60_000 };
    const away = await startClient({ ...options, tcpPort: first.tcpPort });
    await away.subscribe('alerts/+', { qos: 1 });
    await away.close();
    const publisher = await startClient({ tcpPort: first.tcpPort, udpPort: false, reconnect: false });
    await publisher.publish('alerts/fire', 'acknowledged before the kill', { qos: 1 });
    await first.cli.kill();
    expect(first.cli.exit?.signal).toBe('SIGKILL');

    const second = await serve(config);
    const back = await startClient({ ...options, tcpPort: second.tcpPort });
    const messages = collect(back);
    await waitUntil(() => messages.length === 1, 5000, 'the acknowledged message');
    expect(messages[0]).toMatchObject({ topic: 'alerts/fire', payload: 'acknowledged before the kill', qos: 1 });
  }, 30_000);
});
