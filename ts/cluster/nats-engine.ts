/**
 * The cluster engine over NATS, with the `nats` package (nats.js 2.x): core NATS for what is at
 * most once (QoS 0, broadcasts, heartbeats, requests to clients), JetStream for what must survive
 * (QoS 1 and 2: a file-backed stream with message-id de-duplication and durable consumers with
 * explicit acknowledgements) and JetStream key-value buckets (retained messages, wills).
 *
 * Why `nats` 2.x and not `@nats-io/transport-node` 3.x: nats 2.x is one package (core, JetStream
 * and KV) that declares Node >= 14 and runs on Node 20, which this project supports; the 3.x
 * packages pull in @nats-io/nuid 3, which declares Node >= 22. Both speak the same protocol to the
 * same servers; moving to 3.x later changes this file only.
 */
import { randomUUID } from 'node:crypto';
import {
  AckPolicy,
  DeliverPolicy,
  ErrorCode,
  RetentionPolicy,
  StorageType,
  connect,
  headers as natsHeaders,
  nanos,
  type ConnectionOptions,
  type JetStreamClient,
  type JetStreamManager,
  type KV,
  type MsgHdrs,
  type NatsConnection,
  type NatsError,
} from 'nats';
import { HybridwireError } from '../errors.js';
import type { ClusterEngine, DurableMessage, EngineMessage, EngineStats, EngineStatus, Headers, Subscription } from './engine.js';

export interface NatsEngineOptions {
  /** A server URL (`nats://127.0.0.1:4222`) or nats.js connection options. */
  nats: string | ConnectionOptions;
  /** The JetStream stream holding QoS >= 1 messages and the prefix of its subjects. */
  stream: string;
  /** Subjects the stream stores (e.g. `hybridwire.durable.>`). */
  streamSubjects: string[];
  /** How long the stream de-duplicates a message id (ms). */
  duplicateWindowMs: number;
  /** How long a delivered, unacknowledged message waits before it is delivered again (ms). */
  ackWaitMs: number;
  /** A durable consumer nobody reads for this long is removed by the server (ms). */
  consumerInactiveMs: number;
  /** Messages the stream keeps at most (oldest dropped first). */
  maxStreamMessages: number;
  /** Bounds the first connection attempt (ms). */
  connectTimeoutMs: number;
  /** The client's name, shown by nats-server. */
  name: string;
}

/** How often a durable publish retries while the engine is away. */
const RETRY_DELAY_MS = 200;

export class NatsEngine implements ClusterEngine {
  private readonly listeners: Array<(status: EngineStatus) => void> = [];
  private readonly kvs = new Map<string, Promise<KV>>();
  private readonly counters = { reconnects: 0 };
  private isConnected = true;
  private closed = false;

  private constructor(
    private readonly nc: NatsConnection,
    private readonly js: JetStreamClient,
    private readonly jsm: JetStreamManager,
    private readonly options: NatsEngineOptions,
  ) {
    void this.watchStatus();
  }

  /** Connects and makes sure the stream exists; rejects with HW_ERR_CLUSTER_UNAVAILABLE if NATS cannot be reached. */
  static async connect(options: NatsEngineOptions): Promise<NatsEngine> {
    const base: ConnectionOptions = typeof options.nats === 'string' ? { servers: options.nats } : options.nats;
    let nc: NatsConnection;
    try {
      nc = await connect({
        name: options.name,
        timeout: options.connectTimeoutMs,
        // Once connected, keep trying for as long as the node lives: a NATS restart must not end the cluster.
        maxReconnectAttempts: -1,
        reconnectTimeWait: 250,
        // A node hears its own publishes through its own broker, never back from NATS.
        noEcho: true,
        ...base,
      });
    } catch (error) {
      throw new HybridwireError('HW_ERR_CLUSTER_UNAVAILABLE', `cannot connect to NATS: ${(error as Error).message}`, { cause: error });
    }
    try {
      const jsm = await nc.jetstreamManager({ timeout: options.connectTimeoutMs });
      const config = {
        name: options.stream,
        subjects: options.streamSubjects,
        storage: StorageType.File,
        retention: RetentionPolicy.Limits,
        max_msgs: options.maxStreamMessages,
        duplicate_window: nanos(options.duplicateWindowMs),
      };
      try {
        await jsm.streams.info(options.stream);
        await jsm.streams.update(options.stream, config);
      } catch (error) {
        if ((error as NatsError).api_error?.err_code !== 10059) throw error;
        await jsm.streams.add(config);
      }
      return new NatsEngine(nc, nc.jetstream({ timeout: options.connectTimeoutMs }), jsm, options);
    } catch (error) {
      await nc.close().catch(() => {});
      throw new HybridwireError('HW_ERR_CLUSTER_UNAVAILABLE', `NATS JetStream is not available (start nats-server with -js): ${(error as Error).message}`, { cause: error });
    }
  }

