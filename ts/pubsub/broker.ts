/**
 * The broker: subscriptions in a topic trie, routing of each publish to the sessions whose filters
 * match, retained messages, and the seams a cluster plugs into (see ts/pubsub/README.md):
 * `onInterest`, `deliverLocal`, and the `relay` hook.
 *
 * Speed: the sessions a topic reaches are computed once and cached until a subscription changes;
 * a publish encodes one record per QoS delivered and hands those same bytes to every session.
 */
import { HybridwireError } from '../errors.js';
import { Encoding, bodyOf, encodingOf } from '../session/message.js';
import { BrokerSession, type SessionLimits } from './broker-session.js';
import { TopicTrie } from './topic-trie.js';
import { filterName, parseFilter, type TopicLimits } from './topics.js';
import { newSessionState, type RetainedStore, type SessionState, type SessionStore, type SubscriptionOptions } from './stores.js';
import { encodeRecord, isEmptyPayload, payloadOf, type PubsubMessage, type QoS } from './wire.js';
import { byQos, newPubsubCounters, type PubsubStats } from './pubsub-stats.js';
import type { Priority } from '../qos/priority-scheduler.js';

export interface BrokerLimits extends TopicLimits, SessionLimits {
  maxRetainedMessages: number;
  maxSubscriptionsPerPeer: number;
  maxPersistentSessions: number;
  retryIntervalMs: number;
}

/** A message as the broker routes it: the payload encoded once, as records will carry it. */
export interface RoutedMessage {
  topic: string;
  qos: QoS;
  retain: boolean;
  encoding: number;
  body: Uint8Array | string;
  expiresAt: number | undefined;
  /** The send priority of its deliveries (server.publish's `priority`); undefined: normal. */
  priority?: Priority;
}

interface Subscriber {
  group: false;
  session: BrokerSession;
  options: SubscriptionOptions;
}

interface SharedGroup {
  group: true;
  members: Subscriber[];
  next: number;
}

type TrieEntry = Subscriber | SharedGroup;

/** One session a topic reaches, its subscriptions' QoS folded: `localQos` excludes noLocal ones (-1: all are). */
interface Target {
  session: BrokerSession;
  qos: QoS;
  localQos: number;
  udp: boolean;
  reliable: boolean;
}

interface Targets {
  direct: Target[];
  groups: SharedGroup[];
}

/** Topics whose targets are cached at once; past it the cache starts again. */
const MAX_CACHED_TOPICS = 4096;
const sessionKey = (identity: string) => `s:${identity}`;
const groupKey = (group: string) => `g:${group}`;

export class Broker {
  /**
   * Set by a cluster: carries what is published on this node to the others (they deliver it with
   * deliverLocal). Awaited by publishes at QoS ≥ 1 before they are acknowledged.
   */
  relay: ((message: PubsubMessage) => Promise<string | void>) | undefined;
  readonly counters = newPubsubCounters();
  /** Live sessions by identity (connected, or persistent and away). */
  readonly sessions = new Map<string, BrokerSession>();
  private readonly trie = new TopicTrie<TrieEntry>();
  private readonly cache = new Map<string, Targets>();
  private readonly interest = new Set<(filter: string, present: boolean) => void>();
  private readonly persistentListeners = new Set<(identity: string, present: boolean) => void>();
  private nextDeliveryId = 0;
  private retryTimer: NodeJS.Timeout | undefined;

  constructor(
    readonly limits: BrokerLimits,
    readonly store: SessionStore,
    readonly retained: RetainedStore,
  ) {}

  /**
   * Calls `listener(filter, present)` when a (normalized) filter gains its first subscription on
   * this node (present) or loses its last (not present). Returns a function that stops it.
   */
  onInterest(listener: (filter: string, present: boolean) => void): () => void {
    this.interest.add(listener);
    return () => this.interest.delete(listener);
  }

  /** Calls `listener(identity, present)` when a persistent session starts (or is adopted) here and when it ends. */
  onPersistentSession(listener: (identity: string, present: boolean) => void): () => void {
    this.persistentListeners.add(listener);
    return () => this.persistentListeners.delete(listener);
  }

