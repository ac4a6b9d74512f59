/**
 * Pub/sub across nodes. What is published on a node is delivered there by its broker and carried
 * to the others by the broker's `relay` hook; each node subscribes in NATS only the filters its own
 * subscribers have (the broker's `onInterest`), so it receives only what they want, and hands what
 * arrives to its subscribers with `deliverLocal`.
 *
 * - QoS 0 rides core NATS (`<prefix>.msg.<topic>`): at most once. A message published while NATS
 *   is away, or while a node is cut off, is lost for the other nodes.
 * - QoS 1 and 2 ride JetStream (`<prefix>.durable.<topic>`, one file-backed stream). A publish is
 *   acknowledged to its client only once JetStream has stored it, under a message id that
 *   JetStream de-duplicates (a retried store is stored once); while NATS is away the publish waits,
 *   up to cluster.publishTimeoutMs, then fails with HW_ERR_CLUSTER_UNAVAILABLE. Each node reads
 *   with durable consumers named after the node and the filter, acknowledging a message once its
 *   broker has taken it; what is not acknowledged (the node died, NATS restarted) is delivered
 *   again. A node remembers the ids it delivered (cluster.maxRememberedIds) and drops a second
 *   arrival, so overlapping filters and redeliveries reach a subscriber once: QoS 2 is never
 *   duplicated by the cluster.
 * - Retained messages live in a JetStream key-value bucket (`<prefix>_retained`, keyed by a hash
 *   of the topic) that every node watches into its own retained store: a new subscription on any
 *   node gets them from its local store.
 */
import { createHash } from 'node:crypto';
import { HybridwireError } from '../errors.js';
import type { PubsubMessage, QoS } from '../pubsub/wire.js';
import { ORIGIN_HEADER, type Cluster } from './cluster.js';
import type { DurableMessage, EngineMessage, Headers, Subscription } from './engine.js';
import { uniqueId } from './nats-engine.js';
import { decodePayload, encodePayload } from './payload.js';
import { filterSubjects, subjectTopic, topicSubject } from './subjects.js';

/** What the relay carries: a pub/sub message as the broker hands it on. */
export type RelayMessage = PubsubMessage;

/** The seams of the pub/sub broker the relay plugs into (ts/pubsub/broker.ts). */
export interface RelayBroker {
  relay: ((message: RelayMessage) => Promise<string | void>) | undefined;
  onInterest(listener: (filter: string, present: boolean) => void): () => void;
  filters(): string[];
  deliverLocal(message: RelayMessage, origin?: unknown, messageId?: string): number;
}

/** Retained messages of this node's store, set without publishing them again. */
export interface RetainedSink {
  /** A retained message from the cluster (payload empty: the topic's retained message is cleared). */
  setRetained(message: RelayMessage): void;
}

const ID_HEADER = 'hw-id';
const QOS_HEADER = 'hw-qos';
const RETAIN_HEADER = 'hw-retain';
const EXPIRY_HEADER = 'hw-expiry';
const PRIORITY_HEADER = 'hw-priority';

interface Interest {
  core: Subscription[];
  durable: Array<{ name: string; subscription: Promise<Subscription | undefined> }>;
}

export class Relay {
  private readonly interests = new Map<string, Interest>();
  /** Ids already handed to the broker, oldest first (a Set keeps insertion order). */
  private readonly delivered = new Set<string>();
  private stopInterest: (() => void) | undefined;
  private retainedWatch: Subscription | undefined;
  private readonly nodeKey: string;

  constructor(
    private readonly cluster: Cluster,
    private readonly broker: RelayBroker,
    private readonly retained: RetainedSink | undefined,
  ) {
    this.nodeKey = hash(cluster.name).slice(0, 12);
  }

  /** Takes the broker's relay hook and its interest, present and future; watches the retained bucket. */
  async start(): Promise<void> {
    this.broker.relay = (message) => this.send(message);
    this.stopInterest = this.broker.onInterest((filter, present) => (present ? this.subscribe(filter) : this.unsubscribe(filter)));
    for (const filter of this.broker.filters()) this.subscribe(filter);
    const retained = this.retained;
    if (retained !== undefined) {
      this.retainedWatch = await this.cluster.engine.kvWatch(this.retainedBucket(), (_key, value) => {
        if (value !== undefined) this.retainedArrived(retained, value);
      });
    }
  }

  async stop(): Promise<void> {
    this.broker.relay = undefined;
    this.stopInterest?.();
    this.retainedWatch?.unsubscribe();
    for (const interest of this.interests.values()) {
      for (const subscription of interest.core) subscription.unsubscribe();
      // Durable consumers stay: a node that comes back under its name takes up what it missed.
      for (const durable of interest.durable) (await durable.subscription)?.unsubscribe();
    }
    this.interests.clear();
  }

  /** Resolves once the consumers of the present interest exist (a subscription then gets every QoS >= 1 message). */
  async settled(): Promise<void> {
    for (const interest of this.interests.values()) await Promise.all(interest.durable.map((durable) => durable.subscription));
  }

