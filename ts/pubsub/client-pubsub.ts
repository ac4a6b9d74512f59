/**
 * Pub/sub on a client (docs/PROTOCOL.md, section 10): subscribe, unsubscribe and publish over the
 * session, the client's side of QoS 1 and 2 (acknowledging deliveries, deduplicating QoS 2 ones,
 * resending its own unacknowledged publishes after a reconnect), and the pub/sub session (CONNECT:
 * cleanSession, sessionExpiryMs, will) each time the client's session opens.
 */
import { HybridwireError, RemoteError } from '../errors.js';
import { integerOption } from '../api/option-ranges.js';
import type { Connection } from '../session/connection.js';
import { Encoding, bodyOf, encodingOf, type Payload } from '../session/message.js';
import { TopicTrie } from './topic-trie.js';
import { DEFAULT_TOPIC_LIMITS, checkTopic, filterName, parseFilter } from './topics.js';
import { Subscription } from './subscription.js';
import { PUBSUB_FEATURE, PubsubType, decodeAck, decodeRecord, encodeAck, encodeRecord, markDup, payloadOf, type PubsubMessage, type QoS } from './wire.js';
import { checkPublishOptions, checkSubscribeOptions, checkWill, encodeConnectRequest, type PublishOptions, type SubscribeOptions, type WillOptions } from './pubsub-options.js';
import type { SubscriptionOptions } from './stores.js';

export interface PubsubClientOptions {
  /**
   * false: the server keeps this client's subscriptions and queues its QoS ≥ 1 messages while it
   * is away (needs a clientId), for sessionExpiryMs. Default true.
   */
  cleanSession?: boolean;
  /** How long the server keeps a persistent session after its connection ends. Default 1 hour. */
  sessionExpiryMs?: number;
  /** Published by the server if this client's session ends without close(). */
  will?: WillOptions;
}

/** What the pub/sub side needs of its client. */
export interface PubsubClientHost {
  readonly connection: Connection | undefined;
  readonly state: string;
  emit(event: 'publish', message: PubsubMessage): boolean;
  emit(event: 'error', error: Error): boolean;
  listenerCount(event: 'error'): number;
}

interface PendingPublish {
  record: Buffer;
  qos: QoS;
  /** QoS 2: PUBREC came, PUBREL sent, waiting for PUBCOMP. */
  released: boolean;
  resolve: () => void;
  reject: (error: Error) => void;
}

interface ActiveFilter {
  options: SubscriptionOptions;
  /** The normalized filter matched against delivered topics. */
  filter: string;
  subscriptions: Set<Subscription>;
}

/** Topics whose subscriptions are cached at once; past it the cache starts again. */
const MAX_CACHED_TOPICS = 1024;
/** QoS 2 deliveries a client remembers until released; a server that leaves more unreleased is cut off. */
const MAX_RECEIVED_QOS2 = 65_536;

export class ClientPubsub {
  private readonly cleanSession: boolean;
  private readonly sessionExpiryMs: number;
  private readonly will: WillOptions | undefined;
  private readonly pending = new Map<number, PendingPublish>();
  private readonly received = new Set<number>();
  private readonly filters = new Map<string, ActiveFilter>();
  private readonly matcher = new TopicTrie<Subscription>();
  /** The subscriptions each recent topic reaches, until a subscription changes (bounded). */
  private readonly reached = new Map<string, Subscription[]>();
  private readonly subscriptionIds = new WeakMap<Subscription, string>();
  private nextSubscriptionId = 0;
  private nextId = 0;
  /** Deliveries held until connect() has resolved, so that on('publish') bound after it sees them. */
  private held: PubsubMessage[] | undefined = [];

  constructor(
    private readonly client: PubsubClientHost,
    handlers: { setProtocol(type: string, handler: (payload: unknown) => unknown): void },
    options: PubsubClientOptions,
    private readonly maxPending: number,
    private readonly clientId: string | undefined,
  ) {
    const clean = options.cleanSession ?? true;
    if (typeof clean !== 'boolean') throw new HybridwireError('HW_ERR_INVALID_OPTION', 'option cleanSession must be a boolean');
    if (!clean && clientId === undefined) throw new HybridwireError('HW_ERR_INVALID_OPTION', 'option cleanSession: false needs a clientId, which names the session');
    this.cleanSession = clean;
    this.sessionExpiryMs = integerOption('sessionExpiryMs', options.sessionExpiryMs);
    this.will = checkWill(options.will, DEFAULT_TOPIC_LIMITS);
    handlers.setProtocol(PubsubType.MESSAGE, (record: unknown) => this.delivered(record));
    handlers.setProtocol(PubsubType.PUBREL, (ack: unknown) => {
      const { id } = decodeAck(ack);
      this.received.delete(id);
      this.sendAck(PubsubType.PUBCOMP, id);
    });
    handlers.setProtocol(PubsubType.PUBACK, (ack: unknown) => this.acknowledged(ack, 1));
    handlers.setProtocol(PubsubType.PUBREC, (ack: unknown) => this.acknowledged(ack, 2));
    handlers.setProtocol(PubsubType.PUBCOMP, (ack: unknown) => {
      const { id } = decodeAck(ack);
      const entry = this.pending.get(id);
      if (entry === undefined || !entry.released) return;
      this.pending.delete(id);
      entry.resolve();
    });
  }

