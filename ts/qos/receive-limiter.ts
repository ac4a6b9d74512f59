/**
 * A server's rate limits on what one peer sends (`rateLimit`, and `rateLimits` by message type or
 * topic filter; ./rate-limit.ts): each message (requests included; replies to the server's own
 * requests are not limited) passes the peer's limit and the first keyed limit that matches it.
 *
 * Over a limit, the limit's action:
 * - 'delay': the message that emptied the bucket is taken (it has been read), then dispatch stops
 *   before the next one and the socket is paused (backpressure: the peer's writes stall in TCP)
 *   until the bucket has refilled; a timer (at most MAX_HOLD_MS at once) resumes it. UDP cannot be
 *   paused: a datagram over a 'delay' limit is dropped.
 * - 'drop': the message is discarded and counted; a request gets the error reply
 *   HW_ERR_RATE_LIMITED and the session stays.
 * - 'disconnect': the peer gets ERROR HW_ERR_RATE_LIMITED and is closed.
 *
 * Per peer, a limiter holds one bucket pair for `rateLimit` and one for each key of `rateLimits`
 * that its messages used: at most MAX_KEYED_LIMITS (./rate-limit.ts).
 */
import { HybridwireError } from '../errors.js';
import { MessageKind } from '../session/message.js';
import { RateLimiter, topicMatches, type KeyedRateLimit } from './rate-limit.js';
import type { QosSettings, QosTotals } from './qos-settings.js';

/** The type of a pub/sub publish (ts/pubsub/wire.ts), named here so that qos does not load pub/sub. */
const PUBSUB_PUBLISH = 'hybridwire:pubsub.publish';

/** What the limiter needs of the session's receive path. */
export interface LimitedReceiver {
  /** The type of the message at source[start, end); undefined if its alias is unknown. */
  typeAt(source: Buffer, start: number, end: number): string | undefined;
  /** Stop dispatching the peer's messages (true), or go on (false). */
  holdForRateLimit(held: boolean): void;
}

/** Longest the resume timer sleeps at once; past it, the buckets are checked again. */
const MAX_HOLD_MS = 60_000;

export class ReceiveLimiter {
  private readonly peerLimiter: RateLimiter | undefined;
  private readonly byType = new Map<string, KeyedRateLimit>();
  private readonly byFilter: KeyedRateLimit[] = [];
  private readonly keyed = new Map<string, RateLimiter>();
  private readonly totals: QosTotals;
  private timer: NodeJS.Timeout | undefined;
  private held = false;
  private stopped = false;

  constructor(
    private readonly settings: QosSettings,
    private readonly receiver: LimitedReceiver,
  ) {
    this.totals = settings.totals;
    this.peerLimiter = settings.receiveLimit === undefined ? undefined : new RateLimiter(settings.receiveLimit, settings.clock);
    for (const limit of settings.receiveLimits) {
      this.byType.set(limit.match, limit);
      this.byFilter.push(limit);
    }
  }

  /** Whether a server with these settings limits what its peers send. */
  static needed(settings: QosSettings | undefined): settings is QosSettings {
    return settings !== undefined && (settings.receiveLimit !== undefined || settings.receiveLimits.length > 0);
  }

  /**
   * A message from the peer at source[start, end): true to dispatch it, false to drop it (a
   * request is then answered HW_ERR_RATE_LIMITED). Throws HW_ERR_RATE_LIMITED to disconnect.
   */
  admit(source: Buffer, start: number, end: number, udp: boolean): boolean {
    const kind = source[start + 3];
    if (kind === MessageKind.RESPONSE || kind === MessageKind.ERROR) return true;
    let keyed: RateLimiter | undefined;
    if (this.byType.size > 0 || this.peerLimiter !== undefined) {
      const type = this.receiver.typeAt(source, start, end);
      // A pub/sub publish is judged by admitTopic() (the peer's limit too), where a dropped QoS ≥ 1
      // publish is answered: dropped here, its publisher would wait for an acknowledgement forever.
      if (type === PUBSUB_PUBLISH) return true;
      const limit = type === undefined ? undefined : this.byType.get(type);
      keyed = limit === undefined ? undefined : this.limiterFor(limit);
    }
    return this.pass(keyed, end - start, udp) && this.pass(this.peerLimiter, end - start, udp);
  }

  /**
   * A pub/sub publish to `topic` of `size` bytes (the broker's seam): the first `rateLimits` filter
   * that matches the topic, then the peer's own limit (admit() lets publishes through to here, so
   * that each is taken once). Same answers as admit().
   */
  admitTopic(topic: string, size: number): boolean {
    const limit = this.byFilter.find((candidate) => topicMatches(candidate.match, topic));
    return this.pass(limit === undefined ? undefined : this.limiterFor(limit), size, false) && this.pass(this.peerLimiter, size, false);
  }

  /** The session has closed: no timer is left. */
  stop(): void {
    this.stopped = true;
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
  }

  private limiterFor(limit: KeyedRateLimit): RateLimiter {
    let limiter = this.keyed.get(limit.match);
    if (limiter === undefined) {
      limiter = new RateLimiter(limit, this.settings.clock);
      this.keyed.set(limit.match, limiter);
    }
    return limiter;
  }

  private pass(limiter: RateLimiter | undefined, size: number, udp: boolean): boolean {
    if (limiter === undefined) return true;
    const action = limiter.limit.action;
    if (action === 'delay' && !udp) {
      limiter.take(size);
      const waitMs = limiter.msUntil(1);
      if (waitMs > 0) this.hold(waitMs);
      return true;
    }
    if (limiter.tryTake(size)) return true;
    if (action === 'disconnect') {
      this.totals.disconnected++;
      throw new HybridwireError('HW_ERR_RATE_LIMITED', `the peer passed its rate limit (${describe(limiter)})`);
    }
    this.totals.dropped++;
    return false;
  }

  /** Dispatch stops until the buckets have refilled (at most MAX_HOLD_MS at a time). */
  private hold(waitMs: number): void {
    if (this.stopped) return;
    if (!this.held) {
      this.held = true;
      this.totals.delayed++;
      this.receiver.holdForRateLimit(true);
    }
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = setTimeout(() => this.release(), Math.min(waitMs, MAX_HOLD_MS));
    this.timer.unref();
  }

  private release(): void {
    this.timer = undefined;
    if (this.stopped) return;
    // Still short (the wait was capped): sleep again rather than let the peer through early.
    let waitMs = 0;
    for (const limiter of [this.peerLimiter, ...this.keyed.values()]) {
      if (limiter !== undefined && limiter.limit.action === 'delay') waitMs = Math.max(waitMs, limiter.msUntil(1));
    }
    if (waitMs > 0) {
      this.hold(waitMs);
      return;
    }
    this.held = false;
    this.receiver.holdForRateLimit(false);
  }
}

function describe(limiter: RateLimiter): string {
  const { messagesPerSecond, bytesPerSecond } = limiter.limit;
  return [messagesPerSecond > 0 ? `${messagesPerSecond} messages/s` : '', bytesPerSecond > 0 ? `${bytesPerSecond} bytes/s` : ''].filter(Boolean).join(', ');
}
