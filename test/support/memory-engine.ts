/**
 * An in-memory ClusterEngine (ts/cluster/engine.ts) for unit tests of the cluster's modules: one
 * MemoryNats stands for the NATS server, and each connect() gives a node its own MemoryEngine.
 *
 * What it keeps of NATS:
 * - subjects are `.`-separated tokens; in a subscription `*` matches one token and `>` one or more
 *   at the end (`a.>` matches `a.b` and `a.b.c`, not `a`);
 * - core publish is at most once and, like NatsEngine (`noEcho`), does not come back to the
 *   engine that sent it unless that engine was connected with `{ echo: true }`;
 * - durablePublish stores a message once per id (de-duplication without a window) and hands it to
 *   every durable consumer whose filter matches; a consumer keeps what it has not acknowledged and
 *   delivers it again, marked `redelivered`, when it is taken up again (consumeDurable with the same
 *   name) or when the test calls redeliver() (what NATS does after ackWait);
 * - key-value buckets with kvEntries filters (NATS wildcards on keys) and watches.
 *
 * Deliveries are asynchronous, in order, through one queue, as from a socket: nothing reaches a
 * handler inside the call that sent it. flush() (on the server or an engine) resolves once the
 * queue is empty, which is how tests wait for deliveries without sleeping.
 *
 * Not kept: timeouts (a durablePublish or a key-value call while disconnected rejects at once, as
 * the real one does once its timeout has passed), the de-duplication window, stream limits.
 */
import { HybridwireError } from '../../ts/errors.js';
import type { ClusterEngine, DurableMessage, EngineMessage, EngineStats, EngineStatus, Headers, Subscription } from '../../ts/cluster/engine.js';

/** NATS subject matching: `*` one token, `>` (last) one or more tokens. */
export function subjectMatches(filter: string, subject: string): boolean {
  const filterTokens = filter.split('.');
  const subjectTokens = subject.split('.');
  for (let index = 0; index < filterTokens.length; index++) {
    const token = filterTokens[index];
    if (token === '>' && index === filterTokens.length - 1) return subjectTokens.length > index;
    if (index >= subjectTokens.length) return false;
    if (token !== '*' && token !== subjectTokens[index]) return false;
  }
  return filterTokens.length === subjectTokens.length;
}

interface CoreSubscription {
  engine: MemoryEngine;
  subject: string;
  handler: (message: EngineMessage) => void;
}

interface Server {
  engine: MemoryEngine;
  subject: string;
  handler: (message: EngineMessage) => Promise<{ data: Uint8Array; headers?: Headers }>;
}

export interface StoredMessage {
  sequence: number;
  subject: string;
  data: Uint8Array;
  headers: Headers;
  id: string;
  storedAt: number;
}

export interface DurableConsumer {
  name: string;
  subject: string;
  /** Messages stored before this (ms) are not for this consumer. */
  since: number;
  /** Sequences acknowledged. */
  readonly acked: Set<number>;
  /** Times each sequence was delivered. */
  readonly deliveries: Map<number, number>;
  /** The reader while one is attached. */
  reader: { engine: MemoryEngine; handler: (message: DurableMessage) => void } | undefined;
}

interface Watch {
  engine: MemoryEngine;
  bucket: string;
  listener: (key: string, value: Uint8Array | undefined) => void;
}

export class MemoryNats {
  readonly subscriptions = new Set<CoreSubscription>();
  readonly servers = new Set<Server>();
  /** The stream: every message durablePublish stored, in order. */
  readonly stored: StoredMessage[] = [];
  readonly consumers = new Map<string, DurableConsumer>();
  readonly buckets = new Map<string, Map<string, Uint8Array>>();
  private readonly watches = new Set<Watch>();
  private readonly storedIds = new Set<string>();
  /** While true, acknowledgements are lost (as when the connection drops before NATS records them). */
  loseAcks = false;
  private queue: Promise<void> = Promise.resolve();
  private queued = 0;

  connect(options: { echo?: boolean } = {}): MemoryEngine {
    return new MemoryEngine(this, options.echo ?? false);
  }

  /** Resolves once every delivery queued so far, and those they queued in turn, has run. */
  async flush(): Promise<void> {
    while (this.queued > 0) await this.queue;
  }

  /** Runs `delivery` after everything queued before it (never inside the caller). */
  enqueue(delivery: () => void): void {
    this.queued++;
    this.queue = this.queue.then(() => {
      this.queued--;
      try {
        delivery();
      } catch {
        // A handler that throws is its own business, as with a NATS callback.
      }
    });
  }

