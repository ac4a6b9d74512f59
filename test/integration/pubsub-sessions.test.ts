/**
 * Pub/sub sessions over real sockets: persistent sessions (cleanSession: false) keep subscriptions
 * and queue QoS >= 1 messages while the client is away, within maxOfflineMessages and
 * maxOfflineBytes (oldest dropped and counted), delivered in order on reconnect before any handler
 * is bound; sessionExpiryMs; message expiry; the last will of a killed process, none after close().
 */
import { spawn } from 'node:child_process';
import path from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { PubsubMessage } from '../../ts/pubsub/wire.js';
import { REPO, ensureBuilt } from '../support/cli-process.js';
import { nextEvent } from '../support/raw-peer.js';
import { closeAfterEach, startClient, startServer } from '../support/sessions.js';
import { waitUntil, within } from '../support/wait.js';

closeAfterEach();

function collect(client: { on(event: 'publish', listener: (message: PubsubMessage) => void): unknown }): PubsubMessage[] {
  const messages: PubsubMessage[] = [];
  client.on('publish', (message) => messages.push(message));
  return messages;
}

describe('persistent sessions', () => {
  it('keep subscriptions and queue QoS >= 1 messages while away; delivered in order on reconnect, to on("publish")', async () => {
    const { server, tcpPort } = await startServer({ udpPort: false });
    const options = { tcpPort, udpPort: false as const, clientId: 'keeper', cleanSession: false };
    const first = await startClient(options);
    await first.subscribe('news/#', { qos: 1 });
    await first.close();
    await waitUntil(() => server.peerByClientId('keeper') === undefined, 5000, 'the first session to end');
    const publisher = await startClient({ tcpPort, udpPort: false });
    for (let i = 0; i < 5; i++) await publisher.publish(`news/${i}`, i, { qos: 1 });
    await publisher.publish('news/qos0', 'not kept', { qos: 0 });
    await publisher.ping();
    expect(server.stats().pubsub.queuedOffline).toBe(5);
    const second = await startClient(options);
    const messages = collect(second);
    await waitUntil(() => messages.length === 5, 5000, 'the queued messages');
    expect(messages.map((m) => m.payload)).toEqual([0, 1, 2, 3, 4]);
    expect(messages.every((m) => m.qos === 1)).toBe(true);
    // The restored subscription goes on delivering.
    await publisher.publish('news/later', 'live', { qos: 1 });
    await waitUntil(() => messages.length === 6, 5000, 'a live message');
    await waitUntil(() => server.stats().pubsub.inflight === 0 && server.stats().pubsub.queuedOffline === 0, 5000, 'all acknowledged');
  });

  it('a clean session forgets: reconnecting with cleanSession true finds nothing', async () => {
    const { server, tcpPort } = await startServer({ udpPort: false });
    const first = await startClient({ tcpPort, udpPort: false, clientId: 'forgetful', cleanSession: false });
    await first.subscribe('a', { qos: 1 });
    await first.close();
    const publisher = await startClient({ tcpPort, udpPort: false });
    await publisher.publish('a', 1, { qos: 1 });
    const clean = await startClient({ tcpPort, udpPort: false, clientId: 'forgetful' });
    const messages = collect(clean);
    await clean.ping();
    await publisher.publish('a', 2, { qos: 1 });
    await clean.ping();
    expect(messages).toEqual([]);
    expect(server.stats().pubsub.subscriptions).toBe(0);
  });

  it('queue at most maxOfflineMessages and maxOfflineBytes; the oldest are dropped and counted', async () => {
    const { server, tcpPort } = await startServer({ udpPort: false, maxOfflineMessages: 3 });
    const options = { tcpPort, udpPort: false as const, clientId: 'bounded', cleanSession: false };
    const away = await startClient(options);
    await away.subscribe('m', { qos: 2 });
    await away.close();
    const publisher = await startClient({ tcpPort, udpPort: false });
    for (let i = 0; i < 5; i++) await publisher.publish('m', i, { qos: 1 });
    expect(server.stats().pubsub.dropped.queueFull).toBe(2);
    const back = await startClient(options);
    const messages = collect(back);
    await waitUntil(() => messages.length === 3, 5000, 'three queued messages');
    expect(messages.map((m) => m.payload)).toEqual([2, 3, 4]);

    const bytes = await startServer({ udpPort: false, maxOfflineBytes: 300 });
    const small = { tcpPort: bytes.tcpPort, udpPort: false as const, clientId: 'bytes', cleanSession: false };
    const gone = await startClient(small);
    await gone.subscribe('m', { qos: 1 });
    await gone.close();
    const sender = await startClient({ tcpPort: bytes.tcpPort, udpPort: false });
    for (let i = 0; i < 5; i++) await sender.publish('m', Buffer.alloc(100, i), { qos: 1 });
    // Each delivery record is 100 bytes of payload and 8 of header: two fit in 300 bytes.
    expect(bytes.server.stats().pubsub.dropped.queueFull).toBe(3);
    const returned = await startClient(small);
    const kept = collect(returned);
    await waitUntil(() => kept.length === 2, 5000, 'two queued messages');
    expect(kept.map((m) => (m.payload as Buffer)[0])).toEqual([3, 4]);
  });

  it('end after sessionExpiryMs away', async () => {
    const { server, tcpPort } = await startServer({ udpPort: false });
    const client = await startClient({ tcpPort, udpPort: false, clientId: 'brief', cleanSession: false, sessionExpiryMs: 50 });
    await client.subscribe('x', { qos: 1 });
    expect(server.stats().pubsub.sessions).toBe(1);
    await client.close();
    await waitUntil(() => server.stats().pubsub.sessions === 0, 5000, 'the session to expire');
    expect(server.stats().pubsub.subscriptions).toBe(0);
  });

  it('drop a queued message whose expiryMs passed before it could be delivered', async () => {
    const { server, tcpPort } = await startServer({ udpPort: false });
    const options = { tcpPort, udpPort: false as const, clientId: 'expiring', cleanSession: false };
    const away = await startClient(options);
    await away.subscribe('e', { qos: 1 });
    await away.close();
    const publisher = await startClient({ tcpPort, udpPort: false });
    const published = Date.now();
    await publisher.publish('e', 'short-lived', { qos: 1, expiryMs: 20 });
    await publisher.publish('e', 'lasting', { qos: 1, expiryMs: 60_000 });
    await publisher.publish('e', 'forever', { qos: 1 });
    // The clock, not an event, is what expiry waits for.
    await waitUntil(() => Date.now() > published + 40, 5000, 'the first message to expire');
    const back = await startClient(options);
    const messages = collect(back);
    await waitUntil(() => messages.length === 2, 5000, 'the unexpired messages');
    expect(messages.map((m) => m.payload)).toEqual(['lasting', 'forever']);
    expect(server.stats().pubsub.dropped.expired).toBe(1);
  });

  it('a persistent session needs a clientId', async () => {
    const { tcpPort } = await startServer({ udpPort: false });
    await expect(startClient({ tcpPort, udpPort: false, cleanSession: false })).rejects.toMatchObject({ code: 'HW_ERR_INVALID_OPTION' });
  });
});