  /** The filters with subscriptions on this node now (a cluster's initial interest). */
  filters(): string[] {
    return [...this.trie.filtersWithEntries()].map(([filter]) => filter);
  }

  /**
   * Publishes on this node: the retained store, local subscribers, and the relay. `origin` is the
   * publishing session (noLocal), undefined for the server's own publishes.
   */
  publish(message: RoutedMessage, origin?: BrokerSession): void | Promise<void> {
    this.counters.messagesIn[message.qos]++;
    const relay = this.relay;
    if (relay !== undefined && message.qos > 0) {
      // In a cluster a QoS ≥ 1 message is stored by the cluster first: one it could not store
      // (HW_ERR_CLUSTER_UNAVAILABLE) is delivered nowhere, and its publisher may send it again.
      const kept = { ...message, body: typeof message.body === 'string' ? message.body : Buffer.from(message.body) };
      return relay(toPubsubMessage(kept)).then(
        (messageId) => {
          if (kept.retain) this.retain(kept);
          this.route(kept, origin, messageId ?? undefined);
        },
        (error: unknown) => {
          this.counters.dropped.relayFailed++;
          throw error;
        },
      );
    }
    if (message.retain) this.retain(message);
    this.route(message, origin);
    if (relay === undefined) return undefined;
    return relay(toPubsubMessage(message)).then(
      () => undefined,
      () => {
        this.counters.dropped.relayFailed++;
      },
    );
  }

  /**
   * Delivers to this node's subscribers only (no retained store, no relay): how a cluster hands
   * over what another node published. Returns the number of sessions it reached.
   */
  deliverLocal(message: PubsubMessage, origin?: unknown, messageId?: string): number {
    void origin;
    return this.route(routedOf(message, false), undefined, messageId);
  }

  /** Routes a message to the sessions its topic reaches; returns how many. `messageId`: its id between nodes. */
  route(message: RoutedMessage, origin?: BrokerSession, messageId?: string): number {
    const targets = this.targetsFor(message.topic);
    const records: Array<Buffer | undefined> = [undefined, undefined, undefined];
    const id = message.qos === 0 ? 0 : this.newDeliveryId();
    const now = message.qos === 0 && message.expiresAt === undefined ? 0 : Date.now();
    if (message.expiresAt !== undefined && message.expiresAt <= now) {
      this.counters.dropped.expired++;
      return 0;
    }
    let reached = 0;
    for (const target of targets.direct) {
      const session = target.session;
      const ceiling = session === origin ? target.localQos : target.qos;
      if (ceiling < 0) continue;
      const qos = (ceiling < message.qos ? ceiling : message.qos) as QoS;
      const record = (records[qos] ??= encodeRecord(qos, false, false, qos === 0 ? 0 : id, message.topic, message.encoding, message.body));
      session.deliver(qos, record, id, message.expiresAt, target.udp, target.reliable, now, message.priority, messageId);
      reached++;
    }
    for (const group of targets.groups) {
      const member = this.pickMember(group);
      if (member === undefined) continue;
      const qos = (member.options.qos < message.qos ? member.options.qos : message.qos) as QoS;
      const record = (records[qos] ??= encodeRecord(qos, false, false, qos === 0 ? 0 : id, message.topic, message.encoding, message.body));
      member.session.deliver(qos, record, id, message.expiresAt, member.options.transport === 'udp', member.options.reliable, now, message.priority, messageId);
      reached++;
    }
    if (reached === 0) this.counters.dropped.noSubscribers++;
    return reached;
  }