  get connected(): boolean {
    return this.isConnected && !this.closed;
  }

  stats(): EngineStats {
    return { ...this.counters };
  }

  onStatus(listener: (status: EngineStatus) => void): void {
    this.listeners.push(listener);
  }

  publish(subject: string, data: Uint8Array, headers?: Headers): void {
    if (this.closed) return;
    this.nc.publish(subject, data, headers ? { headers: toNats(headers) } : undefined);
  }

  subscribe(subject: string, handler: (message: EngineMessage) => void): Subscription {
    const subscription = this.nc.subscribe(subject, {
      callback: (error, message) => {
        if (error) return;
        handler({ subject: message.subject, data: message.data, headers: fromNats(message.headers) });
      },
    });
    return { unsubscribe: () => subscription.unsubscribe() };
  }

  async request(subject: string, data: Uint8Array, headers: Headers, timeoutMs: number): Promise<EngineMessage> {
    try {
      const answer = await this.nc.request(subject, data, { timeout: timeoutMs, headers: toNats(headers) });
      return { subject: answer.subject, data: answer.data, headers: fromNats(answer.headers) };
    } catch (error) {
      const code = (error as NatsError).code;
      if (code === ErrorCode.NoResponders) throw new HybridwireError('HW_ERR_NOT_CONNECTED', `nobody serves ${subject}`);
      if (code === ErrorCode.Timeout) throw new HybridwireError('HW_ERR_REQUEST_TIMEOUT', `no answer from ${subject} in ${timeoutMs} ms`);
      throw new HybridwireError('HW_ERR_CLUSTER_UNAVAILABLE', `request over NATS failed: ${(error as Error).message}`, { cause: error });
    }
  }

  serve(subject: string, handler: (message: EngineMessage) => Promise<{ data: Uint8Array; headers?: Headers }>): Subscription {
    const subscription = this.nc.subscribe(subject, {
      callback: (error, message) => {
        if (error) return;
        void handler({ subject: message.subject, data: message.data, headers: fromNats(message.headers) })
          .then((answer) => {
            if (!this.closed) message.respond(answer.data, answer.headers ? { headers: toNats(answer.headers) } : undefined);
          })
          // A handler that failed, or an answer NATS refuses (past max_payload): the asker times out.
          .catch(() => {});
      },
    });
    return { unsubscribe: () => void subscription.drain().catch(() => {}) };
  }

  async durablePublish(subject: string, data: Uint8Array, headers: Headers, id: string, timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    let lastError: unknown;
    // The same id each time: JetStream stores it once even if an earlier attempt did land.
    while (!this.closed) {
      const remaining = deadline - Date.now();
      if (remaining <= 0) break;
      try {
        await this.js.publish(subject, data, { msgID: id, headers: toNats(headers), timeout: Math.max(1, Math.min(remaining, 2000)) });
        return;
      } catch (error) {
        lastError = error;
        const wait = Math.min(RETRY_DELAY_MS, deadline - Date.now());
        if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
      }
    }
    throw new HybridwireError('HW_ERR_CLUSTER_UNAVAILABLE', `the cluster could not store the message within ${timeoutMs} ms${lastError ? `: ${(lastError as Error).message}` : ''}`, { cause: lastError });
  }

