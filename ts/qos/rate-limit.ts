/**
 * Rate-limit options and their validation, and the limiter one limit becomes: a message bucket
 * and a byte bucket (./token-bucket.ts) that a message must both pass.
 *
 * `rateLimit: { messagesPerSecond, bytesPerSecond, burst, burstBytes, action }`:
 * - `messagesPerSecond`, `bytesPerSecond`: the sustained rates; at least one is given (0 or
 *   absent: that rate is not limited).
 * - `burst`: how many may pass at once above the rate, in the unit of the limit: messages when
 *   `messagesPerSecond` is given (then `burstBytes` bounds the byte bucket), otherwise bytes.
 *   Default (and 0): one second's worth.
 * - `action` (server side): `'delay'` (default: stop reading the peer until the bucket refills),
 *   `'drop'` (the message is discarded and counted; a request gets the error reply
 *   HW_ERR_RATE_LIMITED) or `'disconnect'` (the peer gets ERROR HW_ERR_RATE_LIMITED and is closed).
 *   A client's own rateLimit only delays what it sends.
 *
 * `rateLimits` adds limits per message type or topic filter, either as a map from the key to a
 * limit or as a list of `{ match, ...limit }`. A key applies to messages of that exact type, and
 * to pub/sub publishes whose topic matches it as a filter (`+`/`*` one level, `#` the rest).
 */
import { OptionError } from '../errors.js';
import { RATE_LIMIT_RANGES } from '../api/option-ranges.js';
import { checkInteger } from '../validate.js';
import { TokenBucket, type Clock } from './token-bucket.js';

export type RateLimitAction = 'delay' | 'drop' | 'disconnect';
export const RATE_LIMIT_ACTIONS: readonly RateLimitAction[] = ['delay', 'drop', 'disconnect'];

export interface RateLimitOptions {
  messagesPerSecond?: number;
  bytesPerSecond?: number;
  burst?: number;
  /** The byte bucket's size when `burst` counts messages. Default: one second of bytesPerSecond. */
  burstBytes?: number;
  action?: RateLimitAction;
}

export interface KeyedRateLimitOptions extends RateLimitOptions {
  /** A message type, or a topic filter for pub/sub publishes. */
  match: string;
}

export type RateLimitsOption = Record<string, RateLimitOptions> | readonly KeyedRateLimitOptions[];

/** A validated limit: 0 stands for "not limited". */
export interface RateLimit {
  messagesPerSecond: number;
  bytesPerSecond: number;
  burst: number;
  burstBytes: number;
  action: RateLimitAction;
}

export interface KeyedRateLimit extends RateLimit {
  match: string;
}

/** Most keyed limits a server takes: each peer may hold a limiter for each. */
export const MAX_KEYED_LIMITS = 1024;
const MAX_MATCH_LENGTH = 65_535;

/** Validates one limit; `name` is the option's path in error messages (`rateLimit`, `rateLimits[2]`). */
export function resolveRateLimit(name: string, value: unknown, actions: readonly RateLimitAction[] = RATE_LIMIT_ACTIONS): RateLimit {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new OptionError(`option ${name} must be an object of messagesPerSecond, bytesPerSecond, burst, burstBytes and action, got ${String(value)}`, name);
  }
  const options = value as RateLimitOptions;
  const integer = (field: keyof typeof RATE_LIMIT_RANGES) => {
    const range = RATE_LIMIT_RANGES[field];
    return checkInteger(`${name}.${field.slice('rateLimit.'.length)}`, options[field.slice('rateLimit.'.length) as keyof RateLimitOptions] ?? range.default, range.min, range.max);
  };
  const messagesPerSecond = integer('rateLimit.messagesPerSecond');
  const bytesPerSecond = integer('rateLimit.bytesPerSecond');
  if (messagesPerSecond === 0 && bytesPerSecond === 0) {
    throw new OptionError(`option ${name} must give messagesPerSecond or bytesPerSecond (an integer from 1)`, name);
  }
  const burst = integer('rateLimit.burst');
  const burstBytes = integer('rateLimit.burstBytes');
  const action = options.action ?? 'delay';
  if (!actions.includes(action)) {
    throw new OptionError(`option ${name}.action must be ${actions.map((entry) => `'${entry}'`).join(' or ')}, got ${String(action)}`, `${name}.action`);
  }
  const perMessage = messagesPerSecond > 0;
  return {
    messagesPerSecond,
    bytesPerSecond,
    burst: perMessage ? burst || messagesPerSecond : 0,
    burstBytes: bytesPerSecond === 0 ? 0 : (perMessage ? burstBytes : burst || burstBytes) || bytesPerSecond,
    action,
  };
}

