/**
 * ts/pubsub/broker.ts without sockets: one encoded record per QoS shared by every session, the
 * interest seam, deliverLocal and the relay, shared groups, noLocal, the persistent-session bound,
 * and the seams of sessions moving between nodes (message ids, onPersistentSession, adopt, requeue).
 */
import { describe, expect, it } from 'vitest';
import { Broker, routedOf, toPubsubMessage, type BrokerLimits } from '../../ts/pubsub/broker.js';
import { MemoryRetainedStore, MemorySessionStore, newSessionState, type SubscriptionOptions } from '../../ts/pubsub/stores.js';
import { PUBSUB_RANGES } from '../../ts/api/option-ranges.js';
import { PubsubType, decodeRecord, type PubsubMessage } from '../../ts/pubsub/wire.js';
import { fakePeer } from '../support/fake-pubsub-peer.js';

const LIMITS = Object.fromEntries(Object.entries(PUBSUB_RANGES).map(([name, range]) => [name, range.default])) as unknown as BrokerLimits;
const QOS = (qos: 0 | 1 | 2, extra: Partial<SubscriptionOptions> = {}): SubscriptionOptions => ({ qos, noLocal: false, transport: 'tcp', reliable: false, ...extra });

function newBroker(limits: Partial<BrokerLimits> = {}): Broker {
  return new Broker({ ...LIMITS, ...limits }, new MemorySessionStore(), new MemoryRetainedStore());
}

function connected(broker: Broker, identity: string) {
  const { session } = broker.openSession(identity, false, 0);
  const { peer, sent } = fakePeer();
  session.peer = peer;
  return { session, sent };
}

const message = (topic: string, qos: 0 | 1 | 2, payload: PubsubMessage['payload'] = 'x'): PubsubMessage => ({ topic, payload, qos, retain: false });