  async consumeDurable(name: string, subject: string, since: Date, handler: (message: DurableMessage) => void): Promise<Subscription> {
    const config = {
      durable_name: name,
      filter_subject: subject,
      ack_policy: AckPolicy.Explicit,
      // From the moment the interest appeared, not from the consumer's creation a little later.
      deliver_policy: DeliverPolicy.StartTime,
      opt_start_time: since.toISOString(),
      ack_wait: nanos(this.options.ackWaitMs),
      inactive_threshold: nanos(this.options.consumerInactiveMs),
    };
    try {
      await this.jsm.consumers.info(this.options.stream, name);
    } catch {
      await this.jsm.consumers.add(this.options.stream, config);
    }
    const consumer = await this.js.consumers.get(this.options.stream, name);
    const messages = await consumer.consume({ max_messages: 256 });
    void (async () => {
      for await (const message of messages) {
        handler({
          subject: message.subject,
          data: message.data,
          headers: fromNats(message.headers),
          redelivered: message.redelivered,
          ack: async () => {
            await message.ackAck({ timeout: 5000 }).catch(() => false);
          },
        });
      }
    })().catch(() => {});
    return { unsubscribe: () => void messages.close().catch(() => {}) };
  }

  async deleteDurable(name: string): Promise<void> {
    await this.jsm.consumers.delete(this.options.stream, name).catch(() => {});
  }

  async kvPut(bucket: string, key: string, value: Uint8Array): Promise<void> {
    await (await this.kv(bucket)).put(key, value);
  }

  async kvDelete(bucket: string, key: string): Promise<void> {
    await (await this.kv(bucket)).delete(key);
  }

  async kvEntries(bucket: string, keyFilter: string): Promise<Array<{ key: string; value: Uint8Array }>> {
    const kv = await this.kv(bucket);
    const entries: Array<{ key: string; value: Uint8Array }> = [];
    for await (const key of await kv.keys(keyFilter)) {
      const entry = await kv.get(key);
      if (entry && entry.operation === 'PUT') entries.push({ key, value: entry.value });
    }
    return entries;
  }

  async kvWatch(bucket: string, listener: (key: string, value: Uint8Array | undefined) => void): Promise<Subscription> {
    const watch = await (await this.kv(bucket)).watch();
    void (async () => {
      for await (const entry of watch) listener(entry.key, entry.operation === 'PUT' ? entry.value : undefined);
    })().catch(() => {});
    return { unsubscribe: () => watch.stop() };
  }

  async flush(): Promise<void> {
    if (!this.closed) await this.nc.flush();
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    // Draining needs NATS; without it (or past the bound) the connection just closes.
    let timer: NodeJS.Timeout | undefined;
    const bound = new Promise<void>((resolve) => (timer = setTimeout(resolve, this.options.connectTimeoutMs)));
    const drained = this.isConnected ? this.nc.drain().catch(() => {}) : Promise.resolve();
    await Promise.race([drained, bound]);
    clearTimeout(timer);
    if (!this.nc.isClosed()) await this.nc.close().catch(() => {});
  }

  private kv(bucket: string): Promise<KV> {
    let kv = this.kvs.get(bucket);
    if (kv === undefined) {
      kv = this.js.views.kv(bucket, { history: 1 });
      // A failure (NATS away) is not remembered: the next call tries again.
      kv.catch(() => this.kvs.delete(bucket));
      this.kvs.set(bucket, kv);
    }
    return kv;
  }

  private async watchStatus(): Promise<void> {
    for await (const status of this.nc.status()) {
      if (status.type === 'disconnect') this.setStatus(false, 'disconnected');
      else if (status.type === 'reconnecting') this.setStatus(false, 'reconnecting');
      else if (status.type === 'reconnect') {
        this.counters.reconnects++;
        this.setStatus(true, 'connected');
      }
    }
    this.setStatus(false, 'closed');
  }

  private setStatus(connected: boolean, status: EngineStatus): void {
    this.isConnected = connected;
    for (const listener of this.listeners) listener(status);
  }
}

function toNats(headers: Headers): MsgHdrs {
  const result = natsHeaders();
  for (const [key, value] of Object.entries(headers)) result.set(key, value);
  return result;
}

function fromNats(headers: MsgHdrs | undefined): Headers {
  const result: Headers = {};
  if (headers) for (const [key, values] of headers) result[key] = values[0] ?? '';
  return result;
}

/** A unique id for a node process or a message (used for de-duplication). */
export function uniqueId(): string {
  return randomUUID();
}