  /** The subjects the engine subscribes now (core subscriptions), sorted. */
  subjectsOf(engine: MemoryEngine): string[] {
    return [...this.subscriptions].filter((entry) => entry.engine === engine).map((entry) => entry.subject).sort();
  }

  /** Delivers again every stored message an attached consumer has not acknowledged (what NATS does after ackWait). */
  redeliver(): void {
    for (const consumer of this.consumers.values()) this.deliverPending(consumer);
  }

  publishCore(from: MemoryEngine, subject: string, data: Uint8Array, headers: Headers): void {
    for (const entry of this.subscriptions) {
      if (!entry.engine.connected || (entry.engine === from && !from.echo) || !subjectMatches(entry.subject, subject)) continue;
      const message = { subject, data: Uint8Array.from(data), headers: { ...headers } };
      this.enqueue(() => {
        if (this.subscriptions.has(entry)) entry.handler(message);
      });
    }
  }

  store(subject: string, data: Uint8Array, headers: Headers, id: string): void {
    if (this.storedIds.has(id)) return;
    this.storedIds.add(id);
    const message: StoredMessage = { sequence: this.stored.length + 1, subject, data: Uint8Array.from(data), headers: { ...headers }, id, storedAt: Date.now() };
    this.stored.push(message);
    for (const consumer of this.consumers.values()) if (this.isFor(consumer, message)) this.deliver(consumer, message);
  }

  attach(name: string, subject: string, since: Date, engine: MemoryEngine, handler: (message: DurableMessage) => void): Subscription {
    let consumer = this.consumers.get(name);
    if (consumer === undefined) {
      consumer = { name, subject, since: since.getTime(), acked: new Set(), deliveries: new Map(), reader: undefined };
      this.consumers.set(name, consumer);
    }
    const reader = { engine, handler };
    consumer.reader = reader;
    const attached = consumer;
    this.deliverPending(attached);
    return {
      unsubscribe: () => {
        if (attached.reader === reader) attached.reader = undefined;
      },
    };
  }

  deleteConsumer(name: string): void {
    const consumer = this.consumers.get(name);
    if (consumer !== undefined) consumer.reader = undefined;
    this.consumers.delete(name);
  }

  kvPut(bucket: string, key: string, value: Uint8Array): void {
    let entries = this.buckets.get(bucket);
    if (entries === undefined) this.buckets.set(bucket, (entries = new Map()));
    entries.set(key, Uint8Array.from(value));
    this.notify(bucket, key, Uint8Array.from(value));
  }

  kvDelete(bucket: string, key: string): void {
    this.buckets.get(bucket)?.delete(key);
    this.notify(bucket, key, undefined);
  }

  kvEntries(bucket: string, keyFilter: string): Array<{ key: string; value: Uint8Array }> {
    return [...(this.buckets.get(bucket) ?? new Map<string, Uint8Array>())]
      .filter(([key]) => subjectMatches(keyFilter, key))
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([key, value]) => ({ key, value: Uint8Array.from(value) }));
  }

  watch(watch: Watch): Subscription {
    this.watches.add(watch);
    for (const [key, value] of this.buckets.get(watch.bucket) ?? []) {
      const copy = Uint8Array.from(value);
      this.enqueue(() => {
        if (this.watches.has(watch)) watch.listener(key, copy);
      });
    }
    return { unsubscribe: () => this.watches.delete(watch) };
  }

  drop(engine: MemoryEngine): void {
    for (const entry of this.subscriptions) if (entry.engine === engine) this.subscriptions.delete(entry);
    for (const server of this.servers) if (server.engine === engine) this.servers.delete(server);
    for (const watch of this.watches) if (watch.engine === engine) this.watches.delete(watch);
    for (const consumer of this.consumers.values()) if (consumer.reader?.engine === engine) consumer.reader = undefined;
  }

  private notify(bucket: string, key: string, value: Uint8Array | undefined): void {
    for (const watch of this.watches) {
      if (watch.bucket !== bucket || !watch.engine.connected) continue;
      this.enqueue(() => {
        if (this.watches.has(watch)) watch.listener(key, value);
      });
    }
  }

  private isFor(consumer: DurableConsumer, message: StoredMessage): boolean {
    return message.storedAt >= consumer.since && subjectMatches(consumer.subject, message.subject) && !consumer.acked.has(message.sequence);
  }

  private deliverPending(consumer: DurableConsumer): void {
    for (const message of this.stored) if (this.isFor(consumer, message)) this.deliver(consumer, message);
  }

  private deliver(consumer: DurableConsumer, message: StoredMessage): void {
    const reader = consumer.reader;
    if (reader === undefined || !reader.engine.connected) return;
    const times = consumer.deliveries.get(message.sequence) ?? 0;
    consumer.deliveries.set(message.sequence, times + 1);
    const delivered: DurableMessage = {
      subject: message.subject,
      data: Uint8Array.from(message.data),
      headers: { ...message.headers },
      redelivered: times > 0,
      ack: () => {
        if (!this.loseAcks) consumer.acked.add(message.sequence);
        return Promise.resolve();
      },
    };
    this.enqueue(() => {
      if (consumer.reader === reader) reader.handler(delivered);
    });
  }
}

