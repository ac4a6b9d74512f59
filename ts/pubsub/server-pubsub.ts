/**
 * Pub/sub on a server (docs/PROTOCOL.md, section 10): the handlers of the `hybridwire:pubsub.*`
 * types its peers send, each peer's pub/sub session and last will, and server.publish(). The
 * routing itself is the Broker's.
 */
import { HybridwireError, OptionError } from '../errors.js';
import type { Peer } from '../api/peer.js';
import type { HandlerTable } from '../api/handler-table.js';
import { identityOf } from '../api/identity.js';
import { integerOption } from '../api/option-ranges.js';
import type { Payload } from '../session/message.js';
import { Broker, routedOf, type BrokerLimits, type RoutedMessage } from './broker.js';
import type { BrokerSession } from './broker-session.js';
import { PersistentStore, checkPersistence, type PersistenceOptions } from './persistent-store.js';
import { MemoryRetainedStore, MemorySessionStore, type RetainedStore, type SessionStore, type SubscriptionOptions } from './stores.js';
import { checkTopic, parseFilter } from './topics.js';
import { PUBSUB_FEATURE, PubsubType, decodeAck, decodeRecord, type PublishRecord, type PubsubMessage, type QoS } from './wire.js';
import { checkPublishOptions, checkSubscribeRequest, parseConnectRequest, type PublishOptions } from './pubsub-options.js';
import type { PubsubStats } from './pubsub-stats.js';

type Verdict = boolean | Promise<boolean>;

export interface PubsubServerOptions {
  /** UTF-8 bytes of a topic or filter. Default 65535. */
  maxTopicBytes?: number;
  /** Levels of a topic or filter. Default 128. */
  maxTopicLevels?: number;
  /** QoS ≥ 1 deliveries queued per session while it is away (or past maxInflight); past it the oldest are dropped. Default 1000. */
  maxOfflineMessages?: number;
  /** Bytes of those deliveries per session. Default 1 MiB. */
  maxOfflineBytes?: number;
  /** Retained messages (one per topic); a new topic past it is not retained. Default 100000. */
  maxRetainedMessages?: number;
  /** Subscriptions per session. Default 10000. */
  maxSubscriptionsPerPeer?: number;
  /** QoS ≥ 1 deliveries sent and not yet acknowledged, per session; also QoS 2 publishes awaiting release. Default 1000. */
  maxInflight?: number;
  /** Unacknowledged QoS ≥ 1 deliveries are sent again after this long. Default 5000 ms. */
  retryIntervalMs?: number;
  /** Persistent sessions (cleanSession: false) kept at once; more are refused with HW_ERR_SERVER_FULL. Default 100000. */
  maxPersistentSessions?: number;
  /** Whether `peer` may publish to `topic`; false refuses with HW_ERR_NOT_AUTHORIZED. Default: all may. */
  authorizePublish?: (peer: Peer, topic: string) => Verdict;
  /** Whether `peer` may subscribe to `filter`; false refuses with HW_ERR_NOT_AUTHORIZED. Default: all may. */
  authorizeSubscribe?: (peer: Peer, filter: string) => Verdict;
  /**
   * Keeps retained messages and persistent sessions in `dir` (SQLite), so that they survive a
   * restart; a QoS ≥ 1 publish is acknowledged once written. Default: none (memory only).
   */
  persistence?: PersistenceOptions;
  /** Where persistent sessions live. Default: memory (or `persistence`). */
  sessionStore?: SessionStore;
  /** Where retained messages live. Default: memory. */
  retainedStore?: RetainedStore;
}

/** What the pub/sub side needs of its server. */
export interface PubsubHost {
  emit(event: 'subscribe', peer: Peer, filter: string, options: SubscriptionOptions): boolean;
  emit(event: 'unsubscribe', peer: Peer, filter: string): boolean;
}

function checkHook(name: string, value: unknown): ((peer: Peer, text: string) => Verdict) | undefined {
  if (value !== undefined && typeof value !== 'function') throw new OptionError(`option ${name} must be a function`, name);
  return value as ((peer: Peer, text: string) => Verdict) | undefined;
}

