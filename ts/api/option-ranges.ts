/**
 * The integer options of servers and clients, each with its default and range, named once: the
 * objects that take them validate through this table, and loadConfig (ts/config) reads it to
 * parse, check and explain a configuration file without restating a range.
 */
import { DEFAULT_MAX_FRAME_SIZE, MAX_MAX_FRAME_SIZE } from '../codec/frame.js';
import { DEFAULT_ACK_DELAY_MS } from '../session/handshake.js';
import { checkInteger } from '../validate.js';

export interface IntegerRange {
  readonly default: number;
  readonly min: number;
  readonly max: number;
}

const HOUR_MS = 3_600_000;

/** The session limits of servers and clients alike (LimitOptions). */
export const LIMIT_RANGES = {
  compressThreshold: { default: 0, min: 0, max: 2 ** 32 },
  maxFrameSize: { default: DEFAULT_MAX_FRAME_SIZE, min: 1024, max: MAX_MAX_FRAME_SIZE },
  highWaterMark: { default: 1024 * 1024, min: 1, max: 2 ** 40 },
  maxQueueBytes: { default: 64 * 1024 * 1024, min: 1, max: 2 ** 40 },
  sendStallTimeoutMs: { default: 30_000, min: 1000, max: HOUR_MS },
  maxPendingRequests: { default: 4096, min: 1, max: 1_000_000 },
  maxPendingHandlers: { default: 1024, min: 1, max: 1_000_000 },
  maxAliasBytes: { default: 65_536, min: 256, max: 2 ** 30 },
  requestTimeoutMs: { default: 10_000, min: 0, max: HOUR_MS },
  closeTimeoutMs: { default: 5000, min: 0, max: HOUR_MS },
  windowSize: { default: 8192, min: 1, max: 1 << 20 },
  heartbeatIntervalMs: { default: 5000, min: 10, max: HOUR_MS },
  heartbeatTimeoutMs: { default: 15000, min: 20, max: HOUR_MS },
  mtu: { default: 1200, min: 256, max: 65_000 },
  udpMaxMtu: { default: 65_507, min: 256, max: 65_507 },
  udpWindowSize: { default: 16384, min: 1, max: 65_536 },
  udpSpan: { default: 16384, min: 1024, max: 65_536 },
  udpSendBufferBytes: { default: 4 * 1024 * 1024, min: 1024, max: 2 ** 30 },
  udpReassemblyBytes: { default: 4 * 1024 * 1024, min: 1024, max: 2 ** 30 },
  udpReassemblyTimeoutMs: { default: 5000, min: 1, max: HOUR_MS },
  udpSocketBufferBytes: { default: 4 * 1024 * 1024, min: 4096, max: 2 ** 30 },
  udpMaxAckDelayMs: { default: DEFAULT_ACK_DELAY_MS, min: 0, max: 1000 },
  udpMinRtoMs: { default: 100, min: 1, max: 60_000 },
  udpMaxRtoMs: { default: 60_000, min: 1, max: HOUR_MS },
  udpBatchDelayMs: { default: 0, min: 0, max: 1000 },
  autoProbeIntervalMs: { default: 1000, min: 10, max: 60_000 },
  autoBlockedAfterMs: { default: 2000, min: 10, max: HOUR_MS },
  autoMaxLossPercent: { default: 10, min: 0, max: 100 },
} as const satisfies Record<string, IntegerRange>;

/** The stream options of servers and clients alike (ts/streams/stream-options.ts). */
export const STREAM_RANGES = {
  maxStreams: { default: 100, min: 1, max: 1_000_000 },
  streamWindowBytes: { default: 256 * 1024, min: 1024, max: 0x7fffffff },
  maxStreamChunkBytes: { default: 64 * 1024, min: 256, max: 1024 * 1024 },
} as const satisfies Record<string, IntegerRange>;

/** Options of createServer() alone. */
export const SERVER_RANGES = {
  maxConnections: { default: 10_000, min: 1, max: 10_000_000 },
  maxPendingHandshakes: { default: 256, min: 1, max: 1_000_000 },
  handshakeTimeoutMs: { default: 5000, min: 1, max: HOUR_MS },
  udpReassemblyTotalBytes: { default: 64 * 1024 * 1024, min: 1024, max: 2 ** 40 },
  /** Permission bits of a local socket's file: by default its owner's alone. */
  pathMode: { default: 0o600, min: 0, max: 0o777 },
} as const satisfies Record<string, IntegerRange>;

/** The pub/sub options of createServer() (docs/PROTOCOL.md, section 10). */
export const PUBSUB_RANGES = {
  maxTopicBytes: { default: 65_535, min: 1, max: 65_535 },
  maxTopicLevels: { default: 128, min: 1, max: 65_535 },
  maxOfflineMessages: { default: 1000, min: 0, max: 10_000_000 },
  maxOfflineBytes: { default: 1024 * 1024, min: 0, max: 2 ** 40 },
  maxRetainedMessages: { default: 100_000, min: 0, max: 100_000_000 },
  maxSubscriptionsPerPeer: { default: 10_000, min: 1, max: 10_000_000 },
  maxInflight: { default: 1000, min: 1, max: 65_535 },
  retryIntervalMs: { default: 5000, min: 10, max: HOUR_MS },
  maxPersistentSessions: { default: 100_000, min: 0, max: 100_000_000 },
} as const satisfies Record<string, IntegerRange>;