describe('Broker', () => {
  it('encodes one record per QoS delivered and hands the same bytes to every session', () => {
    const broker = newBroker();
    const subscribers = Array.from({ length: 6 }, (_, i) => connected(broker, `s${i}`));
    subscribers.forEach(({ session }, i) => broker.subscribe(session, 'fan/out', QOS(i % 2 === 0 ? 0 : 1)));
    expect(broker.route(routedOf(message('fan/out', 1), false))).toBe(6);
    const bodies = subscribers.map(({ sent }) => sent[0]!.body);
    expect(new Set(bodies).size).toBe(2);
    expect(bodies[0]).toBe(bodies[2]);
    expect(bodies[1]).toBe(bodies[3]);
    expect(decodeRecord(bodies[0]!).qos).toBe(0);
    expect(decodeRecord(bodies[1]!).qos).toBe(1);
    expect(subscribers[0]!.sent[0]!.type).toBe(PubsubType.MESSAGE);
  });

  it('delivers once per session, at the highest QoS of its matching subscriptions, capped by the publish', () => {
    const broker = newBroker();
    const { session, sent } = connected(broker, 'a');
    broker.subscribe(session, 'x/+', QOS(0));
    broker.subscribe(session, 'x/#', QOS(2));
    broker.route(routedOf(message('x/y', 1), false));
    expect(sent).toHaveLength(1);
    expect(decodeRecord(sent[0]!.body).qos).toBe(1);
  });

  it('sees a new subscription at once (the topic cache is dropped on change)', () => {
    const broker = newBroker();
    const first = connected(broker, 'a');
    broker.subscribe(first.session, 't', QOS(0));
    broker.route(routedOf(message('t', 0), false));
    const second = connected(broker, 'b');
    broker.subscribe(second.session, 't', QOS(0));
    broker.route(routedOf(message('t', 0), false));
    broker.unsubscribe(first.session, 't');
    broker.route(routedOf(message('t', 0), false));
    expect([first.sent.length, second.sent.length]).toEqual([2, 2]);
  });

  it('onInterest: a filter gains its first subscription and loses its last, shared groups included', () => {
    const broker = newBroker();
    const events: Array<[string, boolean]> = [];
    const stop = broker.onInterest((filter, present) => events.push([filter, present]));
    const a = connected(broker, 'a');
    const b = connected(broker, 'b');
    broker.subscribe(a.session, 'x/*', QOS(0));
    broker.subscribe(b.session, 'x/+', QOS(0));
    broker.subscribe(a.session, '$share/g/jobs', QOS(0));
    broker.subscribe(b.session, '$share/g/jobs', QOS(0));
    expect(broker.filters().sort()).toEqual(['jobs', 'x/+']);
    broker.unsubscribe(a.session, 'x/+');
    broker.unsubscribe(b.session, 'x/*');
    broker.endSession(a.session);
    broker.endSession(b.session);
    expect(events).toEqual([
      ['x/+', true],
      ['jobs', true],
      ['x/+', false],
      ['jobs', false],
    ]);
    stop();
    broker.subscribe(connected(broker, 'c').session, 'y', QOS(0));
    expect(events).toHaveLength(4);
  });

  it('publish retains and relays; deliverLocal does neither', async () => {
    const broker = newBroker();
    const relayed: PubsubMessage[] = [];
    broker.relay = async (m) => void relayed.push(m);
    const { session, sent } = connected(broker, 'a');
    broker.subscribe(session, 'r', QOS(1));
    await broker.publish(routedOf({ topic: 'r', payload: Buffer.from('kept'), qos: 1, retain: true }, true));
    expect(broker.retained.size).toBe(1);
    expect(relayed).toEqual([{ topic: 'r', payload: Buffer.from('kept'), qos: 1, retain: true }]);
    expect(broker.deliverLocal({ topic: 'r', payload: 'from another node', qos: 1, retain: true })).toBe(1);
    expect(broker.retained.get('r')!.body).toEqual(Buffer.from('kept'));
    expect(relayed).toHaveLength(1);
    expect(sent).toHaveLength(2);
    // A QoS >= 1 message the cluster could not store fails its publish and is delivered nowhere
    // (its publisher may send it again); a QoS 0 one is delivered here all the same.
    broker.relay = () => Promise.reject(new Error('cluster down'));
    await expect(broker.publish(routedOf(message('r', 1), false))).rejects.toThrow('cluster down');
    expect(broker.stats().dropped.relayFailed).toBe(1);
    expect(sent).toHaveLength(2);
    await broker.publish(routedOf(message('r', 0), false));
    expect(broker.stats().dropped.relayFailed).toBe(2);
    expect(sent).toHaveLength(3);
  });

  it('noLocal keeps a session from its own publishes only', () => {
    const broker = newBroker();
    const a = connected(broker, 'a');
    const b = connected(broker, 'b');
    broker.subscribe(a.session, 'chat', QOS(0, { noLocal: true }));
    broker.subscribe(b.session, 'chat', QOS(0, { noLocal: true }));
    broker.route(routedOf(message('chat', 0), false), a.session);
    expect([a.sent.length, b.sent.length]).toEqual([0, 1]);
  });

  it('a shared group prefers connected members, in turn', () => {
    const broker = newBroker();
    const members = ['a', 'b', 'c'].map((id) => connected(broker, id));
    for (const { session } of members) broker.subscribe(session, '$share/g/t', QOS(0));
    members[1]!.session.peer = undefined;
    for (let i = 0; i < 4; i++) broker.route(routedOf(message('t', 0), false));
    expect(members.map((m) => m.sent.length)).toEqual([2, 0, 2]);
  });

  it('refuses persistent sessions past maxPersistentSessions; an expired message is dropped', () => {
    const broker = newBroker({ maxPersistentSessions: 1 });
    broker.openSession('p1', true, 1000);
    expect(() => broker.openSession('p2', true, 1000)).toThrow(expect.objectContaining({ code: 'HW_ERR_SERVER_FULL' }));
    expect(broker.openSession('p1', true, 1000).present).toBe(true);
    const routed = routedOf(message('t', 1), false);
    routed.expiresAt = Date.now() - 1;
    expect(broker.route(routed)).toBe(0);
    expect(broker.stats().dropped.expired).toBe(1);
    broker.close();
  });

  it('turns a routed message back into the application form', () => {
    expect(toPubsubMessage(routedOf({ topic: 't', payload: { a: 1 }, qos: 2, retain: false }, false))).toEqual({ topic: 't', payload: { a: 1 }, qos: 2, retain: false });
  });

  it('restores the sessions a store kept: subscriptions, delivery ids after the largest kept, expiry of those away', () => {
    const store = new MemorySessionStore();
    const kept = newSessionState('kept', true, 60_000);
    kept.subscriptions.set('k/+', QOS(1));
    kept.inflight.set(50, { delivery: { id: 50, qos: 1, record: Buffer.alloc(7), expiresAt: undefined }, released: false, sentAt: 0 });
    const stale = newSessionState('stale', true, 60_000);
    stale.expiresAt = Date.now() - 1;
    stale.subscriptions.set('s', QOS(0));
    store.set(kept);
    store.set(stale);
    const broker = new Broker(LIMITS, store, new MemoryRetainedStore());
    broker.restore();
    expect(broker.filters()).toEqual(['k/+']);
    expect(store.get('stale')).toBeUndefined();
    expect(kept.expiresAt).toBeGreaterThan(Date.now());
    const { peer, sent } = fakePeer();
    const session = broker.openSession('kept', true, 60_000).session;
    session.peer = peer;
    broker.route(routedOf(message('k/1', 1), false));
    expect(decodeRecord(sent[0]!.body).id).toBe(51);
    broker.close();
  });
  it('keeps the id between nodes on queued deliveries: from the relay of a local publish and from deliverLocal', async () => {
    const broker = newBroker();
    const { session } = broker.openSession('away', true, 60_000);
    broker.subscribe(session, 'ids/+', QOS(1));
    broker.away(session, Date.now());
    broker.relay = async () => 'id-local';
    await broker.publish(routedOf(message('ids/1', 1), false));
    broker.deliverLocal(message('ids/2', 1), 'node-x', 'id-remote');
    expect(session.state.queue.map((delivery) => delivery.messageId)).toEqual(['id-local', 'id-remote']);
    broker.close();
  });

  it('tells onPersistentSession listeners when a persistent session starts, is adopted and ends; adopt() subscribes it and continues ids after its own', () => {
    const broker = newBroker();
    const events: Array<[string, boolean]> = [];
    const stop = broker.onPersistentSession((identity, present) => events.push([identity, present]));
    broker.openSession('clean', false, 0);
    const { session } = broker.openSession('kept', true, 60_000);
    broker.endSession(session);
    const state = newSessionState('moved', true, 60_000);
    state.subscriptions.set('m/#', QOS(1));
    state.inflight.set(900, { delivery: { id: 900, qos: 1, record: Buffer.alloc(0), expiresAt: undefined }, released: false, sentAt: 0 });
    broker.store.set(state);
    const adopted = broker.adopt(state);
    expect(events).toEqual([
      ['kept', true],
      ['kept', false],
      ['moved', true],
    ]);
    expect(adopted.peer).toBeUndefined();
    expect(adopted.state.expiresAt).toBeGreaterThan(Date.now());
    expect(broker.route(routedOf(message('m/1', 1), false))).toBe(1);
    expect(adopted.state.queue[0]!.id).toBe(901);
    stop();
    broker.endSession(adopted);
    expect(events).toHaveLength(3);
    broker.close();
  });

  it('reserveDeliveryId(): ids go on after a reserved one, and a smaller one changes nothing', () => {
    const broker = newBroker();
    const first = broker.newDeliveryId();
    broker.reserveDeliveryId(5000);
    expect(broker.newDeliveryId()).toBe(5001);
    broker.reserveDeliveryId(first);
    expect(broker.newDeliveryId()).toBe(5002);
    broker.close();
  });
});