function resolveLimits(options: PubsubServerOptions): BrokerLimits {
  return {
    maxTopicBytes: integerOption('maxTopicBytes', options.maxTopicBytes),
    maxTopicLevels: integerOption('maxTopicLevels', options.maxTopicLevels),
    maxOfflineMessages: integerOption('maxOfflineMessages', options.maxOfflineMessages),
    maxOfflineBytes: integerOption('maxOfflineBytes', options.maxOfflineBytes),
    maxRetainedMessages: integerOption('maxRetainedMessages', options.maxRetainedMessages),
    maxSubscriptionsPerPeer: integerOption('maxSubscriptionsPerPeer', options.maxSubscriptionsPerPeer),
    maxInflight: integerOption('maxInflight', options.maxInflight),
    retryIntervalMs: integerOption('retryIntervalMs', options.retryIntervalMs),
    maxPersistentSessions: integerOption('maxPersistentSessions', options.maxPersistentSessions),
  };
}

const notAuthorized = (what: string) => new HybridwireError('HW_ERR_NOT_AUTHORIZED', `not authorized to ${what}`);

export class ServerPubsub {
  readonly broker: Broker;
  private readonly sessionsByPeer = new Map<Peer, BrokerSession>();
  /** Last wills of connected peers, published if the peer goes without a DISCONNECT. */
  private readonly wills = new Map<Peer, RoutedMessage>();
  /**
   * Set by a cluster: told when a peer's will is set (CONNECT) and when it no longer applies
   * (undefined: DISCONNECT, or the session ended), to publish the wills of a node that dies.
   */
  onWill: ((peer: Peer, will: RoutedMessage | undefined) => void) | undefined;
  /**
   * Set by a cluster: a client with a clientId connects. `keep` (cleanSession: false): resolves
   * once the session another node held is here (or none is: bounded, it never rejects), at once
   * when this node holds it and brings none; not `keep` (and not held here): the other node's copy
   * is discarded.
   */
  sessionElsewhere: ((identity: string, keep: boolean) => Promise<void>) | undefined;
  /** Peers whose CONNECT waits for their session to come from another node. */
  private readonly connecting = new Set<Peer>();
  private readonly authorizePublish: ((peer: Peer, topic: string) => Verdict) | undefined;
  private readonly authorizeSubscribe: ((peer: Peer, filter: string) => Verdict) | undefined;
  private closing = false;
  private readonly persistentStore: PersistentStore | undefined;

  constructor(
    private readonly host: PubsubHost,
    options: PubsubServerOptions,
  ) {
    this.authorizePublish = checkHook('authorizePublish', options.authorizePublish);
    this.authorizeSubscribe = checkHook('authorizeSubscribe', options.authorizeSubscribe);
    const limits = resolveLimits(options);
    const persistence = checkPersistence(options.persistence);
    this.persistentStore = persistence && new PersistentStore(persistence.dir, limits);
    const sessions = options.sessionStore ?? this.persistentStore?.sessions ?? new MemorySessionStore();
    this.broker = new Broker(limits, sessions, options.retainedStore ?? this.persistentStore?.retained ?? new MemoryRetainedStore());
    this.broker.restore();
  }