export class MemoryEngine implements ClusterEngine {
  private isConnected = true;
  private closed = false;
  private readonly listeners: Array<(status: EngineStatus) => void> = [];
  private readonly counters = { reconnects: 0 };

  constructor(
    readonly nats: MemoryNats,
    readonly echo: boolean,
  ) {}

  get connected(): boolean {
    return this.isConnected && !this.closed;
  }

  /** Cuts this engine off from the server (false) or brings it back (true), telling onStatus listeners. */
  setConnected(connected: boolean): void {
    if (connected && !this.isConnected) this.counters.reconnects++;
    this.isConnected = connected;
    for (const listener of this.listeners) listener(connected ? 'connected' : 'disconnected');
  }

  stats(): EngineStats {
    return { ...this.counters };
  }

  onStatus(listener: (status: EngineStatus) => void): void {
    this.listeners.push(listener);
  }

  publish(subject: string, data: Uint8Array, headers: Headers = {}): void {
    if (this.connected) this.nats.publishCore(this, subject, data, headers);
  }

  subscribe(subject: string, handler: (message: EngineMessage) => void): Subscription {
    const entry = { engine: this, subject, handler };
    this.nats.subscriptions.add(entry);
    return { unsubscribe: () => void this.nats.subscriptions.delete(entry) };
  }

  async request(subject: string, data: Uint8Array, headers: Headers, _timeoutMs: number): Promise<EngineMessage> {
    this.ensureConnected();
    const server = [...this.nats.servers].find((candidate) => candidate.engine.connected && subjectMatches(candidate.subject, subject));
    if (server === undefined) throw new HybridwireError('HW_ERR_NOT_CONNECTED', `nobody serves ${subject}`);
    await this.nats.flush();
    const answer = await server.handler({ subject, data: Uint8Array.from(data), headers: { ...headers } });
    return { subject, data: answer.data, headers: answer.headers ?? {} };
  }

  serve(subject: string, handler: (message: EngineMessage) => Promise<{ data: Uint8Array; headers?: Headers }>): Subscription {
    const server = { engine: this, subject, handler };
    this.nats.servers.add(server);
    return { unsubscribe: () => void this.nats.servers.delete(server) };
  }

  async durablePublish(subject: string, data: Uint8Array, headers: Headers, id: string, timeoutMs: number): Promise<void> {
    this.ensureConnected(`the cluster could not store the message within ${timeoutMs} ms`);
    this.nats.store(subject, data, headers, id);
  }

  async consumeDurable(name: string, subject: string, since: Date, handler: (message: DurableMessage) => void): Promise<Subscription> {
    this.ensureConnected();
    return this.nats.attach(name, subject, since, this, handler);
  }

  async deleteDurable(name: string): Promise<void> {
    this.ensureConnected();
    this.nats.deleteConsumer(name);
  }

  async kvPut(bucket: string, key: string, value: Uint8Array): Promise<void> {
    this.ensureConnected();
    this.nats.kvPut(bucket, key, value);
  }

  async kvDelete(bucket: string, key: string): Promise<void> {
    this.ensureConnected();
    this.nats.kvDelete(bucket, key);
  }

  async kvEntries(bucket: string, keyFilter: string): Promise<Array<{ key: string; value: Uint8Array }>> {
    this.ensureConnected();
    return this.nats.kvEntries(bucket, keyFilter);
  }

  async kvWatch(bucket: string, listener: (key: string, value: Uint8Array | undefined) => void): Promise<Subscription> {
    this.ensureConnected();
    return this.nats.watch({ engine: this, bucket, listener });
  }

  async flush(): Promise<void> {
    await this.nats.flush();
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.nats.drop(this);
    for (const listener of this.listeners) listener('closed');
  }

  private ensureConnected(what = 'the cluster engine is away'): void {
    if (!this.connected) throw new HybridwireError('HW_ERR_CLUSTER_UNAVAILABLE', what);
  }
}
