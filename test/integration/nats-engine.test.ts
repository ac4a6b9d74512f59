/**
 * The NATS engine (ts/cluster/nats-engine.ts) against a real nats-server with JetStream: durable
 * publishes de-duplicated by id, durable consumers that redeliver what was not acknowledged and
 * survive a restart of nats-server, a durable publish that waits for NATS and one that gives up
 * with HW_ERR_CLUSTER_UNAVAILABLE, the key-value bucket, requests without responders.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { NatsServer, natsSkipReason } from '../support/nats-server.js';
import { NatsEngine } from '../../ts/cluster/nats-engine.js';
import type { DurableMessage } from '../../ts/cluster/engine.js';
import { waitUntil, within } from '../support/wait.js';

if (natsSkipReason !== undefined) console.warn(`test/integration/nats-engine.test.ts skipped: ${natsSkipReason}`);

let nats: NatsServer;
let streams = 0;
const engines: NatsEngine[] = [];

async function engine(stream: string, ackWaitMs = 10_000): Promise<NatsEngine> {
  const created = await NatsEngine.connect({
    nats: nats.url,
    name: 'test',
    stream,
    streamSubjects: [`${stream}.>`],
    duplicateWindowMs: 60_000,
    ackWaitMs,
    consumerInactiveMs: 60_000,
    maxStreamMessages: 10_000,
    connectTimeoutMs: 5000,
  });
  engines.push(created);
  return created;
}

describe.skipIf(natsSkipReason !== undefined)(`the NATS engine${natsSkipReason ? ` (skipped: ${natsSkipReason})` : ''}`, () => {
  beforeAll(async () => {
    nats = await NatsServer.start();
  });
  afterEach(async () => {
    for (const created of engines.splice(0)) await created.close().catch(() => {});
    if (!nats.running) await nats.restart();
  });
  afterAll(async () => {
    await nats?.dispose();
  });

  it('stores a durable message once per id, and a consumer gets each once, in order', async () => {
    const stream = `S${++streams}`;
    const a = await engine(stream);
    const received: string[] = [];
    await a.consumeDurable('reader', `${stream}.>`, new Date(), (message) => {
      received.push(Buffer.from(message.data).toString());
      void message.ack();
    });
    await a.durablePublish(`${stream}.x`, Buffer.from('one'), {}, 'id-1', 5000);
    await a.durablePublish(`${stream}.x`, Buffer.from('one again'), {}, 'id-1', 5000);
    await a.durablePublish(`${stream}.y`, Buffer.from('two'), { 'hw-k': 'v' }, 'id-2', 5000);
    await waitUntil(() => received.length >= 2, 5000, 'two messages');
    await a.flush();
    expect(received).toEqual(['one', 'two']);
  });

  it('delivers again what was not acknowledged, marked redelivered', async () => {
    const stream = `S${++streams}`;
    const a = await engine(stream, 300);
    const deliveries: DurableMessage[] = [];
    await a.consumeDurable('reader', `${stream}.>`, new Date(), (message) => {
      deliveries.push(message);
      if (deliveries.length === 2) void message.ack();
    });
    await a.durablePublish(`${stream}.x`, Buffer.from('m'), {}, 'id-r', 5000);
    await waitUntil(() => deliveries.length === 2, 5000, 'the redelivery');
    expect(deliveries.map((message) => message.redelivered)).toEqual([false, true]);
  });

  it('a durable publish while NATS is away waits and lands once it is back; past publishTimeoutMs it fails with HW_ERR_CLUSTER_UNAVAILABLE', async () => {
    const stream = `S${++streams}`;
    const a = await engine(stream);
    const received: string[] = [];
    await a.consumeDurable('reader', `${stream}.>`, new Date(), (message) => {
      received.push(Buffer.from(message.data).toString());
      void message.ack();
    });
    await nats.stop('SIGKILL');
    await waitUntil(() => !a.connected, 5000, 'the engine to notice');
    await expect(a.durablePublish(`${stream}.x`, Buffer.from('lost'), {}, 'id-t', 300)).rejects.toMatchObject({ code: 'HW_ERR_CLUSTER_UNAVAILABLE' });
    const waiting = a.durablePublish(`${stream}.x`, Buffer.from('kept'), {}, 'id-k', 20_000);
    await nats.restart();
    await within(waiting, 20_000, 'the publish once NATS is back');
    await waitUntil(() => received.includes('kept'), 15_000, 'the kept message after the restart');
    expect(received).toEqual(['kept']);
    expect(a.stats().reconnects).toBeGreaterThanOrEqual(1);
  });

  it('keeps the key-value bucket and watches it', async () => {
    const stream = `S${++streams}`;
    const a = await engine(stream);
    await a.kvPut(`${stream}_kv`, 'k1', Buffer.from('v1'));
    const seen: Array<[string, string | undefined]> = [];
    await a.kvWatch(`${stream}_kv`, (key, value) => seen.push([key, value && Buffer.from(value).toString()]));
    await a.kvPut(`${stream}_kv`, 'k2', Buffer.from('v2'));
    await a.kvDelete(`${stream}_kv`, 'k1');
    await waitUntil(() => seen.length === 3, 5000, 'three changes');
    expect(seen).toEqual([
      ['k1', 'v1'],
      ['k2', 'v2'],
      ['k1', undefined],
    ]);
    expect((await a.kvEntries(`${stream}_kv`, '>')).map((entry) => entry.key)).toEqual(['k2']);
  });

  it('a request nobody serves fails with HW_ERR_NOT_CONNECTED', async () => {
    const a = await engine(`S${++streams}`);
    await expect(a.request('nobody.here', Buffer.alloc(0), {}, 2000)).rejects.toMatchObject({ code: 'HW_ERR_NOT_CONNECTED' });
  });

  it('refuses an unreachable NATS server with HW_ERR_CLUSTER_UNAVAILABLE', async () => {
    await expect(
      NatsEngine.connect({ nats: 'nats://127.0.0.1:1', name: 't', stream: 'X', streamSubjects: ['X.>'], duplicateWindowMs: 60_000, ackWaitMs: 1000, consumerInactiveMs: 60_000, maxStreamMessages: 10, connectTimeoutMs: 500 }),
    ).rejects.toMatchObject({ code: 'HW_ERR_CLUSTER_UNAVAILABLE' });
  });
});