  /** Takes the pub/sub types in a server's handler table. */
  register(handlers: HandlerTable<Peer>): void {
    handlers.setProtocol(PubsubType.CONNECT, (request: unknown, peer: Peer) => this.connect(peer, request));
    handlers.setProtocol(PubsubType.SUBSCRIBE, (request: unknown, peer: Peer) => this.subscribe(peer, request));
    handlers.setProtocol(PubsubType.UNSUBSCRIBE, (request: unknown, peer: Peer) => this.unsubscribe(peer, request));
    // One-way messages: one the server cannot read is the peer's protocol error, and ends it. A
    // session that did not negotiate pubsub has no handler for them: they are dropped.
    const oneWay = (type: string, handle: (payload: unknown, peer: Peer) => void | Promise<void>) =>
      handlers.setProtocol(type, (payload: unknown, peer: Peer) => {
        if (!peer.supportsFeature(PUBSUB_FEATURE)) return undefined;
        try {
          return handle(payload, peer);
        } catch (error) {
          if (error instanceof HybridwireError) peer.connection.fail(error);
          else throw error;
          return undefined;
        }
      });
    oneWay(PubsubType.DISCONNECT, (_, peer) => {
      if (this.wills.delete(peer)) this.onWill?.(peer, undefined);
    });
    oneWay(PubsubType.PUBLISH, (record, peer) => this.received(peer, record));
    oneWay(PubsubType.PUBACK, (ack, peer) => this.session(peer).completed(decodeAck(ack).id, 1, Date.now()));
    oneWay(PubsubType.PUBREC, (ack, peer) => this.session(peer).received(decodeAck(ack).id));
    oneWay(PubsubType.PUBCOMP, (ack, peer) => this.session(peer).completed(decodeAck(ack).id, 2, Date.now()));
    oneWay(PubsubType.PUBREL, (ack, peer) => this.released(peer, decodeAck(ack).id));
  }

  /** server.publish(): the server may publish to `$`-topics; no authorization applies. */
  publish(topic: string, payload: Payload, options: PublishOptions = {}): Promise<void> {
    try {
      const checked = checkPublishOptions(options);
      checkTopic(topic, this.broker.limits, true);
      const message: PubsubMessage = { topic, payload, qos: checked.qos, retain: checked.retain, ...(checked.expiryMs === undefined ? {} : { expiryMs: checked.expiryMs }), ...(checked.priority === undefined ? {} : { priority: checked.priority }) };
      return Promise.resolve(this.broker.publish(routedOf(message, checked.retain))).then(() => this.broker.store.commit());
    } catch (error) {
      return Promise.reject(error);
    }
  }

  stats(): PubsubStats {
    return this.broker.stats();
  }

  /** A peer's session ended: its pub/sub session is left (persistent) or ended, its will published. */
  peerClosed(peer: Peer): void {
    const will = this.wills.get(peer);
    if (this.wills.delete(peer)) this.onWill?.(peer, undefined);
    const session = this.sessionsByPeer.get(peer);
    this.sessionsByPeer.delete(peer);
    // A server closing keeps persistent sessions as they are (a persistent store has them).
    if (session !== undefined && session.peer === peer) {
      if (this.closing && session.state.persistent) session.peer = undefined;
      else this.broker.away(session, Date.now());
    }
    if (will !== undefined && !this.closing) this.publishWill(peer, will);
  }

  /** The server is closing: no wills, no timers. */
  shutdown(): void {
    this.closing = true;
    this.broker.close();
  }

  /** After the sessions have closed: writes what is pending and closes the `persistence` store. */
  closeStore(): Promise<void> {
    return this.persistentStore?.close() ?? Promise.resolve();
  }

  private publishWill(peer: Peer, will: RoutedMessage): void {
    const verdict = this.authorizePublish?.(peer, will.topic) ?? true;
    const go = (allowed: boolean) => {
      // A will the cluster could not store is counted in dropped.relayFailed.
      if (allowed) void Promise.resolve(this.broker.publish(will)).catch(() => {});
      else this.broker.counters.dropped.notAuthorized++;
    };
    if (verdict instanceof Promise) verdict.then(go, () => go(false));
    else go(verdict);
  }

  private checkFeature(peer: Peer): void {
    if (!peer.supportsFeature(PUBSUB_FEATURE)) throw new HybridwireError('HW_ERR_NO_HANDLER', 'this session did not negotiate pubsub');
  }

  /** The peer's pub/sub session; a peer that sent no CONNECT has a clean one. */
  private session(peer: Peer): BrokerSession {
    this.checkFeature(peer);
    let session = this.sessionsByPeer.get(peer);
    if (session === undefined) session = this.attach(peer, false, 0).session;
    return session;
  }

