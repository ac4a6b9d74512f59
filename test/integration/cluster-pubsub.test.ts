/**
 * Pub/sub across nodes over a real nats-server (ts/cluster/relay.ts, wills.ts): a publish on any
 * node reaches the subscribers of every node once per QoS, a node receives only what its own
 * subscribers want, retained messages are seen from every node, a dead node's wills are published,
 * and a QoS >= 1 publish waits for NATS and fails with HW_ERR_CLUSTER_UNAVAILABLE past
 * cluster.publishTimeoutMs.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NatsServer, natsSkipReason } from '../support/nats-server.js';
import { closeAfterEach, startClient, startServer } from '../support/sessions.js';
import { waitUntil, within } from '../support/wait.js';
import type { PubsubMessage } from '../../ts/pubsub/wire.js';
import type { Server } from '../../ts/index.js';

if (natsSkipReason !== undefined) console.warn(`test/integration/cluster-pubsub.test.ts skipped: ${natsSkipReason}`);

closeAfterEach();

let nats: NatsServer;
let clusters = 0;

async function startNodes(count: number, extra: { heartbeatMs?: number; publishTimeoutMs?: number; url?: string } = {}): Promise<Array<{ server: Server; tcpPort: number }>> {
  const subjectPrefix = `p${++clusters}`;
  const nodes = [];
  for (let index = 0; index < count; index++) {
    nodes.push(await startServer({ udpPort: false, cluster: { nats: extra.url ?? nats.url, name: `node-${index}`, heartbeatMs: extra.heartbeatMs ?? 200, subjectPrefix, ...(extra.publishTimeoutMs ? { publishTimeoutMs: extra.publishTimeoutMs } : {}) } }));
  }
  for (const { server } of nodes) await waitUntil(() => server.cluster!.nodes().length === count, 5000, `${count} nodes seen`);
  return nodes;
}

async function settled(nodes: Array<{ server: Server }>): Promise<void> {
  for (const { server } of nodes) await server.cluster!.flush();
}

describe.skipIf(natsSkipReason !== undefined)(`pub/sub across nodes${natsSkipReason ? ` (skipped: ${natsSkipReason})` : ''}`, () => {
  beforeAll(async () => {
    nats = await NatsServer.start();
  });
  afterAll(async () => {
    await nats?.dispose();
  });

  it.each([0, 1, 2] as const)('a QoS %i publish on one node reaches the subscribers of every node, once each', async (qos) => {
    const nodes = await startNodes(3);
    const received: PubsubMessage[][] = [[], [], []];
    for (const [index, { tcpPort }] of nodes.entries()) {
      const subscriber = await startClient({ tcpPort, udpPort: false });
      // Two overlapping filters on one node: the message still reaches the node once.
      await subscriber.subscribe('room/+/temp', (message) => received[index]!.push(message), { qos: 2 });
      if (index === 2) await (await startClient({ tcpPort, udpPort: false })).subscribe('room/#', () => {}, { qos: 2 });
    }
    await settled(nodes);
    const publisher = await startClient({ tcpPort: nodes[1]!.tcpPort, udpPort: false });
    for (let n = 0; n < 20; n++) await publisher.publish(`room/${n}/temp`, { n }, { qos });
    await waitUntil(() => received.every((messages) => messages.length === 20), 10_000, () => `20 messages on every node, got ${received.map((m) => m.length)}`);
    for (const messages of received) {
      expect(messages.map((message) => (message.payload as { n: number }).n)).toEqual([...Array(20).keys()]);
      expect(new Set(messages.map((message) => message.qos))).toEqual(new Set([qos]));
    }
    // Delivered once on node 2 whose two filters both match (each id handed to its broker once).
    await settled(nodes);
    expect(received[2]!.length).toBe(20);
    expect(nodes[2]!.server.stats().cluster!.relayedIn).toBe(20);
    expect(nodes[1]!.server.stats().cluster!.relayedOut).toBe(20);
  });

  it('a node receives only what its own subscribers want (interest-based)', async () => {
    const [a, b, c] = await startNodes(3);
    const onB: PubsubMessage[] = [];
    const onC: PubsubMessage[] = [];
    await (await startClient({ tcpPort: b!.tcpPort, udpPort: false })).subscribe('alpha/#', (message) => onB.push(message), { qos: 1 });
    const cSubscriber = await startClient({ tcpPort: c!.tcpPort, udpPort: false });
    await cSubscriber.subscribe('beta/+', (message) => onC.push(message), { qos: 1 });
    await settled([a!, b!, c!]);
    const publisher = await startClient({ tcpPort: a!.tcpPort, udpPort: false });
    for (let n = 0; n < 5; n++) await publisher.publish(`alpha/${n}`, n, { qos: n % 2 === 0 ? 0 : 1 });
    await waitUntil(() => onB.length === 5, 5000, 'five messages on node b');
    await publisher.publish('beta/x', 'for c', { qos: 1 });
    await waitUntil(() => onC.length === 1, 5000, 'the message for node c');
    // Node c took in the one message its subscriber wanted, none of the five others.
    expect(c!.server.stats().cluster!.relayedIn).toBe(1);
    // Once its subscriber leaves, node c no longer takes in beta/+.
    await cSubscriber.unsubscribe('beta/+');
    await settled([c!]);
    await publisher.publish('beta/y', 'nobody on c', { qos: 1 });
    await (await startClient({ tcpPort: b!.tcpPort, udpPort: false })).publish('alpha/last', 'marker', { qos: 1 });
    await waitUntil(() => onB.length === 6, 5000, 'the marker on node b');
    await settled([a!, b!, c!]);
    expect(c!.server.stats().cluster!.relayedIn).toBe(1);
  });

  it('retained messages are seen from every node, and cleared everywhere', async () => {
    const [a, b, c] = await startNodes(3);
    const publisher = await startClient({ tcpPort: a!.tcpPort, udpPort: false });
    await publisher.publish('status/door', 'open', { qos: 1, retain: true });
    for (const node of [b!, c!]) {
      const subscriber = await startClient({ tcpPort: node.tcpPort, udpPort: false });
      // The bucket reaches each node's store a moment after the publish resolved.
      await waitUntil(() => node.server.stats().pubsub.retained === 1, 5000, 'the retained message on the node');
      const got = new Promise<PubsubMessage>((resolve) => void subscriber.subscribe('status/#', resolve, { qos: 1 }));
      expect(await within(got, 5000, 'the retained message')).toMatchObject({ topic: 'status/door', payload: 'open', retain: true });
    }
    await publisher.publish('status/door', Buffer.alloc(0), { qos: 1, retain: true });
    await waitUntil(() => c!.server.stats().pubsub.retained === 0, 5000, 'the retained message cleared on node c');
  });

  it("a node noticed dead has its sessions' wills published on the other nodes", async () => {
    const heartbeatMs = 300;
    const [a, b] = await startNodes(2, { heartbeatMs });
    const wills: PubsubMessage[] = [];
    await (await startClient({ tcpPort: a!.tcpPort, udpPort: false })).subscribe('wills/#', (message) => wills.push(message), { qos: 1 });
    await startClient({ tcpPort: b!.tcpPort, udpPort: false, clientId: 'doomed', will: { topic: 'wills/doomed', payload: 'gone', qos: 1 } } as never);
    await settled([a!, b!]);
    // Node b goes silent as a killed process does: no goodbye, no DISCONNECT for its sessions.
    await b!.server.cluster!.engine.close();
    await waitUntil(() => wills.length === 1, 2 * heartbeatMs + 5000, 'the will of the dead node');
    expect(wills[0]).toMatchObject({ topic: 'wills/doomed', payload: 'gone', qos: 1 });
  });

  it('a QoS >= 1 publish waits while NATS is away: it lands if NATS returns in time, else fails with HW_ERR_CLUSTER_UNAVAILABLE', async () => {
    const own = await NatsServer.start();
    try {
      const [a, b] = await startNodes(2, { url: own.url, publishTimeoutMs: 5000 });
      const received: PubsubMessage[] = [];
      await (await startClient({ tcpPort: b!.tcpPort, udpPort: false })).subscribe('t/#', (message) => received.push(message), { qos: 1 });
      await settled([a!, b!]);
      const publisher = await startClient({ tcpPort: a!.tcpPort, udpPort: false });
      await own.stop('SIGKILL');
      await waitUntil(() => !a!.server.stats().cluster!.connected, 5000, 'node a to notice NATS gone');
      await expect(publisher.publish('t/lost', 'x', { qos: 1 })).rejects.toMatchObject({ code: 'HW_ERR_CLUSTER_UNAVAILABLE' });
      expect(a!.server.stats().cluster!.unavailable).toBe(1);
      expect(received).toEqual([]);
      const pending = publisher.publish('t/kept', 'y', { qos: 2 });
      await own.restart();
      await within(pending, 10_000, 'the publish once NATS is back');
      await waitUntil(() => received.length === 1, 15_000, 'the kept message on node b');
      expect(received[0]).toMatchObject({ topic: 't/kept', payload: 'y' });
    } finally {
      await own.dispose();
    }
  });
});