  /** A session for `identity`: the existing one (persistent, kept) or a new one. */
  openSession(identity: string, persistent: boolean, sessionExpiryMs: number): { session: BrokerSession; present: boolean } {
    const existing = this.sessions.get(identity);
    if (existing !== undefined) {
      if (persistent && existing.state.persistent) {
        clearTimeout(existing.expiryTimer);
        existing.state.sessionExpiryMs = sessionExpiryMs;
        existing.state.expiresAt = undefined;
        this.store.changed(existing.state);
        return { session: existing, present: true };
      }
      this.endSession(existing);
    }
    if (persistent && this.persistentCount() >= this.limits.maxPersistentSessions) {
      throw new HybridwireError('HW_ERR_SERVER_FULL', `the server keeps maxPersistentSessions (${this.limits.maxPersistentSessions}) persistent sessions`);
    }
    const state = newSessionState(identity, persistent, sessionExpiryMs);
    this.store.set(state);
    const session = new BrokerSession(state, this.store, this.limits, this.counters);
    this.sessions.set(identity, session);
    this.ensureRetryTimer();
    if (persistent) for (const listener of this.persistentListeners) listener(identity, true);
    return { session, present: false };
  }

  /**
   * Takes back the sessions the store kept (a server restarting on a persistent store): their
   * subscriptions, and the expiry of those away. Delivery ids go on after the largest kept.
   */
  restore(now = Date.now()): void {
    for (const state of [...this.store.values()]) this.adopt(state, now);
  }

  /**
   * Takes in a persistent session kept elsewhere (this store at start, another node): its
   * subscriptions join the trie, delivery ids go on after its largest, and it is away until its
   * client attaches. The state must be in the store already.
   */
  adopt(state: SessionState, now = Date.now()): BrokerSession {
    const session = new BrokerSession(state, this.store, this.limits, this.counters);
    this.sessions.set(state.identity, session);
    for (const [name, options] of state.subscriptions) this.addToTrie(session, parseFilter(name, this.limits), options);
    for (const id of state.inflight.keys()) if (id > this.nextDeliveryId) this.nextDeliveryId = id;
    for (const delivery of state.queue) if (delivery.id > this.nextDeliveryId) this.nextDeliveryId = delivery.id;
    this.away(session, now);
    this.ensureRetryTimer();
    for (const listener of this.persistentListeners) listener(state.identity, true);
    return session;
  }

  /**
   * A session's connection is gone: a clean one ends, a persistent one is kept until
   * sessionExpiryMs from now (or from the expiry it already had, after a restart).
   */
  away(session: BrokerSession, now: number): void {
    session.peer = undefined;
    const state = session.state;
    const left = state.expiresAt !== undefined ? state.expiresAt - now : state.sessionExpiryMs;
    if (!state.persistent || left <= 0) {
      this.endSession(session);
      return;
    }
    state.expiresAt = now + left;
    this.store.changed(state);
    clearTimeout(session.expiryTimer);
    session.expiryTimer = setTimeout(() => this.endSession(session), left);
    session.expiryTimer.unref();
  }

  /** Ends a session: its subscriptions, queue and state go. */
  endSession(session: BrokerSession): void {
    clearTimeout(session.expiryTimer);
    session.peer = undefined;
    for (const name of session.state.subscriptions.keys()) this.removeFromTrie(session, name);
    session.state.subscriptions.clear();
    if (this.sessions.get(session.identity) === session) {
      this.sessions.delete(session.identity);
      this.store.delete(session.identity);
      if (session.state.persistent) for (const listener of this.persistentListeners) listener(session.identity, false);
    }
  }

  /**
   * Adds or replaces a subscription; returns whether it existed. The caller then sends a new one
   * the retained messages (sendRetained), once the subscriber has its confirmation.
   */
  subscribe(session: BrokerSession, name: string, options: SubscriptionOptions): boolean {
    const parsed = parseFilter(name, this.limits);
    const canonical = filterName(parsed);
    const subscriptions = session.state.subscriptions;
    const existed = subscriptions.has(canonical);
    if (!existed && subscriptions.size >= this.limits.maxSubscriptionsPerPeer) {
      throw new HybridwireError('HW_ERR_INVALID_ARGUMENT', `a session may hold maxSubscriptionsPerPeer (${this.limits.maxSubscriptionsPerPeer}) subscriptions`);
    }
    subscriptions.set(canonical, options);
    this.addToTrie(session, parsed, options);
    this.store.changed(session.state);
    return existed;
  }