  private attach(peer: Peer, persistent: boolean, sessionExpiryMs: number): { session: BrokerSession; present: boolean } {
    const opened = this.broker.openSession(identityOf(peer), persistent, sessionExpiryMs);
    const session = opened.session;
    // A takeover: the older connection's close comes later and finds the session no longer its own.
    session.peer = peer;
    this.sessionsByPeer.set(peer, session);
    return opened;
  }

  private connect(peer: Peer, request: unknown): { sessionPresent: boolean } | Promise<{ sessionPresent: boolean }> {
    this.checkFeature(peer);
    if (this.sessionsByPeer.has(peer) || this.connecting.has(peer)) throw new HybridwireError('HW_ERR_BAD_MESSAGE', 'pub/sub CONNECT sent twice on one session');
    const parsed = parseConnectRequest(request, this.broker.limits);
    const elsewhere = this.sessionElsewhere;
    const heldHere = peer.clientId !== undefined && this.broker.sessions.get(peer.clientId)?.state.persistent === true;
    // A persistent CONNECT asks even when the session is here: it may be here half-brought, by an earlier CONNECT.
    if (elsewhere === undefined || peer.clientId === undefined || (heldHere && !parsed.persistent)) return this.open(peer, parsed);
    if (!parsed.persistent) {
      void elsewhere(peer.clientId, false);
      return this.open(peer, parsed);
    }
    this.connecting.add(peer);
    return elsewhere(peer.clientId, true)
      .finally(() => this.connecting.delete(peer))
      .then(() => {
        if (peer.connection.state !== 'open') throw new HybridwireError('HW_ERR_CONNECTION_CLOSED', 'the session closed while its pub/sub session came from another node');
        return this.open(peer, parsed);
      });
  }

  private open(peer: Peer, { persistent, sessionExpiryMs, will }: ReturnType<typeof parseConnectRequest>): { sessionPresent: boolean } | Promise<{ sessionPresent: boolean }> {
    const { session, present } = this.attach(peer, persistent, sessionExpiryMs);
    if (will !== undefined) {
      this.wills.set(peer, routedOf(will, will.retain));
      this.onWill?.(peer, this.wills.get(peer));
    }
    // What the session kept goes out once the answer has (the reply is written when this returns).
    queueMicrotask(() => session.resume(Date.now()));
    const answer = { sessionPresent: present };
    const commit = this.broker.store.commit();
    return commit === undefined ? answer : commit.then(() => answer);
  }

  private subscribe(peer: Peer, request: unknown): { qos: QoS } | Promise<{ qos: QoS }> {
    const session = this.session(peer);
    const { filter, options } = checkSubscribeRequest(request);
    parseFilter(filter, this.broker.limits);
    const verdict = this.authorizeSubscribe?.(peer, filter) ?? true;
    const go = (allowed: boolean): { qos: QoS } | Promise<{ qos: QoS }> => {
      if (!allowed) throw notAuthorized(`subscribe to ${JSON.stringify(filter)}`);
      if (session.peer !== peer) throw new HybridwireError('HW_ERR_CONNECTION_CLOSED', 'the session was taken over');
      const existed = this.broker.subscribe(session, filter, options);
      this.host.emit('subscribe', peer, filter, options);
      const answer = { qos: options.qos };
      // Retained messages follow the confirmation, which is written as this returns (or resolves).
      const retained = () => {
        if (!existed && session.peer === peer) this.broker.sendRetained(session, filter, options);
      };
      const commit = this.broker.store.commit();
      if (commit === undefined) {
        queueMicrotask(retained);
        return answer;
      }
      return commit.then(() => {
        setImmediate(retained);
        return answer;
      });
    };
    return verdict instanceof Promise ? verdict.then(go) : go(verdict);
  }

  private unsubscribe(peer: Peer, request: unknown): { removed: boolean } {
    const session = this.session(peer);
    const filter = (request as { filter?: unknown } | null)?.filter;
    if (typeof filter !== 'string') throw new HybridwireError('HW_ERR_BAD_MESSAGE', 'pub/sub UNSUBSCRIBE needs a filter');
    const removed = this.broker.unsubscribe(session, filter);
    if (removed) this.host.emit('unsubscribe', peer, filter);
    return { removed };
  }

