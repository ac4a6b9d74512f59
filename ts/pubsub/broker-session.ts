/**
 * One pub/sub session on the server: its state (see stores.ts), the peer it is attached to while
 * connected, and its side of QoS 1 and 2 delivery. Deliveries arrive already encoded (one record per
 * QoS for all subscribers); QoS ≥ 1 ones are held in `inflight` until acknowledged, and queued past
 * maxInflight or while the session is away, oldest dropped past maxOfflineMessages/maxOfflineBytes.
 */
import type { Peer } from '../api/peer.js';
import { Encoding } from '../session/message.js';
import type { SendOptions } from '../session/send-options.js';
import type { Priority } from '../qos/priority-scheduler.js';
import type { QueuedDelivery, SessionState, SessionStore } from './stores.js';
import { PubsubType, encodeAck, markDup, type QoS } from './wire.js';
import type { PubsubCounters } from './pubsub-stats.js';

export interface SessionLimits {
  maxOfflineMessages: number;
  maxOfflineBytes: number;
  maxInflight: number;
}

const UDP: SendOptions = { transport: 'udp' };
const UDP_RELIABLE: SendOptions = { transport: 'udp', reliable: true };
/** TCP sends at a priority other than normal (UDP sends do not wait, so take none). */
const BY_PRIORITY: Record<Priority, SendOptions | undefined> = { high: { priority: 'high' }, normal: undefined, low: { priority: 'low' } };

export class BrokerSession {
  peer: Peer | undefined;
  /** Ends a disconnected persistent session at its expiry. */
  expiryTimer: NodeJS.Timeout | undefined;

  constructor(
    readonly state: SessionState,
    private readonly store: SessionStore,
    private readonly limits: SessionLimits,
    private readonly counters: PubsubCounters,
  ) {}

  get identity(): string {
    return this.state.identity;
  }

  /**
   * Hands a delivery to the session: sent now at QoS 0 (dropped while away), held until
   * acknowledged at QoS ≥ 1 (queued while away or past maxInflight).
   */
  deliver(qos: QoS, record: Buffer, id: number, expiresAt: number | undefined, udp: boolean, reliable: boolean, now: number, priority?: Priority, messageId?: string): void {
    if (qos === 0) {
      if (this.peer !== undefined) this.send(record, udp, reliable, priority);
      return;
    }
    const state = this.state;
    const delivery: QueuedDelivery = priority === undefined ? { id, qos, record, expiresAt } : { id, qos, record, expiresAt, priority };
    if (messageId !== undefined) delivery.messageId = messageId;
    if (this.peer !== undefined && state.queue.length === 0 && state.inflight.size < this.limits.maxInflight) {
      state.inflight.set(id, { delivery, released: false, sentAt: now });
      this.send(record, udp, true, priority);
    } else {
      this.enqueue(delivery);
    }
    this.store.changed(state);
  }

  private enqueue(delivery: QueuedDelivery): void {
    const state = this.state;
    state.queue.push(delivery);
    state.queuedBytes += delivery.record.length;
    // Past either bound the oldest go, counted: the newest are what a returning client wants.
    while (state.queue.length > this.limits.maxOfflineMessages || (state.queuedBytes > this.limits.maxOfflineBytes && state.queue.length > 0)) {
      const dropped = state.queue.shift()!;
      state.queuedBytes -= dropped.record.length;
      this.counters.dropped.queueFull++;
    }
  }

  /** Takes `queue` as the session's queue, in order, within the bounds (a session that moved from another node). */
  requeue(queue: QueuedDelivery[]): void {
    this.state.queue = [];
    this.state.queuedBytes = 0;
    for (const delivery of queue) this.enqueue(delivery);
    this.store.changed(this.state);
  }

  /** The session's connection is back (or new): unacknowledged deliveries again, then the queue, in order. */
  resume(now: number): void {
    const peer = this.peer;
    if (peer === undefined) return;
    for (const entry of this.state.inflight.values()) {
      entry.sentAt = now;
      if (entry.released) this.sendAck(PubsubType.PUBREL, entry.delivery.id);
      else this.send(markDup(entry.delivery.record), false, false, entry.delivery.priority);
    }
    this.drain(now);
  }

  /** Sends queued deliveries while maxInflight allows; drops those expired. */
  drain(now: number): void {
    const state = this.state;
    if (this.peer === undefined || state.queue.length === 0) return;
    let taken = 0;
    while (taken < state.queue.length && state.inflight.size < this.limits.maxInflight) {
      const delivery = state.queue[taken++]!;
      state.queuedBytes -= delivery.record.length;
      if (delivery.expiresAt !== undefined && delivery.expiresAt <= now) {
        this.counters.dropped.expired++;
        continue;
      }
      state.inflight.set(delivery.id, { delivery, released: false, sentAt: now });
      this.send(delivery.record, false, false, delivery.priority);
    }
    state.queue.splice(0, taken);
    this.store.changed(state);
  }

  /** Resends what has waited for its acknowledgement longer than `olderThan` (a path that lost it). */
  retry(now: number, olderThan: number): void {
    if (this.peer === undefined) return;
    for (const entry of this.state.inflight.values()) {
      if (entry.sentAt > olderThan) continue;
      entry.sentAt = now;
      if (entry.released) this.sendAck(PubsubType.PUBREL, entry.delivery.id);
      else this.send(markDup(entry.delivery.record), false, false, entry.delivery.priority);
    }
  }

  /** PUBACK of a QoS 1 delivery, or PUBCOMP of a QoS 2 one: done. */
  completed(id: number, qos: QoS, now: number): void {
    const entry = this.state.inflight.get(id);
    if (entry === undefined || entry.delivery.qos !== qos || (qos === 2 && !entry.released)) return;
    this.state.inflight.delete(id);
    this.store.changed(this.state);
    this.drain(now);
  }

  /** PUBREC of a QoS 2 delivery: the client has it; release it (PUBREL) and wait for PUBCOMP. */
  received(id: number): void {
    const entry = this.state.inflight.get(id);
    if (entry === undefined || entry.delivery.qos !== 2) return;
    if (!entry.released) {
      entry.released = true;
      this.store.changed(this.state);
    }
    this.sendAck(PubsubType.PUBREL, id);
  }

  sendAck(type: string, id: number, code?: string): void {
    const connection = this.peer?.connection;
    if (connection === undefined || connection.state !== 'open') return;
    try {
      connection.sendEncoded(type, Encoding.BINARY, encodeAck(id, code));
    } catch {
      this.counters.dropped.sendFailed++;
    }
  }

  private send(record: Buffer, udp: boolean, reliable: boolean, priority?: Priority): void {
    const connection = this.peer!.connection;
    if (connection.state !== 'open') return;
    // UDP deliveries need the session's validated UDP path; without one they go over TCP.
    const options = udp && connection.udpPath !== undefined && this.peer!.udpAddress !== undefined ? (reliable ? UDP_RELIABLE : UDP) : priority === undefined ? undefined : BY_PRIORITY[priority];
    try {
      connection.sendEncoded(PubsubType.MESSAGE, Encoding.BINARY, record, options);
      this.counters.messagesOut[(record[0]! & 3) as QoS]++;
    } catch {
      // A full send queue: at QoS ≥ 1 the delivery stays in flight and goes again on reconnect.
      this.counters.dropped.sendFailed++;
    }
  }
}
