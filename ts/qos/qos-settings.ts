/**
 * What a server or a client resolves of its QoS options (priorities need none; rate limits do),
 * and the counters its sessions share: one object per Server or Client, handed to each of its
 * sessions with the other limits, so that stats().qos is a read of it, closed sessions included.
 */
import { PRIORITY_NAMES } from './priority-scheduler.js';
import { resolveRateLimit, resolveRateLimits, type KeyedRateLimit, type RateLimit, type RateLimitOptions, type RateLimitsOption } from './rate-limit.js';
import type { Clock } from './token-bucket.js';

/** The QoS options of createServer(). */
export interface ServerQosOptions {
  /**
   * A token-bucket limit on what each peer sends: `{ messagesPerSecond, bytesPerSecond, burst,
   * burstBytes, action }`, action 'delay' (default: stop reading the peer until the bucket
   * refills), 'drop' (counted; a request gets the error reply HW_ERR_RATE_LIMITED) or
   * 'disconnect' (ERROR HW_ERR_RATE_LIMITED). See ts/qos/rate-limit.ts. Default: none.
   */
  rateLimit?: RateLimitOptions;
  /**
   * Limits per message type or topic filter, on each peer: `{ 'chat': limit, 'sensors/#': limit }`
   * or `[{ match: 'chat', ...limit }]`. A message passes its peer's rateLimit and the limit of its
   * type; a pub/sub publish, the first filter matching its topic. Default: none.
   */
  rateLimits?: RateLimitsOption;
}

/** The QoS options of connect(). */
export interface ClientQosOptions {
  /**
   * Shapes what the client sends over TCP: `{ messagesPerSecond, bytesPerSecond, burst,
   * burstBytes }`; messages over it wait (in priority order) and are never dropped. Only action
   * 'delay' is accepted. Default: none.
   */
  rateLimit?: RateLimitOptions;
}

export interface QosTotals {
  /** Per priority (high, normal, low): messages sent over TCP. */
  sent: number[];
  /** Per priority: messages that had to wait in the priority queue (congestion or the client's rateLimit). */
  queued: number[];
  /** Per priority: messages waiting now. */
  waiting: number[];
  /** Times a peer's reading was held for a 'delay' limit (its messages read later, none lost). */
  delayed: number;
  /** Messages discarded over a 'drop' limit (requests among them answered HW_ERR_RATE_LIMITED). */
  dropped: number;
  /** Peers closed for passing a 'disconnect' limit. */
  disconnected: number;
}

export interface QosSettings {
  /** A client's rateLimit: shapes what it sends. */
  sendLimit: RateLimit | undefined;
  /** A server's rateLimit: per peer, on what each peer sends. */
  receiveLimit: RateLimit | undefined;
  /** A server's rateLimits: per peer and key. */
  receiveLimits: readonly KeyedRateLimit[];
  totals: QosTotals;
  /** The buckets' clock (tests inject one). */
  clock?: Clock;
}

export interface PriorityStats {
  queued: number;
  waiting: number;
  sent: number;
}

export interface QosStats {
  high: PriorityStats;
  normal: PriorityStats;
  low: PriorityStats;
  delayed: number;
  dropped: number;
  disconnected: number;
}

export function newQosTotals(): QosTotals {
  return { sent: [0, 0, 0], queued: [0, 0, 0], waiting: [0, 0, 0], delayed: 0, dropped: 0, disconnected: 0 };
}

export function serverQos(options: ServerQosOptions): QosSettings {
  return {
    sendLimit: undefined,
    receiveLimit: options.rateLimit === undefined ? undefined : resolveRateLimit('rateLimit', options.rateLimit),
    receiveLimits: resolveRateLimits(options.rateLimits),
    totals: newQosTotals(),
  };
}

/** A client's rateLimit only delays what it sends: it never drops its own messages. */
export function clientQos(options: ClientQosOptions): QosSettings {
  return {
    sendLimit: options.rateLimit === undefined ? undefined : resolveRateLimit('rateLimit', options.rateLimit, ['delay']),
    receiveLimit: undefined,
    receiveLimits: [],
    totals: newQosTotals(),
  };
}

/** A copy of the totals: later traffic does not change it. */
export function qosStats(totals: QosTotals): QosStats {
  const [high, normal, low] = PRIORITY_NAMES.map((_, index) => ({ queued: totals.queued[index]!, waiting: totals.waiting[index]!, sent: totals.sent[index]! }));
  return { high: high!, normal: normal!, low: low!, delayed: totals.delayed, dropped: totals.dropped, disconnected: totals.disconnected };
}