  /**
   * The client's session has opened (first connect or a reconnect): CONNECT when the client has a
   * clientId or a will; subscriptions again when the server has none of them; then the
   * publishes still unacknowledged, in order.
   */
  async sessionOpened(): Promise<void> {
    const connection = this.client.connection!;
    let present = false;
    // With a clientId the server may hold an older session of this client: CONNECT says whether to
    // keep it. A server without pub/sub is not asked.
    if (!connection.features.has(PUBSUB_FEATURE)) return;
    if (this.clientId !== undefined || this.will !== undefined) {
      const answer = (await connection.request(PubsubType.CONNECT, encodeConnectRequest(this.cleanSession, this.sessionExpiryMs, this.will) as Payload, undefined, undefined)) as { sessionPresent?: unknown };
      present = answer?.sessionPresent === true;
    }
    if (!present) {
      await Promise.all([...this.filters].map(([name, active]) => connection.request(PubsubType.SUBSCRIBE, { filter: name, ...active.options }, undefined, undefined)));
    }
    for (const [id, entry] of this.pending) {
      if (entry.released) this.sendAck(PubsubType.PUBREL, id);
      else this.sendRecord(markDup(entry.record));
    }
  }

  /** connect() has resolved: held deliveries go out, after the caller's next statements. */
  release(): void {
    setImmediate(() => {
      const held = this.held;
      this.held = undefined;
      if (held) for (const message of held) this.dispatch(message);
    });
  }

  /** close() was called: the session ends cleanly, so the server drops the will. */
  closing(): void {
    const connection = this.client.connection;
    if (this.will === undefined || connection === undefined || connection.state !== 'open') return;
    connection.sendEncoded(PubsubType.DISCONNECT, Encoding.EMPTY, new Uint8Array(0));
  }

  /** The client is closed for good: what waits fails, iterations end. */
  ended(error: Error | undefined): void {
    const failure = new HybridwireError('HW_ERR_CONNECTION_CLOSED', `the client closed before the publish was acknowledged${error ? `: ${error.message}` : ''}`, { cause: error });
    for (const entry of this.pending.values()) entry.reject(failure);
    this.pending.clear();
    for (const active of this.filters.values()) for (const subscription of active.subscriptions) subscription.end();
    this.filters.clear();
  }

  async subscribe(filter: string, handler: ((message: PubsubMessage) => void) | undefined, options: SubscribeOptions | undefined): Promise<Subscription> {
    const parsed = parseFilter(filter, DEFAULT_TOPIC_LIMITS);
    const subscriptionOptions = checkSubscribeOptions(options);
    if (handler !== undefined && typeof handler !== 'function') throw new HybridwireError('HW_ERR_INVALID_ARGUMENT', 'handler must be a function');
    const name = filterName(parsed);
    const connection = this.connected();
    // Bound before the request: retained messages may arrive in the same read as its answer.
    const subscription = new Subscription(filter, subscriptionOptions.qos, handler, (s) => this.remove(s));
    let active = this.filters.get(name);
    if (active === undefined) {
      active = { options: subscriptionOptions, filter: parsed.filter, subscriptions: new Set() };
      this.filters.set(name, active);
    }
    active.subscriptions.add(subscription);
    const key = String(++this.nextSubscriptionId);
    this.subscriptionIds.set(subscription, `${name}\u0000${key}`);
    this.matcher.set(parsed.filter, key, subscription);
    this.reached.clear();
    try {
      const answer = (await connection.request(PubsubType.SUBSCRIBE, { filter: name, ...subscriptionOptions }, undefined, undefined)) as { qos?: unknown };
      subscription.qos = typeof answer?.qos === 'number' ? answer.qos : subscriptionOptions.qos;
    } catch (error) {
      subscription.end();
      this.forget(subscription, active);
      if (active.subscriptions.size === 0 && this.filters.get(name) === active) this.filters.delete(name);
      throw error;
    }
    active.options = subscriptionOptions;
    return subscription;
  }

  /** Ends every Subscription of `filter` and the server's subscription. */
  async unsubscribe(filter: string): Promise<void> {
    const name = filterName(parseFilter(filter, DEFAULT_TOPIC_LIMITS));
    const active = this.filters.get(name);
    if (active !== undefined) {
      for (const subscription of active.subscriptions) {
        subscription.end();
        this.forget(subscription, active);
      }
      this.filters.delete(name);
    }
    await this.connected().request(PubsubType.UNSUBSCRIBE, { filter: name }, undefined, undefined);
  }

