/**
 * What the cluster needs from the engine that carries messages between nodes. NATS implements it
 * (nats-engine.ts); another engine would implement the same few calls. Subjects are NATS-style
 * (`.`-separated tokens, `*` one token, `>` the rest): an engine without them maps them itself.
 */

/** Metadata that travels with a message (short ASCII strings). */
export type Headers = Record<string, string>;

export interface EngineMessage {
  subject: string;
  data: Uint8Array;
  headers: Headers;
}

/** A message from a durable consumer: acknowledge it once it has been handed on. */
export interface DurableMessage extends EngineMessage {
  /** True when the engine delivered it before (its acknowledgement was not recorded). */
  redelivered: boolean;
  /** Resolves once the engine has recorded the acknowledgement. */
  ack(): Promise<void>;
}

export interface Subscription {
  unsubscribe(): void;
}

export type EngineStatus = 'connected' | 'disconnected' | 'reconnecting' | 'closed';

export interface EngineStats {
  reconnects: number;
}

export interface ClusterEngine {
  /** True while the engine is reachable. */
  readonly connected: boolean;
  stats(): EngineStats;
  /** Called when the connection state changes. */
  onStatus(listener: (status: EngineStatus) => void): void;

  /** At most once: dropped if nobody listens or the engine is away. */
  publish(subject: string, data: Uint8Array, headers?: Headers): void;
  subscribe(subject: string, handler: (message: EngineMessage) => void): Subscription;

  /**
   * Asks whoever serves `subject` (one of them) and resolves with the answer; rejects with
   * HW_ERR_NOT_CONNECTED when nobody serves it, HW_ERR_REQUEST_TIMEOUT after `timeoutMs`.
   */
  request(subject: string, data: Uint8Array, headers: Headers, timeoutMs: number): Promise<EngineMessage>;
  /**
   * Serves requests to `subject`: the handler's result is the answer. Unsubscribing drains: a
   * request that reached the engine before the unsubscription is still answered.
   */
  serve(subject: string, handler: (message: EngineMessage) => Promise<{ data: Uint8Array; headers?: Headers }>): Subscription;

  /**
   * Stores a message durably; resolves once stored. The same `id` within the engine's
   * de-duplication window is stored once (a retry after a lost answer is harmless). Rejects with
   * HW_ERR_CLUSTER_UNAVAILABLE when it could not be stored within `timeoutMs`, retrying meanwhile.
   */
  durablePublish(subject: string, data: Uint8Array, headers: Headers, id: string, timeoutMs: number): Promise<void>;
  /**
   * Delivers the stored messages on `subject` (wildcards allowed) published from `since` on, and
   * those not yet acknowledged by the consumer `name` (which survives restarts of the engine and of
   * this node: an existing consumer goes on where it was). Each message is redelivered until
   * acknowledged.
   */
  consumeDurable(name: string, subject: string, since: Date, handler: (message: DurableMessage) => void): Promise<Subscription>;
  /** Removes a durable consumer that is no longer wanted. */
  deleteDurable(name: string): Promise<void>;

  /** A key-value map shared by all nodes (retained messages, wills). Keys: [-_=A-Za-z0-9] and `.`. */
  kvPut(bucket: string, key: string, value: Uint8Array): Promise<void>;
  kvDelete(bucket: string, key: string): Promise<void>;
  /** The current entries whose keys match `keyFilter` (NATS wildcards). */
  kvEntries(bucket: string, keyFilter: string): Promise<Array<{ key: string; value: Uint8Array }>>;
  /** Calls `listener` with every entry as it is now and every change after (value undefined: deleted). */
  kvWatch(bucket: string, listener: (key: string, value: Uint8Array | undefined) => void): Promise<Subscription>;

  /** Resolves once the engine has processed everything sent before (subscriptions included). */
  flush(): Promise<void>;
  /** Waits for what was published to reach the engine, then disconnects. */
  close(): Promise<void>;
}