  /** Removes a subscription; returns whether there was one. */
  unsubscribe(session: BrokerSession, name: string): boolean {
    const canonical = filterName(parseFilter(name, this.limits));
    if (!session.state.subscriptions.delete(canonical)) return false;
    this.removeFromTrie(session, canonical);
    this.store.changed(session.state);
    return true;
  }

  stats(): PubsubStats {
    let queued = 0;
    let inflight = 0;
    for (const session of this.sessions.values()) {
      queued += session.state.queue.length;
      inflight += session.state.inflight.size;
    }
    const counters = this.counters;
    return {
      topics: this.trie.filters,
      subscriptions: this.subscriptionCount(),
      sessions: this.sessions.size,
      retained: this.retained.size,
      messagesIn: byQos(counters.messagesIn),
      messagesOut: byQos(counters.messagesOut),
      dropped: { ...counters.dropped },
      queuedOffline: queued,
      inflight,
    };
  }

  /** Stops the broker's timers (the server is closing). */
  close(): void {
    clearInterval(this.retryTimer);
    for (const session of this.sessions.values()) clearTimeout(session.expiryTimer);
  }

  private subscriptionCount(): number {
    let count = 0;
    for (const session of this.sessions.values()) count += session.state.subscriptions.size;
    return count;
  }

  persistentCount(): number {
    let count = 0;
    for (const session of this.sessions.values()) if (session.state.persistent) count++;
    return count;
  }

  /** Delivery ids go on after `id` (a delivery in flight that came from another node keeps its id). */
  reserveDeliveryId(id: number): void {
    if (id > this.nextDeliveryId) this.nextDeliveryId = id;
  }

  newDeliveryId(): number {
    // u32, never 0: ids are unique among a session's deliveries in flight (bounded by maxInflight).
    this.nextDeliveryId = this.nextDeliveryId >= 0xffffffff ? 1 : this.nextDeliveryId + 1;
    return this.nextDeliveryId;
  }

  private retain(message: RoutedMessage): void {
    const body = typeof message.body === 'string' ? Buffer.from(message.body) : message.body;
    if (isEmptyPayload(message.encoding, body)) {
      this.retained.delete(message.topic);
      return;
    }
    if (this.retained.get(message.topic) === undefined && this.retained.size >= this.limits.maxRetainedMessages) {
      this.counters.dropped.queueFull++;
      return;
    }
    // A copy: the body may be a view of a frame that the connection reuses.
    this.retained.set({ topic: message.topic, qos: message.qos, encoding: message.encoding, body: Buffer.from(body), expiresAt: message.expiresAt });
  }

  /** Sends a new subscription the retained messages its filter matches (not to shared ones, as in MQTT). */
  sendRetained(session: BrokerSession, name: string, options: SubscriptionOptions): void {
    const parsed = parseFilter(name, this.limits);
    if (parsed.group !== undefined) return;
    const now = Date.now();
    for (const message of this.retained.match(parsed.filter)) {
      if (message.expiresAt !== undefined && message.expiresAt <= now) {
        this.retained.delete(message.topic);
        continue;
      }
      const qos = (options.qos < message.qos ? options.qos : message.qos) as QoS;
      const id = qos === 0 ? 0 : this.newDeliveryId();
      const record = encodeRecord(qos, true, false, id, message.topic, message.encoding, message.body);
      session.deliver(qos, record, id, message.expiresAt, options.transport === 'udp', options.reliable, now);
    }
  }

  private addToTrie(session: BrokerSession, parsed: { filter: string; group: string | undefined }, options: SubscriptionOptions): void {
    const subscriber: Subscriber = { group: false, session, options };
    let first: boolean;
    if (parsed.group === undefined) {
      first = this.trie.set(parsed.filter, sessionKey(session.identity), subscriber);
    } else {
      const key = groupKey(parsed.group);
      const group = this.trie.get(parsed.filter, key) as SharedGroup | undefined;
      if (group === undefined) {
        first = this.trie.set(parsed.filter, key, { group: true, members: [subscriber], next: 0 });
      } else {
        first = false;
        const at = group.members.findIndex((member) => member.session === session);
        if (at >= 0) group.members[at] = subscriber;
        else group.members.push(subscriber);
      }
    }
    this.cache.clear();
    if (first) for (const listener of this.interest) listener(parsed.filter, true);
  }