/** Validates `rateLimits` (a map or a list); undefined gives none. */
export function resolveRateLimits(value: unknown): KeyedRateLimit[] {
  if (value === undefined) return [];
  const entries: Array<[string, unknown, string]> = [];
  if (Array.isArray(value)) {
    value.forEach((entry, index) => entries.push([(entry as KeyedRateLimitOptions | null)?.match as string, entry, `rateLimits[${index}]`]));
  } else if (typeof value === 'object' && value !== null) {
    for (const [key, entry] of Object.entries(value)) entries.push([key, entry, `rateLimits.${key}`]);
  } else {
    throw new OptionError(`option rateLimits must be a map from message type or topic filter to a limit, or a list of { match, ...limit }, got ${String(value)}`, 'rateLimits');
  }
  if (entries.length > MAX_KEYED_LIMITS) throw new OptionError(`option rateLimits must have at most ${MAX_KEYED_LIMITS} entries, got ${entries.length}`, 'rateLimits');
  const seen = new Set<string>();
  return entries.map(([match, entry, name]) => {
    if (typeof match !== 'string' || match.length === 0 || match.length > MAX_MATCH_LENGTH) {
      throw new OptionError(`option ${name}.match must be a message type or topic filter of 1 to ${MAX_MATCH_LENGTH} characters, got ${String(match)}`, `${name}.match`);
    }
    checkFilter(match, name);
    if (seen.has(match)) throw new OptionError(`option ${name} repeats the key '${match}'`, name);
    seen.add(match);
    return { ...resolveRateLimit(name, entry), match };
  });
}

/** A key with wildcards must be a well-formed filter: `#` only as the last level, `+`/`*` alone in theirs. */
function checkFilter(match: string, name: string): void {
  const levels = match.split('/');
  levels.forEach((level, index) => {
    const wild = level.includes('#') || level.includes('+') || level.includes('*');
    if (!wild) return;
    const alone = level === '#' || level === '+' || level === '*';
    if (!alone || (level === '#' && index !== levels.length - 1)) {
      throw new OptionError(`option ${name}.match '${match}' is not a valid topic filter ('#' only as the last level, '+' and '*' alone in a level)`, `${name}.match`);
    }
  });
}

/** Whether `topic` matches `filter` (MQTT rules, `*` as `+`; `$` topics match no leading wildcard). */
export function topicMatches(filter: string, topic: string): boolean {
  const filterLevels = filter.split('/');
  const topicLevels = topic.split('/');
  if (topic.startsWith('$') && (filter.startsWith('+') || filter.startsWith('#') || filter.startsWith('*'))) return false;
  for (let i = 0; i < filterLevels.length; i++) {
    const level = filterLevels[i]!;
    if (level === '#') return true;
    if (i >= topicLevels.length) return false;
    if (level !== '+' && level !== '*' && level !== topicLevels[i]) return false;
  }
  return filterLevels.length === topicLevels.length;
}

/** One limit's buckets: a message passes when both have room. */
export class RateLimiter {
  private readonly messages: TokenBucket | undefined;
  private readonly bytes: TokenBucket | undefined;

  constructor(
    readonly limit: RateLimit,
    clock?: Clock,
  ) {
    this.messages = limit.messagesPerSecond > 0 ? new TokenBucket(limit.messagesPerSecond, limit.burst, clock) : undefined;
    this.bytes = limit.bytesPerSecond > 0 ? new TokenBucket(limit.bytesPerSecond, limit.burstBytes, clock) : undefined;
  }

  /** Takes a message of `size` bytes if both buckets have room for it; otherwise takes nothing. */
  tryTake(size: number): boolean {
    const messages = this.messages;
    const bytes = this.bytes;
    if (messages !== undefined && messages.available < 1) return false;
    if (bytes !== undefined && !bytes.tryTake(size)) return false;
    messages?.take(1);
    return true;
  }

  /** Takes a message that has been let through anyway (delay: what was read is counted). */
  take(size: number): void {
    this.messages?.take(1);
    this.bytes?.take(size);
  }

  /** Milliseconds until a message of `size` bytes would pass (0: now). */
  msUntil(size: number): number {
    return Math.max(this.messages?.msUntil(1) ?? 0, this.bytes?.msUntil(size) ?? 0);
  }
}
