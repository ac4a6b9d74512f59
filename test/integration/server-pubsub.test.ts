/**
 * Pub/sub over real sockets (ts/pubsub/*, docs/PROTOCOL.md section 10): subscribe in both forms,
 * publish at QoS 0/1/2 and what each promise waits for, QoS downgrade, retained messages and their
 * clearing, noLocal, unsubscribe, authorization hooks and events, server.publish and $-topics,
 * shared subscriptions, expiry, UDP deliveries, stats.
 */
import { describe, expect, it } from 'vitest';
import type { PubsubMessage } from '../../ts/pubsub/wire.js';
import type { Subscription } from '../../ts/pubsub/subscription.js';
import { nextEvent } from '../support/raw-peer.js';
import { closeAfterEach, startClient, startServer } from '../support/sessions.js';
import { waitUntil, within } from '../support/wait.js';

closeAfterEach();

async function take(subscription: Subscription, count: number, timeoutMs = 5000): Promise<PubsubMessage[]> {
  const messages: PubsubMessage[] = [];
  const iterator = subscription[Symbol.asyncIterator]();
  while (messages.length < count) {
    const next = await within(iterator.next(), timeoutMs, `message ${messages.length + 1} of ${count}`);
    if (next.done) break;
    messages.push(next.value);
  }
  return messages;
}

