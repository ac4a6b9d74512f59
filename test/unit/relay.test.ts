/**
 * The pub/sub relay between nodes (ts/cluster/relay.ts) over an in-memory engine
 * (test/support/memory-engine.ts): subscriptions that follow the broker's interest, QoS 0 over core
 * publish and QoS >= 1 over durable publish with an id, one delivery per id (overlapping filters,
 * redeliveries), nothing handed back to the node that sent it, topics ↔ subjects with escapes,
 * headers and payloads across nodes, retained messages, a node that comes back under its name.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { Cluster, type ClusterHost } from '../../ts/cluster/cluster.js';
import type { ClusterOptions } from '../../ts/cluster/cluster-options.js';
import { Relay, type RelayBroker, type RelayMessage } from '../../ts/cluster/relay.js';
import { MemoryNats, type MemoryEngine } from '../support/memory-engine.js';

/** The broker's seams, recording what the relay hands it. */
class RecordingBroker implements RelayBroker {
  relay: RelayBroker['relay'];
  readonly delivered: Array<{ message: RelayMessage; origin: unknown; id: string | undefined }> = [];
  private readonly present = new Set<string>();
  private readonly listeners = new Set<(filter: string, present: boolean) => void>();

  constructor(filters: string[] = []) {
    for (const filter of filters) this.present.add(filter);
  }

