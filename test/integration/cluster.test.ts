/**
 * Servers in one cluster over a real nats-server (test/support/nats-server.ts): membership and the
 * noticing of a dead node, broadcasts reaching the peers of every node, requests to a client by id
 * on whichever node holds it, a clientId taken over across nodes, stats().cluster.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NatsServer, natsSkipReason } from '../support/nats-server.js';
import { closeAfterEach, startClient, startServer } from '../support/sessions.js';
import { waitUntil, within } from '../support/wait.js';
import { nextEvent } from '../support/raw-peer.js';
import type { Server } from '../../ts/index.js';

if (natsSkipReason !== undefined) console.warn(`test/integration/cluster.test.ts skipped: ${natsSkipReason}`);

closeAfterEach();

let nats: NatsServer;
let clusters = 0;

/** Servers of a cluster of their own (a subject prefix no other test uses) on the shared nats-server. */
async function startNodes(count: number, heartbeatMs = 200): Promise<Array<{ server: Server; tcpPort: number }>> {
  const subjectPrefix = `c${++clusters}`;
  const nodes = [];
  for (let index = 0; index < count; index++) {
    nodes.push(await startServer({ udpPort: false, cluster: { nats: nats.url, name: `node-${index}`, heartbeatMs, subjectPrefix } }));
  }
  return nodes;
}

function names(server: Server): string[] {
  return server.cluster!.nodes().map((node) => node.name);
}

