/**
 * Where the broker keeps what outlives a connection: persistent sessions (subscriptions, queued and
 * unacknowledged deliveries, QoS 2 publishes awaiting release) and retained messages. Both sit
 * behind small interfaces so that a persistent store can replace the in-memory ones below.
 *
 * What a store must guarantee:
 * - The broker mutates the state objects it got from the store and then calls `changed(state)`
 *   (sessions) or `set`/`delete` (retained). A persistent store records those changes.
 * - `commit()` makes every change recorded since the last commit durable before it settles. The
 *   broker awaits it before it acknowledges a QoS ≥ 1 publish (PUBACK, PUBREC) and before it answers
 *   a subscribe or a connect, so that what it has acknowledged survives a restart. A commit that
 *   rejects leaves the publish unacknowledged (the client will send it again).
 * - `commit()` may return undefined when there is nothing to wait for (memory): the broker then
 *   acknowledges in the same turn, without a promise.
 * - Sessions and retained messages are returned in the order they were stored; a session's
 *   `queue` and `inflight` keep their order (delivery order on reconnect depends on it).
 */
import type { QoS } from './wire.js';
import type { Priority } from '../qos/priority-scheduler.js';
import { filterMatches } from './topics.js';

/** The options a subscription was made with. */
export interface SubscriptionOptions {
  qos: QoS;
  noLocal: boolean;
  transport: 'tcp' | 'udp';
  reliable: boolean;
}

/** A delivery encoded for one QoS: the record bytes every session of that QoS is handed. */
export interface QueuedDelivery {
  id: number;
  qos: QoS;
  record: Buffer;
  /** Date.now() past which it is dropped rather than sent (message expiry). */
  expiresAt: number | undefined;
  /** Its send priority when not normal (kept in memory only: a restored delivery goes at normal). */
  priority?: Priority;
  /** In a cluster, the message's id between nodes (`hw-id`): a session moving nodes is handed it once. Memory only. */
  messageId?: string;
}

/** A QoS ≥ 1 delivery sent and not yet completed: `released` once a QoS 2 one has been PUBREC'd. */
export interface InflightDelivery {
  delivery: QueuedDelivery;
  released: boolean;
  sentAt: number;
}

/** Everything of a session that outlives its connection. */
export interface SessionState {
  /** The clientId (or, for a session without one, its session id). */
  readonly identity: string;
  /** cleanSession: false — kept after the connection ends, until sessionExpiryMs. */
  persistent: boolean;
  sessionExpiryMs: number;
  /** Subscriptions by filter as subscribed (`$share/GROUP/filter` included). */
  subscriptions: Map<string, SubscriptionOptions>;
  /** Deliveries waiting to be sent, oldest first, within maxOfflineMessages and maxOfflineBytes. */
  queue: QueuedDelivery[];
  queuedBytes: number;
  /** Deliveries sent and not yet acknowledged, by id, in the order sent. */
  inflight: Map<number, InflightDelivery>;
  /** Ids of QoS 2 publishes from the client routed and not yet released (PUBREL). */
  receivedQos2: Set<number>;
  /** Date.now() at which a disconnected persistent session ends; undefined while connected. */
  expiresAt: number | undefined;
}

export function newSessionState(identity: string, persistent: boolean, sessionExpiryMs: number): SessionState {
  return { identity, persistent, sessionExpiryMs, subscriptions: new Map(), queue: [], queuedBytes: 0, inflight: new Map(), receivedQos2: new Set(), expiresAt: undefined };
}

export interface SessionStore {
  get(identity: string): SessionState | undefined;
  set(state: SessionState): void;
  delete(identity: string): void;
  /** The state was changed in place (queue, inflight, subscriptions, receivedQos2, expiry). */
  changed(state: SessionState): void;
  /** Makes what changed durable; see the module comment. */
  commit(): void | Promise<void>;
  values(): IterableIterator<SessionState>;
  readonly size: number;
}

/** A retained message, its payload still encoded. */
export interface RetainedMessage {
  topic: string;
  qos: QoS;
  encoding: number;
  body: Uint8Array;
  expiresAt: number | undefined;
}

export interface RetainedStore {
  get(topic: string): RetainedMessage | undefined;
  set(message: RetainedMessage): void;
  delete(topic: string): void;
  /** The retained messages whose topics the (normalized) filter matches. */
  match(filter: string): Iterable<RetainedMessage>;
  commit(): void | Promise<void>;
  readonly size: number;
}

export class MemorySessionStore implements SessionStore {
  private readonly sessions = new Map<string, SessionState>();

  get(identity: string): SessionState | undefined {
    return this.sessions.get(identity);
  }

  set(state: SessionState): void {
    this.sessions.set(state.identity, state);
  }

  delete(identity: string): void {
    this.sessions.delete(identity);
  }

  /** Nothing to record: the store holds the very objects the broker changes. */
  changed(state: SessionState): void {
    void state;
  }

  commit(): undefined {
    return undefined;
  }

  values(): IterableIterator<SessionState> {
    return this.sessions.values();
  }

  get size(): number {
    return this.sessions.size;
  }
}

export class MemoryRetainedStore implements RetainedStore {
  private readonly messages = new Map<string, RetainedMessage>();

  get(topic: string): RetainedMessage | undefined {
    return this.messages.get(topic);
  }

  set(message: RetainedMessage): void {
    // Re-inserted, so that iteration order is the order of the latest stores.
    this.messages.delete(message.topic);
    this.messages.set(message.topic, message);
  }

  delete(topic: string): void {
    this.messages.delete(topic);
  }

  *match(filter: string): Iterable<RetainedMessage> {
    // A filter without wildcards names one topic; one with them is checked against each retained
    // topic (a subscribe, not a publish, pays for it).
    if (!/[+#]/.test(filter)) {
      const message = this.messages.get(filter);
      if (message) yield message;
      return;
    }
    for (const message of this.messages.values()) if (filterMatches(filter, message.topic)) yield message;
  }

  commit(): undefined {
    return undefined;
  }

  get size(): number {
    return this.messages.size;
  }
}