  onInterest(listener: (filter: string, present: boolean) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  filters(): string[] {
    return [...this.present];
  }

  /** A filter gains its first local subscriber (true) or loses its last (false). */
  interest(filter: string, present: boolean): void {
    if (present) this.present.add(filter);
    else this.present.delete(filter);
    for (const listener of this.listeners) listener(filter, present);
  }

  deliverLocal(message: RelayMessage, origin?: unknown, messageId?: string): number {
    this.delivered.push({ message, origin, id: messageId });
    return 1;
  }

  topics(): string[] {
    return this.delivered.map((entry) => entry.message.topic);
  }
}

const host: ClusterHost = { peers: new Map(), peerByClientId: () => undefined, on: () => undefined };

interface Node {
  cluster: Cluster;
  engine: MemoryEngine;
  broker: RecordingBroker;
  relay: Relay;
  retained: RelayMessage[];
}

const started: Node[] = [];

async function node(nats: MemoryNats, name: string, filters: string[] = [], options: Partial<ClusterOptions> & { echo?: boolean } = {}): Promise<Node> {
  const { echo, ...clusterOptions } = options;
  const engine = nats.connect({ echo: echo ?? false });
  const cluster = new Cluster(host, { nats: 'nats://127.0.0.1:1', name, ...clusterOptions }, () => 0, undefined, () => Promise.resolve(engine));
  await cluster.start();
  const broker = new RecordingBroker(filters);
  const retained: RelayMessage[] = [];
  const relay = new Relay(cluster, broker, { setRetained: (message) => retained.push(message) });
  await relay.start();
  await relay.settled();
  const created = { cluster, engine, broker, relay, retained };
  started.push(created);
  return created;
}

/** Waits for the broker's interest to reach the engine and for every delivery under way. */
async function settle(nats: MemoryNats, ...nodes: Node[]): Promise<void> {
  for (const each of nodes) await each.relay.settled();
  await nats.flush();
}

function message(topic: string, qos: 0 | 1 | 2, payload: RelayMessage['payload'] = Buffer.from('hi'), extra: Partial<RelayMessage> = {}): RelayMessage {
  return { topic, payload, qos, retain: false, ...extra };
}

afterEach(async () => {
  vi.useRealTimers();
  vi.restoreAllMocks();
  for (const each of started.splice(0)) {
    await each.relay.stop();
    await each.cluster.stop();
  }
});

describe('Relay: subscriptions follow the interest of this node', () => {
  it('subscribes the filters present at start and those that appear, once each, and unsubscribes when the last subscriber goes', async () => {
    const nats = new MemoryNats();
    const b = await node(nats, 'b', ['x/y']);
    const heartbeat = 'hybridwire.cluster.heartbeat';
    const coreSubjects = () => nats.subjectsOf(b.engine).filter((subject) => subject.startsWith('hybridwire.msg.'));
    expect(coreSubjects()).toEqual(['hybridwire.msg.x.y']);
    expect(nats.subjectsOf(b.engine)).toContain(heartbeat);

    b.broker.interest('sensors/+/temp', true);
    b.broker.interest('sensors/+/temp', true);
    b.broker.interest('home/#', true);
    await settle(nats, b);
    // `home/#` matches `home` too: two subjects, two durable consumers.
    expect(coreSubjects()).toEqual(['hybridwire.msg.home', 'hybridwire.msg.home.>', 'hybridwire.msg.sensors.*.temp', 'hybridwire.msg.x.y']);
    expect([...nats.consumers.values()].map((consumer) => consumer.subject).sort()).toEqual(['hybridwire.durable.home', 'hybridwire.durable.home.>', 'hybridwire.durable.sensors.*.temp', 'hybridwire.durable.x.y']);

    b.broker.interest('home/#', false);
    b.broker.interest('x/y', false);
    await settle(nats, b);
    expect(coreSubjects()).toEqual(['hybridwire.msg.sensors.*.temp']);
    expect([...nats.consumers.values()].map((consumer) => consumer.subject)).toEqual(['hybridwire.durable.sensors.*.temp']);
  });

  it('a node receives only what its subscribers want, and nothing once the interest has gone', async () => {
    const nats = new MemoryNats();
    const a = await node(nats, 'a');
    const b = await node(nats, 'b', ['sensors/+/temp']);
    await a.relay.send(message('sensors/kitchen/temp', 0));
    await a.relay.send(message('sensors/kitchen/humidity', 0));
    await a.relay.send(message('sensors/hall/temp', 1));
    await settle(nats, a, b);
    expect(b.broker.topics()).toEqual(['sensors/kitchen/temp', 'sensors/hall/temp']);

    b.broker.interest('sensors/+/temp', false);
    await settle(nats, b);
    await a.relay.send(message('sensors/kitchen/temp', 0));
    await a.relay.send(message('sensors/kitchen/temp', 2));
    await settle(nats, a, b);
    expect(b.broker.topics()).toEqual(['sensors/kitchen/temp', 'sensors/hall/temp']);
    expect(b.cluster.counters.relayedIn).toBe(2);
    expect(a.cluster.counters.relayedOut).toBe(5);
  });

  it('stop() gives back the relay hook and the subscriptions, and stops listening to the interest', async () => {
    const nats = new MemoryNats();
    const b = await node(nats, 'b', ['t']);
    expect(b.broker.relay).toBeTypeOf('function');
    await b.relay.stop();
    expect(b.broker.relay).toBeUndefined();
    expect(nats.subjectsOf(b.engine).filter((subject) => subject.startsWith('hybridwire.msg.'))).toEqual([]);
    b.broker.interest('u', true);
    await settle(nats, b);
    expect(nats.subjectsOf(b.engine).filter((subject) => subject.startsWith('hybridwire.msg.'))).toEqual([]);
    // Its durable consumer stays, for the node's next life under its name.
    expect([...nats.consumers.values()].map((consumer) => consumer.subject)).toEqual(['hybridwire.durable.t']);
  });
});

describe('Relay: QoS 0 over core publish, QoS >= 1 over durable publish', () => {
  it('sends QoS 0 with publish and QoS 1 and 2 with durablePublish under the id send() resolves with', async () => {
    const nats = new MemoryNats();
    const a = await node(nats, 'a', [], { publishTimeoutMs: 4321 });
    const publish = vi.spyOn(a.engine, 'publish');
    const durablePublish = vi.spyOn(a.engine, 'durablePublish');

    const id0 = await a.relay.send(message('t/zero', 0));
    expect(publish).toHaveBeenCalledTimes(1);
    expect(durablePublish).not.toHaveBeenCalled();
    const [subject0, , headers0] = publish.mock.calls[0]!;
    expect(subject0).toBe('hybridwire.msg.t.zero');
    expect(headers0?.['hw-id']).toBe(id0);
    expect(headers0?.['hw-qos']).toBe('0');

    const id1 = await a.relay.send(message('t/one', 1));
    const id2 = await a.relay.send(message('t/two', 2));
    expect(publish).toHaveBeenCalledTimes(1);
    expect(durablePublish).toHaveBeenCalledTimes(2);
    const [subject1, , headers1, messageId1, timeout1] = durablePublish.mock.calls[0]!;
    expect([subject1, headers1['hw-id'], headers1['hw-qos'], messageId1, timeout1]).toEqual(['hybridwire.durable.t.one', id1, '1', id1, 4321]);
    const [subject2, , headers2, messageId2] = durablePublish.mock.calls[1]!;
    expect([subject2, headers2['hw-qos'], messageId2]).toEqual(['hybridwire.durable.t.two', '2', id2]);
    expect(new Set([id0, id1, id2]).size).toBe(3);
    expect(nats.stored.map((stored) => stored.id)).toEqual([id1, id2]);
  });

  it('a QoS >= 1 publish that cannot be stored fails with HW_ERR_CLUSTER_UNAVAILABLE and is counted; QoS 0 is dropped quietly', async () => {
    const nats = new MemoryNats();
    const a = await node(nats, 'a');
    const b = await node(nats, 'b', ['t']);
    a.engine.setConnected(false);
    await expect(a.relay.send(message('t', 1))).rejects.toMatchObject({ code: 'HW_ERR_CLUSTER_UNAVAILABLE' });
    expect(a.cluster.counters.unavailable).toBe(1);
    await a.relay.send(message('t', 0));
    expect(a.cluster.counters.unavailable).toBe(1);
    await settle(nats, a, b);
    expect(b.broker.delivered).toEqual([]);
    expect(nats.stored).toEqual([]);
  });
});

describe('Relay: each message reaches a broker once', () => {
  it('hands a message with the same id to the broker once, however often the engine delivers it', async () => {
    const nats = new MemoryNats();
    const a = await node(nats, 'a');
    const b = await node(nats, 'b', ['t/+']);
    // Acknowledgements lost on the way: the engine delivers the message again.
    nats.loseAcks = true;
    const id = await a.relay.send(message('t/1', 1));
    await settle(nats, a, b);
    nats.redeliver();
    await settle(nats, a, b);
    nats.redeliver();
    await settle(nats, a, b);
    const consumer = [...nats.consumers.values()][0]!;
    expect(consumer.deliveries.get(1)).toBe(3);
    expect(b.broker.delivered.map((entry) => entry.id)).toEqual([id]);
    expect(b.broker.delivered[0]!.origin).toBe('b');

    // A recorded acknowledgement ends the redeliveries.
    nats.loseAcks = false;
    nats.redeliver();
    await settle(nats, a, b);
    nats.redeliver();
    await settle(nats, a, b);
    expect(consumer.deliveries.get(1)).toBe(4);
    expect(b.broker.delivered).toHaveLength(1);
  });

  it('a message matched by two filters of one node is handed on once, at every QoS', async () => {
    const nats = new MemoryNats();
    const a = await node(nats, 'a');
    const b = await node(nats, 'b', ['t/+', 't/#', '+/x']);
    for (const qos of [0, 1, 2] as const) await a.relay.send(message('t/x', qos));
    await settle(nats, a, b);
    expect(b.broker.delivered.map((entry) => entry.message.qos)).toEqual([0, 1, 2]);
  });

  it('the same id published twice on core subjects reaches the broker once', async () => {
    const nats = new MemoryNats();
    const other = nats.connect();
    const b = await node(nats, 'b', ['t']);
    const headers = { 'hw-origin': 'elsewhere', 'hw-id': 'id-1', 'hw-qos': '0', 'hw-enc': '0' };
    other.publish('hybridwire.msg.t', Buffer.from('one'), headers);
    other.publish('hybridwire.msg.t', Buffer.from('one'), headers);
    other.publish('hybridwire.msg.t', Buffer.from('two'), { ...headers, 'hw-id': 'id-2' });
    await settle(nats, b);
    expect(b.broker.delivered.map((entry) => entry.id)).toEqual(['id-1', 'id-2']);
  });

  it('forgets the oldest ids beyond cluster.maxRememberedIds', async () => {
    const nats = new MemoryNats();
    const other = nats.connect();
    const b = await node(nats, 'b', ['t'], { maxRememberedIds: 2 });
    const publish = (id: string) => other.publish('hybridwire.msg.t', Buffer.from(id), { 'hw-origin': 'elsewhere', 'hw-id': id, 'hw-qos': '0', 'hw-enc': '0' });
    publish('1');
    publish('2');
    publish('2');
    publish('3');
    // '1' was forgotten when '3' came (at most two remembered): it passes again; '3' does not.
    publish('1');
    publish('3');
    await settle(nats, b);
    expect(b.broker.delivered.map((entry) => entry.id)).toEqual(['1', '2', '3', '1']);
  });

  it('does not hand a node its own messages back, at any QoS, even from an engine that echoes', async () => {
    const nats = new MemoryNats();
    const a = await node(nats, 'a', ['t'], { echo: true });
    const b = await node(nats, 'b', ['t']);
    for (const qos of [0, 1, 2] as const) await a.relay.send(message('t', qos));
    await settle(nats, a, b);
    expect(b.broker.delivered.map((entry) => entry.message.qos)).toEqual([0, 1, 2]);
    expect(a.broker.delivered).toEqual([]);
    expect(a.cluster.counters.relayedIn).toBe(0);
    // The durable copies a node's own consumer got are acknowledged all the same.
    const ownConsumers = [...nats.consumers.values()].filter((consumer) => consumer.reader?.engine === a.engine);
    expect(ownConsumers.map((consumer) => [...consumer.acked].sort())).toEqual([[1, 2]]);
  });
});

describe('Relay: topics, payloads and headers across nodes', () => {
  it('escapes topic levels into subject tokens and decodes them back exactly', async () => {
    const nats = new MemoryNats();
    const a = await node(nats, 'a');
    const b = await node(nats, 'b', ['home/living room/+', 'a//b', 'café/#']);
    const publish = vi.spyOn(a.engine, 'publish');
    const topics = ['home/living room/temp%', 'home/living room/a.b*c>d', 'a//b', 'café/crème'];
    for (const topic of topics) await a.relay.send(message(topic, 0));
    expect(publish.mock.calls.map((call) => call[0])).toEqual([
      'hybridwire.msg.home.living%20room.temp%25',
      'hybridwire.msg.home.living%20room.a%2Eb%2Ac%3Ed',
      'hybridwire.msg.a.%.b',
      'hybridwire.msg.caf%C3%A9.cr%C3%A8me',
    ]);
    await settle(nats, a, b);
    expect(b.broker.topics()).toEqual(topics);
  });

  it('uses the subject prefix of its cluster', async () => {
    const nats = new MemoryNats();
    const a = await node(nats, 'a', [], { subjectPrefix: 'blue' });
    const b = await node(nats, 'b', ['t'], { subjectPrefix: 'blue' });
    const c = await node(nats, 'c', ['t']);
    const durablePublish = vi.spyOn(a.engine, 'durablePublish');
    await a.relay.send(message('t', 1));
    await settle(nats, a, b, c);
    expect(durablePublish.mock.calls[0]![0]).toBe('blue.durable.t');
    expect(b.broker.topics()).toEqual(['t']);
    expect(c.broker.delivered).toEqual([]);
  });

  it('carries binary, JSON and empty payloads, retain, expiry and priority', async () => {
    const nats = new MemoryNats();
    const a = await node(nats, 'a');
    const b = await node(nats, 'b', ['t']);
    await a.relay.send(message('t', 1, Buffer.from([0, 1, 255]), { expiryMs: 5000, priority: 'high' }));
    await a.relay.send(message('t', 0, { reading: 21.5, tags: ['a'] }, { priority: 'low' }));
    await a.relay.send(message('t', 2, Buffer.alloc(0), { payload: undefined }));
    await settle(nats, a, b);
    const received = b.broker.delivered.map((entry) => entry.message);
    expect(received[0]).toEqual({ topic: 't', payload: Buffer.from([0, 1, 255]), qos: 1, retain: false, expiryMs: 5000, priority: 'high' });
    expect(received[1]).toEqual({ topic: 't', payload: { reading: 21.5, tags: ['a'] }, qos: 0, retain: false, priority: 'low' });
    expect(received[2]).toEqual({ topic: 't', payload: undefined, qos: 2, retain: false });
    expect(received).toHaveLength(3);
  });

  it('drops a message it could not have written (bad QoS, escape or payload) and goes on', async () => {
    const nats = new MemoryNats();
    const other = nats.connect();
    const b = await node(nats, 'b', ['t', '+']);
    const headers = (id: string, extra: Record<string, string> = {}) => ({ 'hw-origin': 'elsewhere', 'hw-id': id, 'hw-qos': '0', 'hw-enc': '0', ...extra });
    other.publish('hybridwire.msg.t', Buffer.from('x'), headers('bad-qos', { 'hw-qos': '3' }));
    other.publish('hybridwire.msg.%zz', Buffer.from('x'), headers('bad-escape'));
    other.publish('hybridwire.msg.t', Buffer.from('{'), headers('bad-json', { 'hw-enc': '1' }));
    other.publish('hybridwire.msg.t', Buffer.from('x'), { 'hw-origin': 'elsewhere', 'hw-qos': '0', 'hw-enc': '0' });
    other.publish('hybridwire.msg.t', Buffer.from('x'), headers('good'));
    await settle(nats, b);
    expect(b.broker.delivered.map((entry) => entry.id)).toEqual(['good']);
    expect(b.cluster.counters.relayedIn).toBe(1);
  });
});

describe('Relay: retained messages and a node that comes back', () => {
  it('stores a retained message in the bucket; the other nodes set it in their store, the sender does not', async () => {
    const nats = new MemoryNats();
    const a = await node(nats, 'a');
    const b = await node(nats, 'b');
    await a.relay.send(message('r/1', 1, { on: true }, { retain: true }));
    await a.relay.send(message('r/1', 0, 'not retained'));
    await settle(nats, a, b);
    expect([...(nats.buckets.get('hybridwire_retained')?.keys() ?? [])]).toHaveLength(1);
    expect(b.retained).toEqual([{ topic: 'r/1', payload: { on: true }, qos: 1, retain: true }]);
    expect(a.retained).toEqual([]);

    // A node that starts later gets what the bucket holds.
    const c = await node(nats, 'c');
    await settle(nats, c);
    expect(c.retained).toEqual([{ topic: 'r/1', payload: { on: true }, qos: 1, retain: true }]);
  });

  it('a QoS >= 1 retained message whose store fails is refused with HW_ERR_CLUSTER_UNAVAILABLE', async () => {
    const nats = new MemoryNats();
    const a = await node(nats, 'a');
    vi.spyOn(a.engine, 'kvPut').mockRejectedValue(new Error('bucket away'));
    await expect(a.relay.send(message('r', 1, 'x', { retain: true }))).rejects.toMatchObject({ code: 'HW_ERR_CLUSTER_UNAVAILABLE' });
    expect(a.cluster.counters.unavailable).toBe(1);
    // At QoS 0 the retained store is best effort.
    await expect(a.relay.send(message('r', 0, 'x', { retain: true }))).resolves.toBeTypeOf('string');
    expect(a.cluster.counters.unavailable).toBe(1);
  });

  it('a node that stops and starts again under its name gets the QoS >= 1 messages published meanwhile, not the QoS 0 ones', async () => {
    const nats = new MemoryNats();
    const a = await node(nats, 'a');
    const b = await node(nats, 'b', ['t']);
    // Only Date is faked, so that the stored messages' times and the consumers' start are apart.
    vi.useFakeTimers({ toFake: ['Date'] });
    await a.relay.send(message('t', 1, 'before'));
    await settle(nats, a, b);
    await b.relay.stop();
    await b.cluster.stop();
    started.splice(started.indexOf(b), 1);
    await a.relay.send(message('t', 1, 'meanwhile'));
    await a.relay.send(message('t', 0, 'lost'));
    await settle(nats, a);
    vi.setSystemTime(Date.now() + 60_000);

    const again = await node(nats, 'b', ['t']);
    await settle(nats, again);
    expect(again.broker.delivered.map((entry) => entry.message.payload)).toEqual(['meanwhile']);
    // Under another name it is a new consumer, which starts from the interest's appearance.
    const other = await node(nats, 'b2', ['t']);
    await settle(nats, other);
    expect(other.broker.delivered).toEqual([]);
  });
});