describe.skipIf(natsSkipReason !== undefined)(`a cluster over NATS${natsSkipReason ? ` (skipped: ${natsSkipReason})` : ''}`, () => {
  beforeAll(async () => {
    nats = await NatsServer.start();
  });
  afterAll(async () => {
    await nats?.dispose();
  });

  it('nodes() lists every live node, this one first and marked self', async () => {
    const [a, b, c] = await startNodes(3);
    for (const { server } of [a!, b!, c!]) await waitUntil(() => server.cluster!.nodes().length === 3, 5000, 'three nodes seen');
    expect(names(a!.server)).toEqual(['node-0', 'node-1', 'node-2']);
    expect(names(b!.server)).toEqual(['node-1', 'node-0', 'node-2']);
    expect(b!.server.cluster!.nodes()[0]).toMatchObject({ name: 'node-1', self: true });
    expect(b!.server.cluster!.nodes()[1]).toMatchObject({ name: 'node-0', self: false });
    expect(a!.server.stats().cluster).toMatchObject({ name: 'node-0', connected: true, nodes: 3 });
  });

  it('a node that closes leaves at once; one that goes silent is noticed dead within two heartbeat intervals', async () => {
    const heartbeatMs = 1000;
    const [a, b, c] = await startNodes(3, heartbeatMs);
    await waitUntil(() => a!.server.cluster!.nodes().length === 3, 5000, 'three nodes seen');
    await b!.server.close();
    await waitUntil(() => a!.server.cluster!.nodes().length === 2, heartbeatMs, 'the closed node gone before a heartbeat interval');
    // Silent without a goodbye, as a killed process is: its connection to NATS ends abruptly.
    await c!.server.cluster!.engine.close();
    // The bound the issue sets (cluster.heartbeatMs): noticed within two intervals of going silent.
    const dead = nextEvent<[{ name: string }]>(a!.server.cluster!.membership, 'dead', 10_000);
    const [node] = await within(dead, 2 * heartbeatMs, 'the silent node noticed dead within two heartbeat intervals');
    expect(node.name).toBe('node-2');
    expect(names(a!.server)).toEqual(['node-0']);
    expect(a!.server.stats().cluster!.deadNodes).toBe(1);
  });

  it('server.broadcast() reaches the peers of every node', async () => {
    const nodes = await startNodes(3);
    await waitUntil(() => nodes[0]!.server.cluster!.nodes().length === 3, 5000, 'three nodes seen');
    const clients = await Promise.all(nodes.map(({ tcpPort }) => startClient({ tcpPort, udpPort: false })));
    const received = clients.map((client) => new Promise<unknown>((resolve) => client.once('message', (type, payload) => resolve([type, payload]))));
    expect(nodes[1]!.server.broadcast('news', { headline: 'all nodes' })).toBe(1);
    const answers = await within(Promise.all(received), 5000, 'the broadcast on every node');
    for (const answer of answers) expect(answer).toEqual(['news', { headline: 'all nodes' }]);
    await waitUntil(() => nodes[0]!.server.stats().cluster!.relayedIn === 1, 5000, 'relayedIn counted');
    expect(nodes[1]!.server.stats().cluster!.relayedOut).toBe(1);
  });

  it('server.request(clientId, ...) reaches the client on whichever node holds it, and fails with HW_ERR_NOT_CONNECTED when none does', async () => {
    const [a, b] = await startNodes(2);
    const client = await startClient({ tcpPort: b!.tcpPort, udpPort: false, clientId: 'sensor-7' });
    client.handle('read', (payload: { scale: number }) => ({ value: 21 * payload.scale }));
    client.handle('bytes', () => Buffer.from([1, 2, 3]));
    client.handle('fails', () => {
      throw Object.assign(new Error('sensor busy'), { code: 'HW_ERR_SENSOR_BUSY' });
    });
    await waitUntil(() => b!.server.peerByClientId('sensor-7') !== undefined, 5000, 'the client on node b');
    // NATS knows node b serves the client once b's subscription has reached it.
    await b!.server.cluster!.flush();
    expect(await a!.server.request('sensor-7', 'read', { scale: 2 })).toEqual({ value: 42 });
    expect(await b!.server.request('sensor-7', 'read', { scale: 1 })).toEqual({ value: 21 });
    expect(Buffer.from((await a!.server.request('sensor-7', 'bytes')) as Uint8Array)).toEqual(Buffer.from([1, 2, 3]));
    await expect(a!.server.request('sensor-7', 'fails')).rejects.toMatchObject({ code: 'HW_ERR_SENSOR_BUSY' });
    await expect(a!.server.request('nobody', 'read', { scale: 1 })).rejects.toMatchObject({ code: 'HW_ERR_NOT_CONNECTED' });
    await client.close();
    await waitUntil(() => b!.server.peerByClientId('sensor-7') === undefined, 5000, 'the client gone');
    await b!.server.cluster!.flush();
    await expect(a!.server.request('sensor-7', 'read', { scale: 1 })).rejects.toMatchObject({ code: 'HW_ERR_NOT_CONNECTED' });
  });

  it('server.request(clientId, ...) without a cluster fails with HW_ERR_NOT_CONNECTED for an unknown client', async () => {
    const { server } = await startServer({ udpPort: false });
    await expect(server.request('nobody', 'read')).rejects.toMatchObject({ code: 'HW_ERR_NOT_CONNECTED' });
  });

  it('a clientId that opens a session on another node takes over: the older session ends with HW_ERR_SESSION_TAKEN_OVER', async () => {
    const [a, b] = await startNodes(2);
    const older = await startClient({ tcpPort: a!.tcpPort, udpPort: false, clientId: 'roamer' });
    await waitUntil(() => a!.server.peerByClientId('roamer') !== undefined, 5000, 'the older session open on node a');
    const olderClosed = nextEvent<[Error | undefined]>(older, 'disconnect');
    await startClient({ tcpPort: b!.tcpPort, udpPort: false, clientId: 'roamer' });
    const [error] = await within(olderClosed, 5000, 'the older session closed');
    expect(error).toMatchObject({ code: 'HW_ERR_SESSION_TAKEN_OVER' });
    expect(b!.server.peerByClientId('roamer')?.clientId).toBe('roamer');
  });

  it('refuses to start when NATS cannot be reached, with HW_ERR_CLUSTER_UNAVAILABLE', async () => {
    const { createServer } = await import('../../ts/index.js');
    const server = createServer({ host: '127.0.0.1', udpPort: false, cluster: { nats: 'nats://127.0.0.1:1', connectTimeoutMs: 1000 } });
    await expect(server.listen()).rejects.toMatchObject({ code: 'HW_ERR_CLUSTER_UNAVAILABLE' });
  });
});