  publish(topic: string, payload: Payload, options: PublishOptions | undefined): Promise<void> {
    try {
      const { qos, retain, expiryMs } = checkPublishOptions(options);
      checkTopic(topic, DEFAULT_TOPIC_LIMITS, false);
      const encoding = encodingOf(payload);
      const id = qos === 0 ? 0 : this.newId();
      const record = encodeRecord(qos, retain, false, id, topic, encoding, bodyOf(payload, encoding), expiryMs);
      if (qos === 0) {
        this.connected();
        this.sendRecord(record, options?.priority);
        return Promise.resolve();
      }
      if (this.client.state === 'closed' || this.client.state === 'closing') this.connected();
      if (this.pending.size >= this.maxPending) {
        throw new HybridwireError('HW_ERR_TOO_MANY_REQUESTS', `maxPendingRequests (${this.maxPending}) publishes already await their acknowledgement`);
      }
      return new Promise<void>((resolve, reject) => {
        this.pending.set(id, { record, qos, released: false, resolve, reject });
        // While reconnecting it waits, and goes with the next session (sessionOpened).
        if (this.client.connection?.state === 'open') this.sendRecord(record, options?.priority);
      });
    } catch (error) {
      return Promise.reject(error);
    }
  }

  private connected(): Connection {
    const connection = this.client.connection;
    if (connection === undefined || connection.state !== 'open') throw new HybridwireError('HW_ERR_NOT_CONNECTED', `client is ${this.client.state}`);
    return connection;
  }

  private newId(): number {
    do this.nextId = this.nextId >= 0xffffffff ? 1 : this.nextId + 1;
    while (this.pending.has(this.nextId));
    return this.nextId;
  }

  private sendRecord(record: Buffer, priority?: string): void {
    this.connected().sendEncoded(PubsubType.PUBLISH, Encoding.BINARY, record, priority === undefined ? undefined : ({ priority } as object));
  }

  private sendAck(type: string, id: number): void {
    const connection = this.client.connection;
    if (connection?.state === 'open') connection.sendEncoded(type, Encoding.BINARY, encodeAck(id));
  }

  private acknowledged(ack: unknown, qos: QoS): void {
    const { id, code } = decodeAck(ack);
    const entry = this.pending.get(id);
    if (entry === undefined || entry.qos !== qos) return;
    if (code !== undefined) {
      this.pending.delete(id);
      entry.reject(new RemoteError(code, `the server refused the publish: ${code}`));
      return;
    }
    if (qos === 1) {
      this.pending.delete(id);
      entry.resolve();
      return;
    }
    entry.released = true;
    this.sendAck(PubsubType.PUBREL, id);
  }

  private delivered(bytes: unknown): void {
    const record = decodeRecord(bytes as Uint8Array);
    const { qos, id } = record;
    if (qos === 2) {
      if (this.received.has(id)) {
        // Delivered already: the server did not hear our PUBREC (a reconnect). Exactly once.
        this.sendAck(PubsubType.PUBREC, id);
        return;
      }
      if (this.received.size >= MAX_RECEIVED_QOS2) throw new HybridwireError('HW_ERR_BAD_MESSAGE', `the server left more than ${MAX_RECEIVED_QOS2} QoS 2 deliveries unreleased`);
      this.received.add(id);
    }
    const payload = record.encoding === Encoding.BINARY ? Buffer.from(record.body) : payloadOf(record.encoding, record.body);
    const message: PubsubMessage = { topic: record.topic, payload, qos, retain: record.retain };
    if (this.held !== undefined) this.held.push(message);
    else this.dispatch(message);
    if (qos === 1) this.sendAck(PubsubType.PUBACK, id);
    else if (qos === 2) this.sendAck(PubsubType.PUBREC, id);
  }

  private dispatch(message: PubsubMessage): void {
    try {
      let subscriptions = this.reached.get(message.topic);
      if (subscriptions === undefined) {
        const found: Subscription[] = [];
        this.matcher.match(message.topic, (entries) => found.push(...entries.values()));
        if (this.reached.size >= MAX_CACHED_TOPICS) this.reached.clear();
        this.reached.set(message.topic, (subscriptions = found));
      }
      for (const subscription of subscriptions) subscription.push(message);
      this.client.emit('publish', message);
    } catch (error) {
      const failure = new HybridwireError('HW_ERR_HANDLER_FAILED', `a subscription's handler failed: ${(error as Error).message}`, { cause: error });
      if (this.client.listenerCount('error') > 0) this.client.emit('error', failure);
    }
  }

  private async remove(subscription: Subscription): Promise<void> {
    const key = this.subscriptionIds.get(subscription);
    if (key === undefined) return;
    const name = key.slice(0, key.indexOf('\u0000'));
    const active = this.filters.get(name);
    if (active === undefined) return;
    this.forget(subscription, active);
    if (active.subscriptions.size > 0) return;
    this.filters.delete(name);
    const connection = this.client.connection;
    if (connection?.state === 'open') await connection.request(PubsubType.UNSUBSCRIBE, { filter: name }, undefined, undefined);
  }

  private forget(subscription: Subscription, active: ActiveFilter): void {
    const key = this.subscriptionIds.get(subscription);
    if (key === undefined) return;
    active.subscriptions.delete(subscription);
    this.matcher.delete(active.filter, key.slice(key.indexOf('\u0000') + 1));
    this.reached.clear();
    this.subscriptionIds.delete(subscription);
  }
}