describe('subscribe and publish', () => {
  it('delivers to an async-iterable subscription and to a handler, at the lower QoS of publish and subscription', async () => {
    const { tcpPort } = await startServer({ udpPort: false });
    const subscriber = await startClient({ tcpPort, udpPort: false });
    const publisher = await startClient({ tcpPort, udpPort: false });
    const iterable = await subscriber.subscribe('sensors/+/temp', { qos: 1 });
    const seen: PubsubMessage[] = [];
    const handled = await subscriber.subscribe('sensors/#', (message) => seen.push(message), { qos: 2 });
    expect(iterable.qos).toBe(1);
    expect(handled.qos).toBe(2);
    const events: PubsubMessage[] = [];
    subscriber.on('publish', (message) => events.push(message));
    await publisher.publish('sensors/1/temp', { celsius: 21 }, { qos: 2 });
    await publisher.publish('sensors/1/temp', Buffer.from('raw'), { qos: 0 });
    const [first, second] = await take(iterable, 2);
    expect(first).toEqual({ topic: 'sensors/1/temp', payload: { celsius: 21 }, qos: 2, retain: false });
    expect(second!.payload).toEqual(Buffer.from('raw'));
    expect(second!.qos).toBe(0);
    await waitUntil(() => seen.length === 2 && events.length === 2, 5000, 'the handler and the publish event');
    // One delivery per session: the highest QoS its matching subscriptions allow (2), capped by the publish.
    expect(events.map((m) => m.qos)).toEqual([2, 0]);
  });

  it('downgrades to the subscription QoS', async () => {
    const { tcpPort } = await startServer({ udpPort: false });
    const subscriber = await startClient({ tcpPort, udpPort: false });
    const publisher = await startClient({ tcpPort, udpPort: false });
    const subscription = await subscriber.subscribe('a', { qos: 0 });
    await publisher.publish('a', 1, { qos: 2 });
    const [message] = await take(subscription, 1);
    expect(message!.qos).toBe(0);
  });

  it('QoS 1 and 2 publishes resolve once acknowledged; stats count them per QoS', async () => {
    const { server, tcpPort } = await startServer({ udpPort: false });
    const subscriber = await startClient({ tcpPort, udpPort: false });
    const publisher = await startClient({ tcpPort, udpPort: false });
    await subscriber.subscribe('q', { qos: 2 });
    await publisher.publish('q', 'one', { qos: 1 });
    await publisher.publish('q', 'two', { qos: 2 });
    await publisher.publish('nobody/listens', 'three', { qos: 0 });
    // A QoS 0 publish resolves once written; the ping's answer comes after the server has taken it.
    await publisher.ping();
    const stats = server.stats().pubsub;
    expect(stats.messagesIn).toEqual({ qos0: 1, qos1: 1, qos2: 1 });
    expect(stats.subscriptions).toBe(1);
    expect(stats.topics).toBe(1);
    expect(stats.dropped.noSubscribers).toBe(1);
    await waitUntil(() => server.stats().pubsub.messagesOut.qos2 === 1 && server.stats().pubsub.messagesOut.qos1 === 1, 5000, 'deliveries counted');
    await waitUntil(() => server.stats().pubsub.inflight === 0, 5000, 'deliveries acknowledged');
  });

  it('refuses bad topics and filters with HW_ERR_INVALID_TOPIC, and $-topics from clients', async () => {
    const { tcpPort } = await startServer({ udpPort: false });
    const client = await startClient({ tcpPort, udpPort: false });
    for (const topic of ['', 'a/+', 'a/#', 'a/*', '$SYS/x', 'x'.repeat(65_536)]) {
      await expect(client.publish(topic, 1)).rejects.toMatchObject({ code: 'HW_ERR_INVALID_TOPIC' });
    }
    for (const filter of ['', 'a/#/b', 'a+', '$share/g']) {
      await expect(client.subscribe(filter)).rejects.toMatchObject({ code: 'HW_ERR_INVALID_TOPIC' });
    }
  });

  it('unsubscribe ends the iteration and the deliveries; events subscribe and unsubscribe', async () => {
    const { server, tcpPort } = await startServer({ udpPort: false });
    const client = await startClient({ tcpPort, udpPort: false });
    const subscribed = nextEvent<[unknown, string, unknown]>(server, 'subscribe');
    const subscription = await client.subscribe('x/*');
    const [, filter, options] = await subscribed;
    expect(filter).toBe('x/+');
    expect(options).toMatchObject({ qos: 0, noLocal: false, transport: 'tcp' });
    const unsubscribed = nextEvent<[unknown, string]>(server, 'unsubscribe');
    await subscription.unsubscribe();
    expect((await unsubscribed)[1]).toBe('x/+');
    expect(server.stats().pubsub.subscriptions).toBe(0);
    const next = await subscription[Symbol.asyncIterator]().next();
    expect(next.done).toBe(true);
  });

  it('noLocal: a client is not sent what it publishes itself', async () => {
    const { tcpPort } = await startServer({ udpPort: false });
    const client = await startClient({ tcpPort, udpPort: false });
    const other = await startClient({ tcpPort, udpPort: false });
    const mine = await client.subscribe('chat', { noLocal: true, qos: 1 });
    await client.publish('chat', 'from me', { qos: 1 });
    await other.publish('chat', 'from other', { qos: 1 });
    const [message] = await take(mine, 1);
    expect(message!.payload).toBe('from other');
  });
});

describe('retained messages', () => {
  it('go to each new matching subscription with retain set; an empty payload clears them', async () => {
    const { server, tcpPort } = await startServer({ udpPort: false });
    const publisher = await startClient({ tcpPort, udpPort: false });
    await publisher.publish('status/a', 'up', { qos: 1, retain: true });
    await publisher.publish('status/b', 'down', { qos: 1, retain: true });
    expect(server.stats().pubsub.retained).toBe(2);
    const late = await startClient({ tcpPort, udpPort: false });
    const subscription = await late.subscribe('status/+', { qos: 1 });
    const messages = await take(subscription, 2);
    expect(messages.map((m) => [m.topic, m.payload, m.retain]).sort()).toEqual([
      ['status/a', 'up', true],
      ['status/b', 'down', true],
    ]);
    await publisher.publish('status/a', undefined, { qos: 1, retain: true });
    await publisher.publish('status/b', new Uint8Array(0), { qos: 1, retain: true });
    expect(server.stats().pubsub.retained).toBe(0);
    const later = await startClient({ tcpPort, udpPort: false });
    const seen: PubsubMessage[] = [];
    await later.subscribe('status/+', (m) => seen.push(m));
    await later.ping();
    expect(seen).toEqual([]);
  });
});