describe('last will', () => {
  const children: Array<ReturnType<typeof spawn>> = [];
  beforeAll(async () => {
    await ensureBuilt();
  }, 180_000);
  afterEach(() => {
    for (const child of children.splice(0)) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });

  it('is published when a client process is killed (kill -9 by PID)', async () => {
    const { tcpPort } = await startServer({ udpPort: false });
    const watcher = await startClient({ tcpPort, udpPort: false });
    const wills = await watcher.subscribe('wills/#', { qos: 1 });
    const child = spawn(process.execPath, [path.join(REPO, 'test/support/pubsub-will-child.mjs'), String(tcpPort), 'wills/child'], { stdio: ['ignore', 'pipe', 'inherit'] });
    children.push(child);
    await within(new Promise<void>((resolve) => child.stdout!.on('data', (chunk: Buffer) => chunk.toString().includes('ready') && resolve())), 10_000, 'the child to connect');
    process.kill(child.pid!, 'SIGKILL');
    const next = await within(wills[Symbol.asyncIterator]().next(), 10_000, 'the will');
    expect(next.value).toEqual({ topic: 'wills/child', payload: { gone: 'will-child' }, qos: 1, retain: false });
  });

  it('is not published after close()', async () => {
    const { server, tcpPort } = await startServer({ udpPort: false });
    const watcher = await startClient({ tcpPort, udpPort: false });
    const seen: PubsubMessage[] = [];
    await watcher.subscribe('wills/#', (m) => seen.push(m));
    const leaving = await startClient({ tcpPort, udpPort: false, will: { topic: 'wills/leaving', payload: 'gone' } });
    const disconnected = nextEvent(server, 'disconnect');
    await leaving.close();
    await disconnected;
    await server.publish('wills/marker', 'after');
    await waitUntil(() => seen.length === 1, 5000, 'the marker');
    expect(seen.map((m) => m.topic)).toEqual(['wills/marker']);
  });

  it('is published when the connection drops without close()', async () => {
    const { server, tcpPort } = await startServer({ udpPort: false });
    const watcher = await startClient({ tcpPort, udpPort: false });
    const seen: PubsubMessage[] = [];
    await watcher.subscribe('wills/#', (m) => seen.push(m), { qos: 1 });
    const dropping = await startClient({ tcpPort, udpPort: false, will: { topic: 'wills/dropped', payload: 'lost', retain: true } });
    dropping.connection!.destroy();
    await waitUntil(() => seen.length === 1, 5000, 'the will');
    expect(seen[0]).toMatchObject({ topic: 'wills/dropped', payload: 'lost' });
    expect(server.stats().pubsub.retained).toBe(1);
  });
});