  private removeFromTrie(session: BrokerSession, name: string): void {
    const parsed = parseFilter(name, this.limits);
    let last: boolean;
    if (parsed.group === undefined) {
      last = this.trie.delete(parsed.filter, sessionKey(session.identity));
    } else {
      const key = groupKey(parsed.group);
      const group = this.trie.get(parsed.filter, key) as SharedGroup | undefined;
      if (group === undefined) return;
      group.members = group.members.filter((member) => member.session !== session);
      last = group.members.length === 0 && this.trie.delete(parsed.filter, key);
    }
    this.cache.clear();
    if (last) for (const listener of this.interest) listener(parsed.filter, false);
  }

  /** A member of the group for one message: the next connected one in turn, else the next at all. */
  private pickMember(group: SharedGroup): Subscriber | undefined {
    const members = group.members;
    const count = members.length;
    for (let i = 0; i < count; i++) {
      const member = members[(group.next + i) % count]!;
      if (member.session.peer !== undefined) {
        group.next = (group.next + i + 1) % count;
        return member;
      }
    }
    if (count === 0) return undefined;
    const member = members[group.next % count]!;
    group.next = (group.next + 1) % count;
    return member;
  }

  private targetsFor(topic: string): Targets {
    let targets = this.cache.get(topic);
    if (targets !== undefined) return targets;
    const direct = new Map<BrokerSession, Target>();
    const groups: SharedGroup[] = [];
    this.trie.match(topic, (entries) => {
      for (const entry of entries.values()) {
        if (entry.group) {
          groups.push(entry);
          continue;
        }
        const { session, options } = entry;
        const target = direct.get(session);
        const localQos = options.noLocal ? -1 : options.qos;
        if (target === undefined) {
          direct.set(session, { session, qos: options.qos, localQos, udp: options.transport === 'udp', reliable: options.reliable });
        } else {
          if (options.qos > target.qos) {
            target.qos = options.qos;
            target.udp = options.transport === 'udp';
            target.reliable = options.reliable;
          }
          if (localQos > target.localQos) target.localQos = localQos;
        }
      }
    });
    targets = { direct: [...direct.values()], groups };
    if (this.cache.size >= MAX_CACHED_TOPICS) this.cache.clear();
    this.cache.set(topic, targets);
    return targets;
  }

  private ensureRetryTimer(): void {
    if (this.retryTimer !== undefined) return;
    const interval = this.limits.retryIntervalMs;
    this.retryTimer = setInterval(() => {
      const now = Date.now();
      for (const session of this.sessions.values()) if (session.state.inflight.size > 0) session.retry(now, now - interval);
    }, interval);
    this.retryTimer.unref();
  }
}

/** A message given by the application (server.publish, a cluster's deliverLocal), encoded once. */
export function routedOf(message: PubsubMessage, retain: boolean): RoutedMessage {
  const encoding = encodingOf(message.payload);
  return {
    topic: message.topic,
    qos: message.qos,
    retain,
    encoding,
    body: bodyOf(message.payload, encoding),
    expiresAt: message.expiryMs === undefined ? undefined : Date.now() + message.expiryMs,
    ...(message.priority === undefined ? {} : { priority: message.priority }),
  };
}

/** The application's form of a routed message (for the relay). */
export function toPubsubMessage(message: RoutedMessage): PubsubMessage {
  const body = typeof message.body === 'string' ? Buffer.from(message.body) : message.body;
  const payload = message.encoding === Encoding.BINARY ? Buffer.from(body) : payloadOf(message.encoding, body);
  const out: PubsubMessage = { topic: message.topic, payload, qos: message.qos, retain: message.retain };
  if (message.expiresAt !== undefined) out.expiryMs = Math.max(0, message.expiresAt - Date.now());
  return out;
}
