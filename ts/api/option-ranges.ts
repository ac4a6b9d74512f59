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
} as const satisfies Record<string, IntegerRange>;

/** Options of createServer() alone. */
export const SERVER_RANGES = {
  maxConnections: { default: 10_000, min: 1, max: 10_000_000 },
  maxPendingHandshakes: { default: 256, min: 1, max: 1_000_000 },
  handshakeTimeoutMs: { default: 5000, min: 1, max: HOUR_MS },
  udpReassemblyTotalBytes: { default: 64 * 1024 * 1024, min: 1024, max: 2 ** 40 },
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

export const INTEGER_RANGES: Readonly<Record<string, IntegerRange>> = { ...LIMIT_RANGES, ...SERVER_RANGES, ...PUBSUB_RANGES, ...CLIENT_RANGES };

export type IntegerOptionName = keyof typeof LIMIT_RANGES | keyof typeof SERVER_RANGES | keyof typeof PUBSUB_RANGES | keyof typeof CLIENT_RANGES;

/** `value` (or the option's default when it is undefined), checked against the option's range. */
export function integerOption(name: IntegerOptionName, value: unknown): number {
  const range = INTEGER_RANGES[name]!;
  return checkInteger(name, value ?? range.default, range.min, range.max);
}
