/**
 * Where a session's messages wait when they cannot go out at once, and the order they leave in.
 *
 * A session has a queue from its first send with a priority other than normal, or from the start
 * with a client's rateLimit (ts/session/outbound.ts); before, nothing would overtake anything and
 * messages are encoded as they are sent. With a queue, a message waits when the socket is
 * congested (64 KiB or more unsent, 'drain' to come), when the delivery window holds batches for
 * want of acknowledgements, when the client's own rateLimit has no tokens, or when others already
 * wait (so that order within a priority is kept). Waiting
 * messages are not encoded yet: they leave in the order of ./priority-scheduler.ts as soon as the
 * path has room again ('drain', an ACK, the rate limiter's timer), so a high-priority message
 * sent while normal and low ones wait overtakes them.
 *
 * A send that need not wait costs one check here and nothing else: no allocation.
 */
import { HybridwireError } from '../errors.js';
import { MessageKind } from '../session/message.js';
import { PriorityScheduler, type Sized } from './priority-scheduler.js';
import { RateLimiter } from './rate-limit.js';
import type { QosSettings, QosTotals } from './qos-settings.js';

/** What the queue needs of the session's send path. */
export interface QueueingSendPath {
  /** Nothing more can be written now; the path calls pump() when something can. */
  readonly blocked: boolean;
  /** Encodes a message that waited (its alias is defined already). */
  encodeQueued(alias: number, encoding: number, kind: number, requestId: number, body: Uint8Array | string): void;
}

interface WaitingMessage extends Sized {
  alias: number;
  encoding: number;
  kind: number;
  requestId: number;
  body: Uint8Array | string;
  priority: number;
}

/** Longest the shaping timer sleeps at once; past it, it checks again (a timer is never unbounded). */
const MAX_SLEEP_MS = 60_000;

export class SendQueue {
  private readonly scheduler = new PriorityScheduler<WaitingMessage>();
  private readonly shaper: RateLimiter | undefined;
  private readonly totals: QosTotals;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;

  private readonly maxFrameSize: number;

  constructor(
    private readonly path: QueueingSendPath,
    limits: { qos?: QosSettings; maxFrameSize: number },
    totals: QosTotals,
  ) {
    this.totals = totals;
    this.maxFrameSize = limits.maxFrameSize;
    const limit = limits.qos?.sendLimit;
    this.shaper = limit === undefined ? undefined : new RateLimiter(limit, limits.qos?.clock);
  }

  get length(): number {
    return this.scheduler.length;
  }

  get bytes(): number {
    return this.scheduler.bytes;
  }

  /** Whether a send of `size` bytes must wait; when it need not, it has taken its rate-limit tokens. */
  mustWait(size: number): boolean {
    if (this.scheduler.length > 0 || this.path.blocked) return true;
    return this.shaper !== undefined && !this.shaper.tryTake(size);
  }

  enqueue(priority: number, alias: number, encoding: number, kind: number, requestId: number, body: Uint8Array | string, size: number): void {
    if (this.stopped) throw new HybridwireError('HW_ERR_NOT_CONNECTED', 'cannot send: the connection is closed');
    // Refused now, as the encoder would refuse it, rather than when it leaves.
    const payloadBytes = (kind === MessageKind.MESSAGE ? 4 : 8) + (typeof body === 'string' ? Buffer.byteLength(body) : body.length);
    if (payloadBytes > this.maxFrameSize) {
      throw new HybridwireError('HW_ERR_FRAME_TOO_LARGE', `payload of ${payloadBytes} bytes exceeds maxFrameSize (${this.maxFrameSize})`);
    }
    this.scheduler.push(priority, { alias, encoding, kind, requestId, body, size, priority });
    this.totals.queued[priority]!++;
    this.totals.waiting[priority]!++;
    // Rate-limited with nothing else to wake the queue: the timer does.
    if (this.shaper !== undefined && !this.path.blocked) this.pump();
  }

  /** Sends what waits, in priority order, until the path blocks, the rate limit runs dry or nothing is left. */
  pump(): void {
    const scheduler = this.scheduler;
    const shaper = this.shaper;
    while (scheduler.length > 0 && !this.path.blocked && !this.stopped) {
      if (shaper !== undefined) {
        const size = scheduler.peek().size;
        if (!shaper.tryTake(size)) {
          this.wakeIn(shaper.msUntil(size));
          return;
        }
      }
      const message = scheduler.shift();
      this.totals.waiting[message.priority]!--;
      this.totals.sent[message.priority]!++;
      this.path.encodeQueued(message.alias, message.encoding, message.kind, message.requestId, message.body);
    }
  }

  /** The connection is gone: what waits is never sent. */
  stop(): void {
    this.stopped = true;
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    this.scheduler.clear((priority) => this.totals.waiting[priority]!--);
  }

  private wakeIn(ms: number): void {
    if (this.timer !== undefined) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.pump();
    }, Math.min(Math.max(ms, 1), MAX_SLEEP_MS));
  }
}
