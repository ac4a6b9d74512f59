/**
 * Watches what one session has queued for its peer (docs/SECURITY.md, "Outgoing queues and
 * liveness"): a server stops reading a peer while the socket is congested and its queue is past
 * highWaterMark; a peer whose queue passes maxQueueBytes, or whose socket takes nothing for
 * sendStallTimeoutMs, is closed with HW_ERR_SEND_QUEUE_FULL.
 *
 * Nothing here runs per message: the send path checks the bound per flush, and makes a watch the
 * first time a write finds the socket congested; the watch is called per such write, and its
 * stall check is a timer that runs only while the socket is congested.
 */
import type { Socket } from 'node:net';
import { HybridwireError } from '../errors.js';
import type { SessionCounters } from './session-stats.js';

export interface SendWatchLimits {
  highWaterMark: number;
  maxQueueBytes: number;
  sendStallTimeoutMs: number;
}

/** What the watch asks of its session. */
export interface SendWatchHost {
  /** Stop (true) or resume (false) reading the peer, for its queue. Called only if `pauseReading`. */
  pauseForQueue(paused: boolean): void;
  /** The queue passed maxQueueBytes, or the socket took nothing for sendStallTimeoutMs. */
  queueFailed(error: HybridwireError): void;
}

/**
 * Bytes of the write in progress that the kernel has not taken yet, as libuv counts them: the
 * public `writableLength` moves only when a whole write completes, and one write can hold all
 * that was queued while the previous one was in progress. Undefined where the socket has no such
 * handle (then only completed writes count as progress).
 */
function unsentOfCurrentWrite(socket: Socket): number | undefined {
  const size = (socket as unknown as { _handle?: { writeQueueSize?: unknown } })._handle?.writeQueueSize;
  return typeof size === 'number' ? size : undefined;
}

/** Every byte queued for the peer counts against maxQueueBytes: past it, the host is told. */
export function checkQueueBound(queued: number, limits: SendWatchLimits, host: SendWatchHost): void {
  if (queued <= limits.maxQueueBytes) return;
  host.queueFailed(new HybridwireError('HW_ERR_SEND_QUEUE_FULL', `${queued} bytes are queued for the peer; maxQueueBytes is ${limits.maxQueueBytes}`));
}

export class SendWatch {
  /** Whether the session stops reading its peer past highWaterMark (servers do; see Connection). */
  pauseReading = false;
  private readingPaused = false;
  private stallTimer: NodeJS.Timeout | undefined;
  private completedAtCheck = 0;
  private unsentAtCheck: number | undefined;
  private lastProgressAt = 0;

  constructor(
    private readonly socket: Socket,
    private readonly limits: SendWatchLimits,
    private readonly counters: SessionCounters,
    private readonly host: SendWatchHost,
  ) {}

  /** A write found the socket's buffer full (write() returned false); `queued` is everything waiting for the peer. */
  congested(queued: number): void {
    if (this.stallTimer === undefined) this.watchStall();
    if (this.pauseReading && !this.readingPaused && queued >= this.limits.highWaterMark) {
      this.readingPaused = true;
      this.host.pauseForQueue(true);
    }
  }

  /** The socket wrote out all it held ('drain'). */
  drained(): void {
    this.stopStallWatch();
    if (this.readingPaused) {
      this.readingPaused = false;
      this.host.pauseForQueue(false);
    }
  }

  stop(): void {
    this.stopStallWatch();
  }

  private watchStall(): void {
    this.completedAtCheck = this.completed();
    this.unsentAtCheck = unsentOfCurrentWrite(this.socket);
    this.lastProgressAt = Date.now();
    const timeoutMs = this.limits.sendStallTimeoutMs;
    // Checked four times per period: a stall is found between timeoutMs and 1.25 timeoutMs after
    // the last progress.
    this.stallTimer = setInterval(() => this.checkStall(timeoutMs), timeoutMs / 4);
    this.stallTimer.unref();
  }

  private checkStall(timeoutMs: number): void {
    const now = Date.now();
    const completed = this.completed();
    const unsent = unsentOfCurrentWrite(this.socket);
    // Without a completed write, libuv works on the same write as at the last check (later writes
    // wait behind it in the stream), so its unsent count can only have fallen.
    const progressed = completed !== this.completedAtCheck || (unsent !== undefined && this.unsentAtCheck !== undefined && unsent < this.unsentAtCheck);
    this.completedAtCheck = completed;
    this.unsentAtCheck = unsent;
    if (progressed) {
      this.lastProgressAt = now;
    } else if (now - this.lastProgressAt >= timeoutMs) {
      this.stopStallWatch();
      this.host.queueFailed(new HybridwireError('HW_ERR_SEND_QUEUE_FULL', `the peer took none of the ${this.socket.writableLength} bytes queued for it for ${timeoutMs} ms`));
    }
  }

  /** Bytes whose writes have completed (given to the socket, less what it still holds). */
  private completed(): number {
    return this.counters.tcp.bytesOut - this.socket.writableLength;
  }

  private stopStallWatch(): void {
    if (this.stallTimer === undefined) return;
    clearInterval(this.stallTimer);
    this.stallTimer = undefined;
  }
}