  /** The broker's relay hook: carries a message published on this node to the others; resolves with its id between nodes. */
  async send(message: RelayMessage): Promise<string> {
    const cluster = this.cluster;
    const id = uniqueId();
    const headers: Headers = { ...cluster.originHeaders(), [ID_HEADER]: id, [QOS_HEADER]: String(message.qos) };
    if (message.retain) headers[RETAIN_HEADER] = '1';
    if (message.expiryMs !== undefined) headers[EXPIRY_HEADER] = String(message.expiryMs);
    if (message.priority !== undefined) headers[PRIORITY_HEADER] = message.priority;
    const data = encodePayload(message.payload, headers);
    const prefix = cluster.subject(message.qos === 0 ? 'msg' : 'durable');
    const subject = topicSubject(prefix, message.topic);
    if (message.qos === 0) {
      if (cluster.engine.connected) cluster.engine.publish(subject, data, headers);
    } else {
      try {
        await cluster.engine.durablePublish(subject, data, headers, id, cluster.options.publishTimeoutMs);
      } catch (error) {
        if ((error as HybridwireError).code === 'HW_ERR_CLUSTER_UNAVAILABLE') cluster.counters.unavailable++;
        throw error;
      }
    }
    if (message.retain) {
      // Stored before a QoS >= 1 publish is acknowledged; at QoS 0 as best it can.
      const stored = this.storeRetained(message.topic, data, headers);
      if (message.qos === 0) void stored.catch(() => {});
      else {
        try {
          await stored;
        } catch (error) {
          cluster.counters.unavailable++;
          throw new HybridwireError('HW_ERR_CLUSTER_UNAVAILABLE', `the cluster could not store the retained message: ${(error as Error).message}`, { cause: error });
        }
      }
    }
    cluster.counters.relayedOut++;
    return id;
  }

  private subscribe(filter: string): void {
    if (this.interests.has(filter)) return;
    const engine = this.cluster.engine;
    const interest: Interest = { core: [], durable: [] };
    this.interests.set(filter, interest);
    const since = new Date();
    for (const subject of filterSubjects(this.cluster.subject('msg'), filter)) {
      interest.core.push(engine.subscribe(subject, (message) => this.arrived(message)));
    }
    filterSubjects(this.cluster.subject('durable'), filter).forEach((subject, index) => {
      const name = `${this.nodeKey}_${hash(filter).slice(0, 20)}_${index}`;
      const subscription = engine.consumeDurable(name, subject, since, (message) => this.arrivedDurable(message)).catch(() => undefined);
      interest.durable.push({ name, subscription });
    });
  }

  private unsubscribe(filter: string): void {
    const interest = this.interests.get(filter);
    if (interest === undefined) return;
    this.interests.delete(filter);
    for (const subscription of interest.core) subscription.unsubscribe();
    for (const durable of interest.durable) {
      // Nobody here wants the filter any more: its consumer goes, with what it still held.
      void durable.subscription.then(async (subscription) => {
        subscription?.unsubscribe();
        await this.cluster.engine.deleteDurable(durable.name);
      });
    }
  }

  /** A QoS 0 message from another node. */
  private arrived(message: EngineMessage): void {
    this.hand(message);
  }

  private arrivedDurable(message: DurableMessage): void {
    this.hand(message);
    void message.ack();
  }

  /** Hands a message from another node to the broker, once per id. */
  private hand(message: EngineMessage): void {
    const headers = message.headers;
    if (this.cluster.fromSelf(headers)) return;
    const id = headers[ID_HEADER];
    if (id === undefined || this.delivered.has(id)) return;
    this.remember(id);
    let relayed: RelayMessage;
    try {
      relayed = this.decode(message);
    } catch {
      return;
    }
    this.cluster.counters.relayedIn++;
    this.broker.deliverLocal(relayed, this.cluster.name, id);
  }

  private decode(message: EngineMessage): RelayMessage {
    const headers = message.headers;
    const qos = Number(headers[QOS_HEADER]);
    if (qos !== 0 && qos !== 1 && qos !== 2) throw new HybridwireError('HW_ERR_BAD_MESSAGE', 'bad QoS in a cluster message');
    const topicPrefix = this.cluster.subject(qos === 0 ? 'msg' : 'durable');
    const relayed: RelayMessage = { topic: subjectTopic(topicPrefix, message.subject), payload: decodePayload(message.data, headers), qos, retain: headers[RETAIN_HEADER] === '1' };
    const expiry = Number(headers[EXPIRY_HEADER]);
    if (headers[EXPIRY_HEADER] !== undefined && Number.isFinite(expiry)) relayed.expiryMs = expiry;
    const priority = headers[PRIORITY_HEADER];
    if (priority === 'high' || priority === 'normal' || priority === 'low') relayed.priority = priority;
    return relayed;
  }

  private remember(id: string): void {
    this.delivered.add(id);
    if (this.delivered.size > this.cluster.options.maxRememberedIds) {
      const oldest = this.delivered.values().next().value;
      if (oldest !== undefined) this.delivered.delete(oldest);
    }
  }

  private retainedBucket(): string {
    return `${this.cluster.options.subjectPrefix}_retained`;
  }

  /** Retained messages of every node in one bucket: the topic and the message in the value, keyed by the topic's hash. */
  private async storeRetained(topic: string, data: Uint8Array, headers: Headers): Promise<void> {
    const value = Buffer.from(JSON.stringify({ topic, headers, data: Buffer.from(data).toString('base64') }));
    await this.cluster.engine.kvPut(this.retainedBucket(), hash(topic), value);
  }

  private retainedArrived(sink: RetainedSink, value: Uint8Array): void {
    try {
      const entry = JSON.parse(Buffer.from(value).toString('utf8')) as { topic: string; headers: Headers; data: string };
      // This node's own retained messages are in its store already.
      if (entry.headers[ORIGIN_HEADER] === this.cluster.instance) return;
      const payload = decodePayload(Buffer.from(entry.data, 'base64'), entry.headers);
      sink.setRetained({ topic: entry.topic, payload, qos: Number(entry.headers[QOS_HEADER]) as QoS, retain: true });
    } catch {
      // A value this code did not write is ignored.
    }
  }
}

function hash(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}
