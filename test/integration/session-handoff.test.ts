/**
 * Persistent sessions resume on another node (ts/cluster/session-handoff.ts), over a real
 * nats-server: what a QoS 1 or 2 subscriber missed while away from node a reaches it on node b once
 * each, in order; the session leaves node a; a still-connected session is taken over across nodes;
 * and a transfer that gets no answer, or half of one, ends within cluster.sessionTransferTimeoutMs
 * in a new session or in the first answer's state, never in a hang.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { connect as natsConnect, headers as natsHeaders, type NatsConnection } from 'nats';
import { NatsServer, natsSkipReason } from '../support/nats-server.js';
import { closeAfterEach, startClient, startServer } from '../support/sessions.js';
import { waitUntil, within } from '../support/wait.js';
import { nextEvent } from '../support/raw-peer.js';
import { ServerPubsub } from '../../ts/pubsub/server-pubsub.js';
import { encodeRecord, type PubsubMessage } from '../../ts/pubsub/wire.js';
import { encodeSession } from '../../ts/cluster/session-format.js';
import { nameToken } from '../../ts/cluster/subjects.js';
import { SessionHandoff } from '../../ts/cluster/session-handoff.js';
import { Encoding } from '../../ts/session/message.js';
import type { Client, Server } from '../../ts/index.js';

if (natsSkipReason !== undefined) console.warn(`test/integration/session-handoff.test.ts skipped: ${natsSkipReason}`);

closeAfterEach();

let nats: NatsServer;
let clusters = 0;

interface Node {
  server: Server;
  tcpPort: number;
}

async function startNodes(count: number, extra: { sessionTransferTimeoutMs?: number } = {}, maxOfflineBytes?: number): Promise<{ nodes: Node[]; prefix: string }> {
  const subjectPrefix = `h${++clusters}`;
  const nodes = [];
  for (let index = 0; index < count; index++) {
    nodes.push(await startServer({ udpPort: false, ...(maxOfflineBytes === undefined ? {} : { maxOfflineBytes }), cluster: { nats: nats.url, name: `node-${index}`, heartbeatMs: 200, subjectPrefix, ...extra } }));
  }
  for (const { server } of nodes) await waitUntil(() => server.cluster!.nodes().length === count, 5000, `${count} nodes seen`);
  return { nodes, prefix: subjectPrefix };
}

async function settled(nodes: Node[]): Promise<void> {
  for (const { server } of nodes) await server.cluster!.flush();
}

const newsRecord = (qos: 1 | 2, id: number) => encodeRecord(qos, false, false, id, `news/${id}`, Encoding.JSON, JSON.stringify(id));

function collect(client: Client): PubsubMessage[] {
  const messages: PubsubMessage[] = [];
  client.on('publish', (message) => messages.push(message));
  return messages;
}

/** The answers servers give to pub/sub CONNECT from now on, in order (what the client is told: sessionPresent). */
const connectPrototype = ServerPubsub.prototype as unknown as { connect(...args: unknown[]): unknown };
const realConnect = connectPrototype.connect;
/** How long a test waits for a CONNECT's answer: twice the hand-off's own bound (cluster.sessionTransferTimeoutMs, 5000), for loaded machines. */
const ANSWER_MS = 10_000;

function connectAnswers(): Array<Promise<{ sessionPresent: boolean }>> {
  const answers: Array<Promise<{ sessionPresent: boolean }>> = [];
  vi.spyOn(connectPrototype, 'connect').mockImplementation(function (this: unknown, ...args: unknown[]) {
    const answer = realConnect.apply(this, args);
    answers.push(Promise.resolve(answer as { sessionPresent: boolean }));
    return answer;
  });
  return answers;
}

/** A subscriber that leaves a persistent session on `node`, subscribed to `filter` at `qos`. */
async function leaveSession(node: Node, clientId: string, filter: string, qos: 1 | 2): Promise<void> {
  const away = await startClient({ tcpPort: node.tcpPort, udpPort: false, clientId, cleanSession: false });
  await away.subscribe(filter, { qos });
  await away.close();
  await waitUntil(() => node.server.peerByClientId(clientId) === undefined, 5000, 'the session to go away');
}