describe('server side', () => {
  it('authorizePublish and authorizeSubscribe refuse with HW_ERR_NOT_AUTHORIZED', async () => {
    const { server, tcpPort } = await startServer({
      udpPort: false,
      authorizePublish: (_peer, topic) => !topic.startsWith('secret'),
      authorizeSubscribe: async (_peer, filter) => filter !== '#',
    });
    const client = await startClient({ tcpPort, udpPort: false });
    await expect(client.subscribe('#')).rejects.toMatchObject({ code: 'HW_ERR_NOT_AUTHORIZED' });
    await expect(client.publish('secret/x', 1, { qos: 1 })).rejects.toMatchObject({ code: 'HW_ERR_NOT_AUTHORIZED' });
    await expect(client.publish('secret/x', 1, { qos: 2 })).rejects.toMatchObject({ code: 'HW_ERR_NOT_AUTHORIZED' });
    await client.publish('open/x', 1, { qos: 1 });
    expect(server.stats().pubsub.dropped.notAuthorized).toBe(2);
  });

  it('server.publish reaches subscribers and may use $-topics, which leading wildcards do not match', async () => {
    const { server, tcpPort } = await startServer({ udpPort: false });
    const client = await startClient({ tcpPort, udpPort: false });
    const all: PubsubMessage[] = [];
    await client.subscribe('#', (m) => all.push(m));
    const sys = await client.subscribe('$SYS/#');
    await server.publish('$SYS/uptime', 42, { qos: 1 });
    await server.publish('plain', 'x');
    const [message] = await take(sys, 1);
    expect(message).toMatchObject({ topic: '$SYS/uptime', payload: 42 });
    await waitUntil(() => all.length === 1, 5000, 'the plain message');
    expect(all.map((m) => m.topic)).toEqual(['plain']);
    await expect(server.publish('a/+', 1)).rejects.toMatchObject({ code: 'HW_ERR_INVALID_TOPIC' });
  });
});

describe('shared subscriptions', () => {
  it('$share/GROUP/filter hands each message to one member of the group, in turn', async () => {
    const { tcpPort } = await startServer({ udpPort: false });
    const members = await Promise.all([0, 1, 2].map(() => startClient({ tcpPort, udpPort: false })));
    const counts = [0, 0, 0];
    for (const [i, member] of members.entries()) await member.subscribe('$share/workers/jobs/+', () => counts[i]!++, { qos: 1 });
    const outsider = await startClient({ tcpPort, udpPort: false });
    let outsiderCount = 0;
    await outsider.subscribe('jobs/+', () => outsiderCount++);
    const publisher = await startClient({ tcpPort, udpPort: false });
    for (let i = 0; i < 30; i++) await publisher.publish(`jobs/${i}`, i, { qos: 1 });
    await waitUntil(() => counts[0]! + counts[1]! + counts[2]! === 30 && outsiderCount === 30, 5000, 'every job once in the group');
    expect(counts).toEqual([10, 10, 10]);
  });
});

describe('UDP deliveries', () => {
  it("a subscription with transport 'udp' gets its messages over the session's UDP path", async () => {
    const { tcpPort } = await startServer();
    const subscriber = await startClient({ tcpPort });
    await waitUntil(() => subscriber.udpReady, 5000, 'the UDP path');
    const publisher = await startClient({ tcpPort, udpPort: false });
    const subscription = await subscriber.subscribe('fast/#', { transport: 'udp', reliable: true, qos: 1 });
    const before = subscriber.stats!.udp.messagesIn;
    for (let i = 0; i < 5; i++) await publisher.publish(`fast/${i}`, i, { qos: 1 });
    const messages = await take(subscription, 5);
    expect(messages.map((m) => m.payload)).toEqual([0, 1, 2, 3, 4]);
    expect(subscriber.stats!.udp.messagesIn - before).toBeGreaterThanOrEqual(5);
  });
});