  /** A PUBLISH from a peer. A topic it may not publish to is a protocol error: its client checks first. */
  private received(peer: Peer, bytes: unknown): void | Promise<void> {
    const session = this.session(peer);
    const record = decodeRecord(bytes as Uint8Array);
    checkTopic(record.topic, this.broker.limits, false);
    // The server's rateLimits by topic filter: false drops the publish (a QoS ≥ 1 one is refused,
    // so its publisher is not left waiting); a 'disconnect' limit throws HW_ERR_RATE_LIMITED.
    if (peer.connection.rateLimiter?.admitTopic(record.topic, (bytes as Uint8Array).length) === false) {
      this.broker.counters.dropped.rateLimited++;
      if (record.qos > 0) session.sendAck(record.qos === 1 ? PubsubType.PUBACK : PubsubType.PUBREC, record.id, 'HW_ERR_RATE_LIMITED');
      return undefined;
    }
    const verdict = this.authorizePublish?.(peer, record.topic) ?? true;
    if (verdict instanceof Promise) {
      // The record is a view of a frame the connection reuses: copied before waiting.
      const kept = { ...record, body: Buffer.from(record.body) };
      return verdict.then((allowed) => this.accept(peer, session, kept, allowed));
    }
    return this.accept(peer, session, record, verdict);
  }

  private accept(peer: Peer, session: BrokerSession, record: PublishRecord, allowed: boolean): void | Promise<void> {
    const { qos, id } = record;
    if (!allowed) {
      this.broker.counters.dropped.notAuthorized++;
      if (qos > 0) session.sendAck(qos === 1 ? PubsubType.PUBACK : PubsubType.PUBREC, id, 'HW_ERR_NOT_AUTHORIZED');
      return undefined;
    }
    const received = session.state.receivedQos2;
    if (qos === 2 && received.has(id)) {
      // Sent again after a reconnect: routed already, so only acknowledged again (exactly once).
      session.sendAck(PubsubType.PUBREC, id);
      return undefined;
    }
    if (qos === 2 && received.size >= this.broker.limits.maxInflight) {
      peer.connection.fail(new HybridwireError('HW_ERR_BAD_MESSAGE', `more than maxInflight (${this.broker.limits.maxInflight}) QoS 2 publishes awaiting PUBREL`));
      return undefined;
    }
    const message: RoutedMessage = {
      topic: record.topic,
      qos,
      retain: record.retain,
      encoding: record.encoding,
      body: record.body,
      expiresAt: record.expiryMs === undefined ? undefined : Date.now() + record.expiryMs,
    };
    const relayed = this.broker.publish(message, session);
    if (qos === 0) return undefined;
    if (qos === 2) {
      received.add(id);
      this.broker.store.changed(session.state);
    }
    const acknowledge = () => session.sendAck(qos === 1 ? PubsubType.PUBACK : PubsubType.PUBREC, id);
    const commit = this.broker.store.commit();
    if (relayed === undefined && commit === undefined) {
      acknowledge();
      return undefined;
    }
    return Promise.all([relayed, commit]).then(acknowledge, (error: unknown) => {
      // Not stored (a cluster without NATS past cluster.publishTimeoutMs): refused, and a retry is routed anew.
      if (qos === 2) received.delete(id);
      const code = (error as { code?: unknown }).code;
      session.sendAck(qos === 1 ? PubsubType.PUBACK : PubsubType.PUBREC, id, typeof code === 'string' ? code : 'HW_ERR_CLUSTER_UNAVAILABLE');
    });
  }

  private released(peer: Peer, id: number): void {
    const session = this.session(peer);
    if (session.state.receivedQos2.delete(id)) this.broker.store.changed(session.state);
    const commit = this.broker.store.commit();
    if (commit === undefined) session.sendAck(PubsubType.PUBCOMP, id);
    else void commit.then(() => session.sendAck(PubsubType.PUBCOMP, id));
  }
}