/** Options of connect() alone; `reconnect.*` are the fields of its `reconnect` object. */
export const CLIENT_RANGES = {
  connectTimeoutMs: { default: 5000, min: 1, max: HOUR_MS },
  'reconnect.maxAttempts': { default: 10, min: 1, max: 1_000_000 },
  'reconnect.initialDelayMs': { default: 100, min: 1, max: HOUR_MS },
  'reconnect.maxDelayMs': { default: 10_000, min: 1, max: HOUR_MS },
  /** How long the server keeps a persistent session (cleanSession: false) after its connection ends. */
  sessionExpiryMs: { default: HOUR_MS, min: 0, max: 2 ** 31 - 1 },
} as const satisfies Record<string, IntegerRange>;

/** Options of createPool() alone (ts/pool); 0 turns a timer off where the minimum is 0. */
export const POOL_RANGES = {
  size: { default: 4, min: 1, max: 1024 },
  idleTimeoutMs: { default: 300_000, min: 0, max: 24 * HOUR_MS },
  maxLifetimeMs: { default: HOUR_MS, min: 0, max: 24 * HOUR_MS },
  healthCheckIntervalMs: { default: 10_000, min: 0, max: HOUR_MS },
  healthCheckTimeoutMs: { default: 5000, min: 1, max: HOUR_MS },
  'replaceBackoff.initialDelayMs': { default: 100, min: 1, max: HOUR_MS },
  'replaceBackoff.maxDelayMs': { default: 10_000, min: 1, max: HOUR_MS },
  drainTimeoutMs: { default: 10_000, min: 0, max: HOUR_MS },
} as const satisfies Record<string, IntegerRange>;

/**
 * The fields of a `rateLimit` (servers: per peer, and each entry of `rateLimits`; clients: what
 * they send). 0 means "not limited" for a rate and "one second's worth" for a burst (ts/qos/rate-limit.ts).
 */
export const RATE_LIMIT_RANGES = {
  'rateLimit.messagesPerSecond': { default: 0, min: 0, max: 1_000_000_000 },
  'rateLimit.bytesPerSecond': { default: 0, min: 0, max: 2 ** 40 },
  'rateLimit.burst': { default: 0, min: 0, max: 2 ** 40 },
  'rateLimit.burstBytes': { default: 0, min: 0, max: 2 ** 40 },
} as const satisfies Record<string, IntegerRange>;

/** The fields of createServer()'s `cluster` option (ts/cluster/cluster-options.ts). */
export const CLUSTER_RANGES = {
  'cluster.heartbeatMs': { default: 2000, min: 10, max: HOUR_MS },
  'cluster.publishTimeoutMs': { default: 10_000, min: 1, max: HOUR_MS },
  'cluster.requestTimeoutMs': { default: 10_000, min: 1, max: HOUR_MS },
  'cluster.connectTimeoutMs': { default: 5000, min: 1, max: HOUR_MS },
  'cluster.duplicateWindowMs': { default: 120_000, min: 1000, max: 24 * HOUR_MS },
  'cluster.ackWaitMs': { default: 10_000, min: 100, max: HOUR_MS },
  'cluster.maxStreamMessages': { default: 1_000_000, min: 1, max: 2 ** 40 },
  'cluster.maxRememberedIds': { default: 100_000, min: 1, max: 10_000_000 },
  'cluster.consumerInactiveMs': { default: HOUR_MS, min: 1000, max: 30 * 24 * HOUR_MS },
  'cluster.sessionTransferTimeoutMs': { default: 5000, min: 1, max: HOUR_MS },
} as const satisfies Record<string, IntegerRange>;

export const INTEGER_RANGES: Readonly<Record<string, IntegerRange>> = { ...LIMIT_RANGES, ...STREAM_RANGES, ...SERVER_RANGES, ...PUBSUB_RANGES, ...CLIENT_RANGES, ...POOL_RANGES, ...RATE_LIMIT_RANGES, ...CLUSTER_RANGES };

export type IntegerOptionName =
  | keyof typeof LIMIT_RANGES
  | keyof typeof STREAM_RANGES
  | keyof typeof SERVER_RANGES
  | keyof typeof PUBSUB_RANGES
  | keyof typeof CLIENT_RANGES
  | keyof typeof POOL_RANGES
  | keyof typeof RATE_LIMIT_RANGES
  | keyof typeof CLUSTER_RANGES;

/** `value` (or the option's default when it is undefined), checked against the option's range. */
export function integerOption(name: IntegerOptionName, value: unknown): number {
  const range = INTEGER_RANGES[name]!;
  return checkInteger(name, value ?? range.default, range.min, range.max);
}
