/**
 * Wills across nodes (ts/cluster/wills.ts) over an in-memory engine (test/support/memory-engine.ts):
 * a node keeps its sessions' wills in the bucket under its instance, and when a node dies the
 * leader alone publishes the wills it left, once, and removes them; a stored will it could not have
 * written is skipped.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { Cluster, type ClusterHost } from '../../ts/cluster/cluster.js';
import { ClusterWills, type StoredWill } from '../../ts/cluster/wills.js';
import type { NodeInfo } from '../../ts/cluster/membership.js';
import { Broker, type BrokerLimits } from '../../ts/pubsub/broker.js';
import { MemoryRetainedStore, MemorySessionStore } from '../../ts/pubsub/stores.js';
import { PUBSUB_RANGES } from '../../ts/api/option-ranges.js';
import type { PubsubMessage } from '../../ts/pubsub/wire.js';
import { MemoryNats } from '../support/memory-engine.js';

const host: ClusterHost = { peers: new Map(), peerByClientId: () => undefined, on: () => undefined };
const BUCKET = 'hybridwire_wills';

interface Node {
  cluster: Cluster;
  wills: ClusterWills;
  published: StoredWill[];
  info: NodeInfo;
}

const started: Cluster[] = [];

async function node(nats: MemoryNats, name: string): Promise<Node> {
  const engine = nats.connect();
  const cluster = new Cluster(host, { nats: 'nats://127.0.0.1:1', name }, () => 0, undefined, () => Promise.resolve(engine));
  await cluster.start();
  started.push(cluster);
  const published: StoredWill[] = [];
  const wills = new ClusterWills(cluster, (will) => void published.push(will));
  return { cluster, wills, published, info: cluster.membership.nodes()[0]! };
}

function will(topic: string, qos: 0 | 1 | 2 = 1, body: Uint8Array | string = Buffer.from(`gone: ${topic}`)): StoredWill {
  return { topic, qos, retain: qos === 2, encoding: 0, body, expiresAt: undefined };
}

/** The keys of the bucket, sorted. */
function keys(nats: MemoryNats): string[] {
  return [...(nats.buckets.get(BUCKET)?.keys() ?? [])].sort();
}

function instanceKey(instance: string): string {
  return instance.replace(/-/g, '');
}

afterEach(async () => {
  for (const cluster of started.splice(0)) await cluster.stop();
});

describe('ClusterWills.changed', () => {
  it('puts a session’s will under the node’s instance and deletes it when it no longer applies', async () => {
    const nats = new MemoryNats();
    const c = await node(nats, 'c');
    c.wills.changed('client-1', will('status/1'));
    c.wills.changed('client-2', will('status/2'));
    await c.wills.settled();
    const prefix = `${instanceKey(c.cluster.instance)}.`;
    expect(keys(nats)).toHaveLength(2);
    for (const key of keys(nats)) expect(key).toMatch(new RegExp(`^${prefix}[0-9a-f]{32}$`));

    // A new will for the same session replaces the old one under the same key.
    c.wills.changed('client-1', will('status/1b'));
    await c.wills.settled();
    expect(keys(nats)).toHaveLength(2);

    c.wills.changed('client-1', undefined);
    await c.wills.settled();
    expect(keys(nats)).toHaveLength(1);
    const [remaining] = keys(nats);
    expect(JSON.parse(Buffer.from(nats.buckets.get(BUCKET)!.get(remaining!)!).toString('utf8')).topic).toBe('status/2');
  });

  it('a change while the engine is away is dropped without an error, and later ones go through', async () => {
    const nats = new MemoryNats();
    const engine = nats.connect();
    const away = new Cluster(host, { nats: 'nats://127.0.0.1:1', name: 'away' }, () => 0, undefined, () => Promise.resolve(engine));
    await away.start();
    started.push(away);
    const wills = new ClusterWills(away, () => {});
    engine.setConnected(false);
    wills.changed('client-1', will('t'));
    await wills.settled();
    expect(keys(nats)).toEqual([]);
    engine.setConnected(true);
    wills.changed('client-1', will('t'));
    await wills.settled();
    expect(keys(nats)).toHaveLength(1);
    expect(keys(nats)[0]!.startsWith(`${instanceKey(away.instance)}.`)).toBe(true);
  });
});