describe.skipIf(natsSkipReason !== undefined)(`persistent sessions resume on another node${natsSkipReason ? ` (skipped: ${natsSkipReason})` : ''}`, () => {
  beforeAll(async () => {
    nats = await NatsServer.start();
  });
  afterAll(async () => {
    await nats?.dispose();
  });
  afterEach(() => {
    vi.restoreAllMocks();
  });

  it.each([1, 2] as const)('a QoS %i subscriber away from node a gets on node b what it missed, once each and in order, then new publishes', async (qos) => {
    const { nodes } = await startNodes(3);
    const [a, b, c] = nodes as [Node, Node, Node];
    await leaveSession(a, 'roamer', 'orders/#', qos);
    await settled(nodes);
    // Published while it is away, from its own node and from a third one; each lands in its queue on a before the next.
    const onA = await startClient({ tcpPort: a.tcpPort, udpPort: false });
    const onC = await startClient({ tcpPort: c.tcpPort, udpPort: false });
    for (let n = 0; n < 6; n++) {
      await (n % 2 === 0 ? onA : onC).publish(`orders/${n}`, { n }, { qos });
      await waitUntil(() => a.server.stats().pubsub.queuedOffline === n + 1, 5000, `message ${n} queued on node a`);
    }
    const answers = connectAnswers();
    const back = await startClient({ tcpPort: b.tcpPort, udpPort: false, clientId: 'roamer', cleanSession: false });
    const messages = collect(back);
    expect(await within(answers[0]!, ANSWER_MS, 'the CONNECT answer')).toEqual({ sessionPresent: true });
    await waitUntil(() => messages.length === 6, 5000, () => `the six queued messages on node b, got ${messages.length}`);
    expect(messages.map((message) => (message.payload as { n: number }).n)).toEqual([0, 1, 2, 3, 4, 5]);
    expect(new Set(messages.map((message) => message.qos))).toEqual(new Set([qos]));
    // Node a no longer holds it; node b does.
    expect(a.server.broker.sessions.has('roamer')).toBe(false);
    expect(b.server.broker.sessions.get('roamer')?.state.persistent).toBe(true);
    expect(a.server.stats().cluster).toMatchObject({ sessionsOut: 1 });
    expect(b.server.stats().cluster).toMatchObject({ sessionsIn: 1 });
    // New publishes reach it on b, from b and from a.
    await settled(nodes);
    await (await startClient({ tcpPort: b.tcpPort, udpPort: false })).publish('orders/6', { n: 6 }, { qos });
    await onA.publish('orders/7', { n: 7 }, { qos });
    await waitUntil(() => messages.length === 8, 5000, () => `the two new messages, got ${messages.length}`);
    expect(messages.map((message) => (message.payload as { n: number }).n)).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    // Nothing more comes (no duplicate of a queued message): every delivery is acknowledged and the queue is empty.
    await waitUntil(() => b.server.stats().pubsub.inflight === 0, 5000, 'every delivery acknowledged');
    await back.ping();
    expect(messages).toHaveLength(8);
    expect(b.server.stats().pubsub.queuedOffline).toBe(0);
  });

  it.each([1, 2] as const)('QoS %i publishes made on two nodes while the session moves are all delivered (at QoS 2 once each), in order per publisher', async (qos) => {
    const { nodes } = await startNodes(3);
    const [a, b, c] = nodes as [Node, Node, Node];
    await leaveSession(a, 'mover', 'stream/#', qos);
    await settled(nodes);
    const PER_PUBLISHER = 120;
    const publishers = [await startClient({ tcpPort: b.tcpPort, udpPort: false }), await startClient({ tcpPort: c.tcpPort, udpPort: false })];
    const loops = publishers.map(async (publisher, p) => {
      for (let n = 0; n < PER_PUBLISHER; n++) await publisher.publish(`stream/${p}`, { p, n }, { qos });
    });
    // The client comes back on node b in the middle of the stream.
    await waitUntil(() => a.server.stats().pubsub.queuedOffline >= 20, 10_000, 'twenty messages queued on node a');
    const answers = connectAnswers();
    const back = await startClient({ tcpPort: b.tcpPort, udpPort: false, clientId: 'mover', cleanSession: false });
    const messages = collect(back);
    expect(await within(answers[0]!, ANSWER_MS, 'the CONNECT answer')).toEqual({ sessionPresent: true });
    await within(Promise.all(loops), 30_000, 'the publishers');
    const received = () => messages.map((message) => message.payload as { p: number; n: number });
    await waitUntil(() => new Set(received().map(({ p, n }) => `${p}/${n}`)).size === 2 * PER_PUBLISHER, 15_000, () => `every message, got ${messages.length}`);
    await waitUntil(() => b.server.stats().pubsub.inflight === 0, 5000, 'every delivery acknowledged');
    await back.ping();
    for (const p of [0, 1]) {
      const numbers = received()
        .filter((payload) => payload.p === p)
        .map((payload) => payload.n);
      const firsts = numbers.filter((n, index) => numbers.indexOf(n) === index);
      expect(firsts).toEqual([...Array(PER_PUBLISHER).keys()]);
      if (qos === 2) expect(numbers).toHaveLength(PER_PUBLISHER);
    }
    expect(a.server.broker.sessions.has('mover')).toBe(false);
  });

  it('a session larger than one NATS message (1 MiB) crosses in chunks, whole and in order', async () => {
    const { nodes } = await startNodes(2, {}, 4 << 20);
    const [a, b] = nodes as [Node, Node];
    await leaveSession(a, 'big', 'blobs/+', 1);
    const publisher = await startClient({ tcpPort: a.tcpPort, udpPort: false });
    const COUNT = 40;
    const blob = (n: number) => Buffer.alloc(30 * 1024, n);
    for (let n = 0; n < COUNT; n++) await publisher.publish(`blobs/${n}`, blob(n), { qos: 1 });
    await waitUntil(() => a.server.stats().pubsub.queuedOffline === COUNT, 5000, 'the blobs queued on node a');
    expect(COUNT * blob(0).length).toBeGreaterThan(1 << 20);
    const back = await startClient({ tcpPort: b.tcpPort, udpPort: false, clientId: 'big', cleanSession: false });
    const messages = collect(back);
    await waitUntil(() => messages.length === COUNT, 10_000, () => `the ${COUNT} blobs on node b, got ${messages.length}`);
    expect(messages.map((message) => message.topic)).toEqual(Array.from({ length: COUNT }, (_, n) => `blobs/${n}`));
    messages.forEach((message, n) => expect(Buffer.compare(message.payload as Buffer, blob(n))).toBe(0));
    expect(a.server.broker.sessions.has('big')).toBe(false);
  });

  it('a session still connected on node a is taken over from node b: a closes its connection with HW_ERR_SESSION_TAKEN_OVER and hands the session over', async () => {
    const { nodes } = await startNodes(2);
    const [a, b] = nodes as [Node, Node];
    const older = await startClient({ tcpPort: a.tcpPort, udpPort: false, clientId: 'held', cleanSession: false });
    await older.subscribe('alerts/+', { qos: 1 });
    await settled(nodes);
    const olderClosed = nextEvent<[Error | undefined]>(older, 'disconnect');
    const answers = connectAnswers();
    const newer = await startClient({ tcpPort: b.tcpPort, udpPort: false, clientId: 'held', cleanSession: false });
    const messages = collect(newer);
    const [error] = await within(olderClosed, 5000, 'the older connection closed');
    expect(error).toMatchObject({ code: 'HW_ERR_SESSION_TAKEN_OVER' });
    expect(await within(answers[0]!, ANSWER_MS, 'the CONNECT answer')).toEqual({ sessionPresent: true });
    expect(a.server.broker.sessions.has('held')).toBe(false);
    // The subscription came along: a publish on a reaches the client on b, which never subscribed itself.
    await settled(nodes);
    await (await startClient({ tcpPort: a.tcpPort, udpPort: false })).publish('alerts/fire', 'run', { qos: 1 });
    await waitUntil(() => messages.length === 1, 5000, 'the alert on node b');
    expect(messages[0]).toMatchObject({ topic: 'alerts/fire', payload: 'run', qos: 1 });
  });

  it('a session moves on and back (a to b to a), its queue following it each time', async () => {
    const { nodes } = await startNodes(2);
    const [a, b] = nodes as [Node, Node];
    await leaveSession(a, 'bouncer', 'ball/#', 2);
    const onA = await startClient({ tcpPort: a.tcpPort, udpPort: false });
    await onA.publish('ball/1', 1, { qos: 2 });
    await waitUntil(() => a.server.stats().pubsub.queuedOffline === 1, 5000, 'the first message queued on node a');
    const onB = await startClient({ tcpPort: b.tcpPort, udpPort: false, clientId: 'bouncer', cleanSession: false });
    const first = collect(onB);
    await waitUntil(() => first.length === 1, 5000, 'the first message on node b');
    await onB.close();
    await waitUntil(() => b.server.peerByClientId('bouncer') === undefined, 5000, 'the session away on node b');
    await settled(nodes);
    await onA.publish('ball/2', 2, { qos: 2 });
    await waitUntil(() => b.server.stats().pubsub.queuedOffline === 1, 5000, 'the second message queued on node b');
    const again = await startClient({ tcpPort: a.tcpPort, udpPort: false, clientId: 'bouncer', cleanSession: false });
    const second = collect(again);
    await waitUntil(() => second.length === 1, 5000, 'the second message back on node a');
    expect([...first, ...second].map((message) => message.payload)).toEqual([1, 2]);
    expect(b.server.broker.sessions.has('bouncer')).toBe(false);
    expect(a.server.stats().cluster).toMatchObject({ sessionsIn: 1, sessionsOut: 1 });
    expect(b.server.stats().cluster).toMatchObject({ sessionsIn: 1, sessionsOut: 1 });
  });

  it('a clean connect with a clientId whose persistent session another node holds discards that session', async () => {
    const { nodes } = await startNodes(2);
    const [a, b] = nodes as [Node, Node];
    await leaveSession(a, 'fresh', 'x/#', 1);
    await (await startClient({ tcpPort: a.tcpPort, udpPort: false })).publish('x/1', 'old', { qos: 1 });
    await waitUntil(() => a.server.stats().pubsub.queuedOffline === 1, 5000, 'the message queued on node a');
    const answers = connectAnswers();
    const clean = await startClient({ tcpPort: b.tcpPort, udpPort: false, clientId: 'fresh' });
    const messages = collect(clean);
    expect(await answers[0]).toEqual({ sessionPresent: false });
    await waitUntil(() => !a.server.broker.sessions.has('fresh'), 5000, 'the old session gone from node a');
    // A persistent connect now finds nothing to resume.
    await clean.close();
    const again = connectAnswers();
    await startClient({ tcpPort: b.tcpPort, udpPort: false, clientId: 'fresh', cleanSession: false });
    expect(await again[0]).toEqual({ sessionPresent: false });
    expect(messages).toEqual([]);
  });

  it('a clientId no node holds starts a new session at once (sessionPresent false)', async () => {
    const { nodes } = await startNodes(2);
    const answers = connectAnswers();
    await within(startClient({ tcpPort: nodes[1]!.tcpPort, udpPort: false, clientId: 'newcomer', cleanSession: false }), 5000, 'the connect');
    expect(await answers[0]).toEqual({ sessionPresent: false });
    expect(nodes[1]!.server.stats().cluster).toMatchObject({ sessionsIn: 0 });
  });

  it('the holding node is cut off from NATS between the two steps: the session resumes on node b with what the first step brought', async () => {
    const { nodes } = await startNodes(2, { sessionTransferTimeoutMs: 2000 });
    const [a, b] = nodes as [Node, Node];
    await leaveSession(a, 'cut', 'cut/+', 1);
    const publisher = await startClient({ tcpPort: a.tcpPort, udpPort: false });
    for (let n = 0; n < 3; n++) await publisher.publish(`cut/${n}`, n, { qos: 1 });
    await waitUntil(() => a.server.stats().pubsub.queuedOffline === 3, 5000, 'three messages queued on node a');
    // Node a answers the take, then loses NATS: the release finds nobody.
    const prototype = SessionHandoff.prototype as unknown as { answer(...args: unknown[]): { headers: Record<string, string> } };
    const realAnswer = prototype.answer;
    vi.spyOn(prototype, 'answer').mockImplementation(function (this: unknown, ...args: unknown[]) {
      const answer = realAnswer.apply(this, args);
      if ((args[1] as { headers: Record<string, string> }).headers['hw-step'] === 'take') setImmediate(() => void a.server.cluster!.engine.close());
      return answer;
    });
    const answers = connectAnswers();
    const back = await within(startClient({ tcpPort: b.tcpPort, udpPort: false, clientId: 'cut', cleanSession: false }), 5000, 'the connect within its bound');
    const messages = collect(back);
    expect(await answers[0]).toEqual({ sessionPresent: true });
    await waitUntil(() => messages.length === 3, 5000, 'the three queued messages');
    expect(messages.map((message) => message.payload)).toEqual([0, 1, 2]);
    expect(b.server.broker.sessions.get('cut')?.state.subscriptions.has('cut/+')).toBe(true);
    // The release never reached node a: it keeps a detached copy (until it expires).
    expect(a.server.broker.sessions.has('cut')).toBe(true);
    expect(a.server.stats().cluster!.sessionsOut).toBe(0);
  });

  it('the release gets no answer in time: the holder\'s copy is discarded, so the client back on that node is not handed again what it had on the other', async () => {
    const { nodes } = await startNodes(2, { sessionTransferTimeoutMs: 1000 });
    const [a, b] = nodes as [Node, Node];
    await leaveSession(a, 'late', 'late/+', 2);
    const publisher = await startClient({ tcpPort: a.tcpPort, udpPort: false });
    for (let n = 0; n < 3; n++) await publisher.publish(`late/${n}`, n, { qos: 2 });
    await waitUntil(() => a.server.stats().pubsub.queuedOffline === 3, 5000, 'three messages queued on node a');
    // Node a answers the take; its answer to the release never comes (lost, or past the deadline).
    const prototype = SessionHandoff.prototype as unknown as { answer(...args: unknown[]): unknown };
    const realAnswer = prototype.answer;
    vi.spyOn(prototype, 'answer').mockImplementation(function (this: unknown, ...args: unknown[]) {
      if ((args[1] as { headers: Record<string, string> }).headers['hw-step'] === 'release') throw new Error('the release answer is lost');
      return realAnswer.apply(this, args);
    });
    const onB = await within(startClient({ tcpPort: b.tcpPort, udpPort: false, clientId: 'late', cleanSession: false }), 5000, 'the connect within its bound');
    const first = collect(onB);
    await waitUntil(() => first.length === 3, 5000, 'the three messages on node b');
    await waitUntil(() => b.server.stats().pubsub.inflight === 0, 5000, 'every delivery completed on node b');
    vi.restoreAllMocks();
    await onB.close();
    await waitUntil(() => b.server.peerByClientId('late') === undefined, 5000, 'the session away on node b');
    await waitUntil(() => !a.server.broker.sessions.has('late'), 5000, 'the copy left on node a discarded');
    await settled(nodes);
    // Back on node a: what it had on b does not come again; what is published now does.
    const onA = await startClient({ tcpPort: a.tcpPort, udpPort: false, clientId: 'late', cleanSession: false });
    const second = collect(onA);
    await settled(nodes);
    await publisher.publish('late/new', 'new', { qos: 2 });
    await waitUntil(() => second.some((message) => message.topic === 'late/new'), 5000, 'the new message on node a');
    await waitUntil(() => a.server.stats().pubsub.inflight === 0, 5000, 'every delivery completed on node a');
    await onA.ping();
    expect(first.map((message) => message.payload)).toEqual([0, 1, 2]);
    expect(second.map((message) => message.topic)).toEqual(['late/new']);
  });

  describe('a holder that does not answer', () => {
    let raw: NatsConnection | undefined;
    afterEach(async () => {
      await raw?.close();
      raw = undefined;
    });

    it('no answer within cluster.sessionTransferTimeoutMs: the connect goes on with a new session', async () => {
      const { nodes, prefix } = await startNodes(1, { sessionTransferTimeoutMs: 300 });
      raw = await natsConnect({ servers: nats.url });
      // Holds the session's subject and never answers, as a node that hangs would.
      const asked: string[] = [];
      raw.subscribe(`${prefix}.session.${nameToken('stuck')}`, { callback: (_error, message) => asked.push(message.headers?.get('hw-step') ?? '') });
      await raw.flush();
      const answers = connectAnswers();
      await within(startClient({ tcpPort: nodes[0]!.tcpPort, udpPort: false, clientId: 'stuck', cleanSession: false }), 5000, 'the connect within its bound');
      expect(await answers[0]).toEqual({ sessionPresent: false });
      // The take may have reached a holder late: it is told to discard its copy.
      await waitUntil(() => asked.length === 2, 5000, 'the discard');
      expect(asked).toEqual(['take', 'discard']);
      expect(nodes[0]!.server.broker.sessions.get('stuck')?.state.subscriptions.size).toBe(0);
    });

    it('the holder answers the first step and not the second: the session resumes with the first answer', async () => {
      const { nodes, prefix } = await startNodes(1, { sessionTransferTimeoutMs: 1000 });
      raw = await natsConnect({ servers: nats.url });
      const state = encodeSession({
        sessionExpiryMs: 60_000,
        subscriptions: new Map([['news/#', { qos: 1, noLocal: false, transport: 'tcp', reliable: false }]]),
        // In flight: 5 (QoS 1, sent again) and 6 (QoS 2 the client has PUBREC'd: only PUBREL goes again).
        inflight: new Map([
          [5, { delivery: { id: 5, qos: 1 as const, record: newsRecord(1, 5), expiresAt: undefined }, released: false, sentAt: 0 }],
          [6, { delivery: { id: 6, qos: 2 as const, record: newsRecord(2, 6), expiresAt: undefined }, released: true, sentAt: 0 }],
        ]),
        queue: [7, 8].map((id) => ({ id, qos: 1 as const, record: newsRecord(1, id), expiresAt: undefined })),
        receivedQos2: new Set([99]),
      });
      const asked: string[] = [];
      raw.subscribe(`${prefix}.session.${nameToken('half')}`, {
        callback: (_error, message) => {
          const step = message.headers?.get('hw-step') ?? '';
          asked.push(step);
          if (step !== 'take') return; // the release is lost
          const answer = natsHeaders();
          answer.set('hw-total', String(state.length));
          message.respond(state, { headers: answer });
        },
      });
      await raw.flush();
      const answers = connectAnswers();
      const client = await within(startClient({ tcpPort: nodes[0]!.tcpPort, udpPort: false, clientId: 'half', cleanSession: false }), 5000, 'the connect within its bound');
      const messages = collect(client);
      expect(await answers[0]).toEqual({ sessionPresent: true });
      // The release may have reached the holder late: it is told to discard its copy.
      await waitUntil(() => asked.length === 3, 5000, 'the discard');
      expect(asked).toEqual(['take', 'release', 'discard']);
      await waitUntil(() => messages.length === 3, 5000, 'the unacknowledged and the two queued messages of the first answer');
      expect(messages.map((message) => [message.topic, message.payload])).toEqual([
        ['news/5', 5],
        ['news/7', 7],
        ['news/8', 8],
      ]);
      const session = nodes[0]!.server.broker.sessions.get('half')!;
      // The released QoS 2 delivery completes with PUBREL/PUBCOMP; the client's QoS 2 publish 99 still awaits its PUBREL.
      await waitUntil(() => session.state.inflight.size === 0, 5000, 'every delivery completed');
      expect([...session.state.receivedQos2]).toEqual([99]);
      // The subscription came with it.
      await nodes[0]!.server.publish('news/live', 'now', { qos: 1 });
      await waitUntil(() => messages.length === 3, 5000, 'a live message');
    });

    it('a message that reaches only the asking node between the two steps is kept when the queue is at maxOfflineMessages (the oldest goes, as on one node)', async () => {
      const subjectPrefix = `h${++clusters}`;
      const node = await startServer({ udpPort: false, maxOfflineMessages: 3, cluster: { nats: nats.url, name: 'node-0', heartbeatMs: 200, subjectPrefix, sessionTransferTimeoutMs: 2000 } });
      raw = await natsConnect({ servers: nats.url });
      // A full queue (3 of maxOfflineMessages 3), the same at both steps: the holder got nothing meanwhile.
      const state = encodeSession({
        sessionExpiryMs: 60_000,
        subscriptions: new Map([['news/#', { qos: 1, noLocal: false, transport: 'tcp', reliable: false }]]),
        inflight: new Map(),
        queue: [7, 8, 9].map((id) => ({ id, qos: 1 as const, record: newsRecord(1, id), expiresAt: undefined, messageId: `m-${id}` })),
        receivedQos2: new Set(),
      });
      raw.subscribe(`${subjectPrefix}.session.${nameToken('full')}`, {
        callback: (_error, message) => {
          const answer = natsHeaders();
          answer.set('hw-total', String(state.length));
          if (message.headers?.get('hw-step') === 'take') return message.respond(state, { headers: answer });
          // Published on the asking node between the steps, and answered only once it is queued there.
          void node.server.publish('news/late', 'late', { qos: 1 }).then(() => message.respond(state, { headers: answer }));
        },
      });
      await raw.flush();
      const client = await within(startClient({ tcpPort: node.tcpPort, udpPort: false, clientId: 'full', cleanSession: false }), 5000, 'the connect within its bound');
      const messages = collect(client);
      await waitUntil(() => messages.length === 3, 5000, () => `three messages, got ${messages.length}`);
      await waitUntil(() => node.server.stats().pubsub.inflight === 0, 5000, 'every delivery acknowledged');
      await client.ping();
      expect(messages.map((message) => message.topic)).toEqual(['news/8', 'news/9', 'news/late']);
    });

    it('a second connection with the clientId while its session is being brought waits for that transfer: each message once, and the session goes on', async () => {
      const { nodes, prefix } = await startNodes(1, { sessionTransferTimeoutMs: 3000 });
      const node = nodes[0]!;
      raw = await natsConnect({ servers: nats.url });
      const state = encodeSession({
        sessionExpiryMs: 60_000,
        subscriptions: new Map([['news/#', { qos: 2, noLocal: false, transport: 'tcp', reliable: false }]]),
        inflight: new Map(),
        queue: [7, 8].map((id) => ({ id, qos: 2 as const, record: newsRecord(2, id), expiresAt: undefined, messageId: `m-${id}` })),
        receivedQos2: new Set(),
      });
      const answers = connectAnswers();
      let second: Promise<Client> | undefined;
      raw.subscribe(`${prefix}.session.${nameToken('twice')}`, {
        callback: (_error, message) => {
          const answer = natsHeaders();
          answer.set('hw-total', String(state.length));
          if (message.headers?.get('hw-step') === 'take') return message.respond(state, { headers: answer });
          // Between the steps the client connects again (say its connect timed out): the older connection is taken over.
          second = startClient({ tcpPort: node.tcpPort, udpPort: false, clientId: 'twice', cleanSession: false });
          void waitUntil(() => answers.length === 2, 5000, 'the second CONNECT').then(() => message.respond(state, { headers: answer }));
        },
      });
      await raw.flush();
      const first = startClient({ tcpPort: node.tcpPort, udpPort: false, clientId: 'twice', cleanSession: false }).catch((error: unknown) => error);
      await waitUntil(() => second !== undefined, 5000, 'the release asked');
      const client = await within(second!, 5000, 'the second connect');
      const messages = collect(client);
      expect(await answers[1]).toEqual({ sessionPresent: true });
      // The older connection was closed (taken over) before its CONNECT was answered.
      expect(await first).toMatchObject({ code: 'HW_ERR_CONNECTION_CLOSED' });
      await waitUntil(() => messages.length === 2, 5000, () => `the two queued messages, got ${messages.length}`);
      await node.server.publish('news/live', 'live', { qos: 2 });
      await waitUntil(() => messages.length === 3, 5000, () => `a live message after them, got ${messages.map((message) => message.topic).join(' ')}`);
      await waitUntil(() => node.server.stats().pubsub.inflight === 0 && node.server.stats().pubsub.queuedOffline === 0, 5000, 'every delivery completed, none queued');
      await client.ping();
      expect(messages.map((message) => message.topic)).toEqual(['news/7', 'news/8', 'news/live']);
    });

    it('the release answer is the state that counts: what the client completed, released or subscribed on the holder between the steps is not undone', async () => {
      const { nodes, prefix } = await startNodes(1, { sessionTransferTimeoutMs: 2000 });
      raw = await natsConnect({ servers: nats.url });
      const subscription = { qos: 2 as const, noLocal: false, transport: 'tcp' as const, reliable: false };
      // At the take: 5 in flight (QoS 2, not yet PUBREC'd), the client's QoS 2 publish 99 awaiting PUBREL, one filter.
      const taken = encodeSession({
        sessionExpiryMs: 60_000,
        subscriptions: new Map([['news/#', subscription]]),
        inflight: new Map([[5, { delivery: { id: 5, qos: 2 as const, record: newsRecord(2, 5), expiresAt: undefined }, released: false, sentAt: 0 }]]),
        queue: [],
        receivedQos2: new Set([99]),
      });
      // At the release (the client came back to the holder meanwhile): 5 completed, 99 released, a second filter.
      const released = encodeSession({ sessionExpiryMs: 60_000, subscriptions: new Map([['news/#', subscription], ['sport/#', subscription]]), inflight: new Map(), queue: [], receivedQos2: new Set() });
      raw.subscribe(`${prefix}.session.${nameToken('hopper')}`, {
        callback: (_error, message) => {
          const state = message.headers?.get('hw-step') === 'take' ? taken : released;
          const answer = natsHeaders();
          answer.set('hw-total', String(state.length));
          message.respond(state, { headers: answer });
        },
      });
      await raw.flush();
      const node = nodes[0]!;
      const client = await within(startClient({ tcpPort: node.tcpPort, udpPort: false, clientId: 'hopper', cleanSession: false }), 5000, 'the connect within its bound');
      const messages = collect(client);
      const session = node.server.broker.sessions.get('hopper')!;
      expect([...session.state.receivedQos2]).toEqual([]);
      expect([...session.state.subscriptions.keys()].sort()).toEqual(['news/#', 'sport/#']);
      await settled(nodes);
      await node.server.publish('sport/live', 'goal', { qos: 2 });
      await waitUntil(() => messages.length > 0, 5000, 'the live message');
      await waitUntil(() => session.state.inflight.size === 0, 5000, 'every delivery completed');
      await client.ping();
      expect(messages.map((message) => message.topic)).toEqual(['sport/live']);
    });

    it('a release the holder refuses (another node took the session meanwhile): the session resumes with the first answer and nothing is discarded', async () => {
      const { nodes, prefix } = await startNodes(1, { sessionTransferTimeoutMs: 1000 });
      raw = await natsConnect({ servers: nats.url });
      const state = encodeSession({ sessionExpiryMs: 60_000, subscriptions: new Map([['news/#', { qos: 1, noLocal: false, transport: 'tcp', reliable: false }]]), inflight: new Map(), queue: [], receivedQos2: new Set() });
      const asked: string[] = [];
      raw.subscribe(`${prefix}.session.${nameToken('refused')}`, {
        callback: (_error, message) => {
          const step = message.headers?.get('hw-step') ?? '';
          asked.push(step);
          const answer = natsHeaders();
          if (step === 'take') {
            answer.set('hw-total', String(state.length));
            return message.respond(state, { headers: answer });
          }
          answer.set('hw-error', 'HW_ERR_SESSION_TAKEN_OVER');
          message.respond(Buffer.from('another node took it'), { headers: answer });
        },
      });
      await raw.flush();
      const answers = connectAnswers();
      await within(startClient({ tcpPort: nodes[0]!.tcpPort, udpPort: false, clientId: 'refused', cleanSession: false }), 5000, 'the connect within its bound');
      expect(await answers[0]).toEqual({ sessionPresent: true });
      // Whatever the node sent has reached NATS, and NATS has handed raw all of it.
      await nodes[0]!.server.cluster!.flush();
      await raw.flush();
      expect(asked).toEqual(['take', 'release']);
    });

    it('a holder answering in chunks smaller than 256 KiB is refused at its first short chunk (the chunk count is bounded by the total): a new session', async () => {
      const { nodes, prefix } = await startNodes(1, { sessionTransferTimeoutMs: 1000 });
      raw = await natsConnect({ servers: nats.url });
      // Announces 1 MiB and hands it out one byte per answer, as a buggy or hostile node could.
      const offsets: string[] = [];
      raw.subscribe(`${prefix}.session.${nameToken('drip')}`, {
        callback: (_error, message) => {
          offsets.push(`${message.headers?.get('hw-step') ?? ''} ${message.headers?.get('hw-offset') ?? ''}`);
          const answer = natsHeaders();
          answer.set('hw-total', String(1 << 20));
          message.respond(Buffer.of(1), { headers: answer });
        },
      });
      await raw.flush();
      const answers = connectAnswers();
      await within(startClient({ tcpPort: nodes[0]!.tcpPort, udpPort: false, clientId: 'drip', cleanSession: false }), 5000, 'the connect within its bound');
      expect(await answers[0]).toEqual({ sessionPresent: false });
      // One take, then the discard of a copy the holder may keep.
      await waitUntil(() => offsets.length === 2, 5000, 'the discard');
      expect(offsets).toEqual(['take 0', 'discard 0']);
    });

    it('a first answer with a delivery that is not a record of its id: refused as unreadable, the connect goes on with a new session', async () => {
      const { nodes, prefix } = await startNodes(1, { sessionTransferTimeoutMs: 1000 });
      raw = await natsConnect({ servers: nats.url });
      const state = encodeSession({
        sessionExpiryMs: 60_000,
        subscriptions: new Map([['news/#', { qos: 1, noLocal: false, transport: 'tcp', reliable: false }]]),
        inflight: new Map(),
        queue: [{ id: 7, qos: 1 as const, record: Buffer.of(1, 7), expiresAt: undefined }],
        receivedQos2: new Set(),
      });
      raw.subscribe(`${prefix}.session.${nameToken('broken')}`, {
        callback: (_error, message) => {
          const answer = natsHeaders();
          answer.set('hw-total', String(state.length));
          message.respond(state, { headers: answer });
        },
      });
      await raw.flush();
      const answers = connectAnswers();
      await within(startClient({ tcpPort: nodes[0]!.tcpPort, udpPort: false, clientId: 'broken', cleanSession: false }), 5000, 'the connect within its bound');
      expect(await answers[0]).toEqual({ sessionPresent: false });
      expect(nodes[0]!.server.broker.sessions.get('broken')?.state.subscriptions.size).toBe(0);
      expect(nodes[0]!.server.stats().cluster).toMatchObject({ sessionsIn: 0 });
    });
  });
});
