/**
 * ts/pubsub/broker-session.ts: QoS >= 1 deliveries held in flight until acknowledged, queued past
 * maxInflight or while away (oldest dropped past the bounds), resumed in order with dup set, the
 * QoS 2 release, resends after retryIntervalMs, and UDP deliveries only on a validated path.
 */
import { describe, expect, it } from 'vitest';
import { BrokerSession } from '../../ts/pubsub/broker-session.js';
import { MemorySessionStore, newSessionState } from '../../ts/pubsub/stores.js';
import { newPubsubCounters } from '../../ts/pubsub/pubsub-stats.js';
import { PubsubType, decodeAck, decodeRecord, encodeRecord, type QoS } from '../../ts/pubsub/wire.js';
import { fakePeer } from '../support/fake-pubsub-peer.js';

function newSession(limits: Partial<{ maxOfflineMessages: number; maxOfflineBytes: number; maxInflight: number }> = {}) {
  const counters = newPubsubCounters();
  const session = new BrokerSession(newSessionState('s', true, 1000), new MemorySessionStore(), { maxOfflineMessages: 100, maxOfflineBytes: 1 << 20, maxInflight: 100, ...limits }, counters);
  return { session, counters };
}

const record = (qos: QoS, id: number, text = 'p') => encodeRecord(qos, false, false, id, 't', 0, Buffer.from(text));

describe('BrokerSession', () => {
  it('holds QoS 1 deliveries until PUBACK and queues past maxInflight', () => {
    const { session } = newSession({ maxInflight: 2 });
    const { peer, sent } = fakePeer();
    session.peer = peer;
    for (let id = 1; id <= 3; id++) session.deliver(1, record(1, id), id, undefined, false, false, 0);
    expect(sent.map((s) => decodeRecord(s.body).id)).toEqual([1, 2]);
    expect(session.state.queue.map((d) => d.id)).toEqual([3]);
    session.completed(1, 1, 0);
    expect(sent.map((s) => decodeRecord(s.body).id)).toEqual([1, 2, 3]);
    expect([...session.state.inflight.keys()]).toEqual([2, 3]);
  });

  it('while away queues QoS >= 1 within maxOfflineMessages and maxOfflineBytes, oldest dropped; QoS 0 is not kept', () => {
    const { session, counters } = newSession({ maxOfflineMessages: 2 });
    for (let id = 1; id <= 4; id++) session.deliver(1, record(1, id), id, undefined, false, false, 0);
    session.deliver(0, record(0, 0), 0, undefined, false, false, 0);
    expect(session.state.queue.map((d) => d.id)).toEqual([3, 4]);
    expect(counters.dropped.queueFull).toBe(2);
    const bytes = newSession({ maxOfflineBytes: 2 * record(1, 1).length });
    for (let id = 1; id <= 3; id++) bytes.session.deliver(1, record(1, id), id, undefined, false, false, 0);
    expect(bytes.session.state.queue.map((d) => d.id)).toEqual([2, 3]);
    expect(bytes.session.state.queuedBytes).toBe(2 * record(1, 1).length);
  });

  it('on resume sends what is in flight again (dup set, or PUBREL once released), then the queue, dropping the expired', () => {
    const { session, counters } = newSession();
    const first = fakePeer();
    session.peer = first.peer;
    session.deliver(1, record(1, 1), 1, undefined, false, false, 0);
    session.deliver(2, record(2, 2), 2, undefined, false, false, 0);
    session.received(2);
    session.peer = undefined;
    session.deliver(1, record(1, 3), 3, 50, false, false, 0);
    session.deliver(1, record(1, 4), 4, undefined, false, false, 0);
    const second = fakePeer();
    session.peer = second.peer;
    session.resume(100);
    expect(second.sent.map((s) => s.type)).toEqual([PubsubType.MESSAGE, PubsubType.PUBREL, PubsubType.MESSAGE]);
    const redelivered = decodeRecord(second.sent[0]!.body);
    expect([redelivered.id, redelivered.dup]).toEqual([1, true]);
    expect(decodeAck(second.sent[1]!.body).id).toBe(2);
    expect(decodeRecord(second.sent[2]!.body).id).toBe(4);
    expect(counters.dropped.expired).toBe(1);
  });

  it('completes a QoS 2 delivery only with PUBCOMP after PUBREC', () => {
    const { session } = newSession();
    const { peer, sent } = fakePeer();
    session.peer = peer;
    session.deliver(2, record(2, 9), 9, undefined, false, false, 0);
    session.completed(9, 2, 0);
    expect(session.state.inflight.has(9)).toBe(true);
    session.received(9);
    expect(sent.at(-1)!.type).toBe(PubsubType.PUBREL);
    session.completed(9, 1, 0);
    expect(session.state.inflight.has(9)).toBe(true);
    session.completed(9, 2, 0);
    expect(session.state.inflight.size).toBe(0);
  });

  it('resends what waited longer than the retry interval', () => {
    const { session } = newSession();
    const { peer, sent } = fakePeer();
    session.peer = peer;
    session.deliver(1, record(1, 1), 1, undefined, false, false, 0);
    session.retry(10, -1);
    expect(sent).toHaveLength(1);
    session.retry(10, 0);
    expect(sent).toHaveLength(2);
    expect(decodeRecord(sent[1]!.body).dup).toBe(true);
  });

  it('sends UDP deliveries over UDP only once the path is validated', () => {
    const { session } = newSession();
    const tcpOnly = fakePeer(false);
    session.peer = tcpOnly.peer;
    session.deliver(0, record(0, 0), 0, undefined, true, false, 0);
    expect(tcpOnly.sent[0]!.options).toBeUndefined();
    const withUdp = fakePeer(true);
    session.peer = withUdp.peer;
    session.deliver(0, record(0, 0), 0, undefined, true, false, 0);
    session.deliver(1, record(1, 5), 5, undefined, true, false, 0);
    expect(withUdp.sent.map((s) => s.options)).toEqual([{ transport: 'udp' }, { transport: 'udp', reliable: true }]);
  });
  it('requeue() takes a queue in order within maxOfflineMessages, the oldest dropped and counted', () => {
    const { session, counters } = newSession({ maxOfflineMessages: 3 });
    session.requeue([1, 2, 3, 4].map((id) => ({ id, qos: 1 as const, record: record(1, id), expiresAt: undefined })));
    expect(session.state.queue.map((delivery) => delivery.id)).toEqual([2, 3, 4]);
    expect(session.state.queuedBytes).toBe(3 * record(1, 2).length);
    expect(counters.dropped.queueFull).toBe(1);
  });
});