describe('ClusterWills.nodeDied', () => {
  /** Nodes a, b and c on one engine server: b hears a (started after it), a sorts first and leads. */
  async function threeNodes(nats: MemoryNats): Promise<{ a: Node; b: Node; c: Node }> {
    const b = await node(nats, 'b');
    const c = await node(nats, 'c');
    const a = await node(nats, 'a');
    await nats.flush();
    expect(a.cluster.membership.isLeader()).toBe(true);
    expect(b.cluster.membership.isLeader()).toBe(false);
    return { a, b, c };
  }

  it('on the leader publishes each will the dead node left, once, and removes them; other nodes’ wills stay', async () => {
    const nats = new MemoryNats();
    const { a, b, c } = await threeNodes(nats);
    c.wills.changed('client-1', will('status/1', 1, Buffer.from([1, 2, 3])));
    c.wills.changed('client-2', will('status/2', 2, '{"bye":true}'));
    b.wills.changed('client-3', will('status/3'));
    await c.wills.settled();
    await b.wills.settled();
    expect(keys(nats)).toHaveLength(3);

    expect(await a.wills.nodeDied(c.info)).toBe(2);
    const published = a.published.map((each) => ({ ...each, body: Buffer.from(each.body).toString('utf8') })).sort((x, y) => (x.topic < y.topic ? -1 : 1));
    expect(published).toEqual([
      { topic: 'status/1', qos: 1, retain: false, encoding: 0, body: '\u0001\u0002\u0003', expiresAt: undefined },
      { topic: 'status/2', qos: 2, retain: true, encoding: 0, body: '{"bye":true}', expiresAt: undefined },
    ]);
    expect(keys(nats)).toEqual([expect.stringMatching(new RegExp(`^${instanceKey(b.cluster.instance)}\\.`))]);

    // Noticed dead a second time (by a later leader, say): nothing left to publish.
    expect(await a.wills.nodeDied(c.info)).toBe(0);
    expect(a.published).toHaveLength(2);
    expect(b.published).toEqual([]);
    expect(c.published).toEqual([]);
  });

  it('on a node that is not the leader publishes nothing and leaves the wills for the leader', async () => {
    const nats = new MemoryNats();
    const { a, b, c } = await threeNodes(nats);
    c.wills.changed('client-1', will('status/1'));
    await c.wills.settled();
    expect(await b.wills.nodeDied(c.info)).toBe(0);
    expect(b.published).toEqual([]);
    expect(keys(nats)).toHaveLength(1);
    expect(await a.wills.nodeDied(c.info)).toBe(1);
    expect(a.published.map((each) => each.topic)).toEqual(['status/1']);
    expect(keys(nats)).toEqual([]);
  });

  it('skips (and removes) a stored will it could not have written', async () => {
    const nats = new MemoryNats();
    const { a, c } = await threeNodes(nats);
    const prefix = instanceKey(c.info.instance);
    const put = (suffix: string, value: string) => c.cluster.engine.kvPut(BUCKET, `${prefix}.${suffix}`, Buffer.from(value));
    await put('notjson', '{not json');
    await put('badqos', JSON.stringify({ topic: 't', qos: 3, retain: false, encoding: 0, body: '' }));
    await put('notopic', JSON.stringify({ qos: 1, retain: false, encoding: 0, body: '' }));
    await put('null', 'null');
    c.wills.changed('client-1', will('status/1'));
    await c.wills.settled();
    expect(keys(nats)).toHaveLength(5);

    expect(await a.wills.nodeDied(c.info)).toBe(1);
    expect(a.published.map((each) => each.topic)).toEqual(['status/1']);
    expect(keys(nats)).toEqual([]);
  });

  it('a will that fails to publish does not stop the others', async () => {
    const nats = new MemoryNats();
    const { a, c } = await threeNodes(nats);
    const attempted: string[] = [];
    const failing = new ClusterWills(a.cluster, (each) => {
      attempted.push(each.topic);
      if (each.topic === 'status/1') throw new Error('broker refused');
    });
    c.wills.changed('client-1', will('status/1'));
    c.wills.changed('client-2', will('status/2'));
    await c.wills.settled();
    await expect(failing.nodeDied(c.info)).resolves.toBe(2);
    expect(attempted.sort()).toEqual(['status/1', 'status/2']);
    expect(keys(nats)).toEqual([]);
  });

  it('a stored will whose body does not decode under its encoding is skipped by the real broker, and the other wills are still published', async () => {
    const nats = new MemoryNats();
    const { a, c } = await threeNodes(nats);
    // As cluster.ts wires it: the node's broker publishes, and its relay hook carries the will on.
    const limits = Object.fromEntries(Object.entries(PUBSUB_RANGES).map(([name, range]) => [name, range.default])) as unknown as BrokerLimits;
    const broker = new Broker(limits, new MemorySessionStore(), new MemoryRetainedStore());
    const relayed: PubsubMessage[] = [];
    broker.relay = async (message) => {
      relayed.push(message);
      return 'id';
    };
    const wills = new ClusterWills(a.cluster, (each) => broker.publish(each));
    const prefix = instanceKey(c.info.instance);
    // Sorts before the good will's key (a hash): JSON encoding (1), a body that is not JSON.
    await c.cluster.engine.kvPut(BUCKET, `${prefix}.0bad`, Buffer.from(JSON.stringify({ topic: 'status/bad', qos: 1, retain: false, encoding: 1, body: Buffer.from('{').toString('base64') })));
    c.wills.changed('client-1', { ...will('status/good'), encoding: 1, body: '{"bye":1}' });
    await c.wills.settled();

    await expect(wills.nodeDied(c.info)).resolves.toBe(2);
    expect(relayed.map((message) => [message.topic, message.payload])).toEqual([['status/good', { bye: 1 }]]);
    expect(keys(nats)).toEqual([]);
  });
});
