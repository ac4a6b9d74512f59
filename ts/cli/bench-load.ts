/**
 * The load loops that `hybridwire bench` and bench/e2e share, for any system: one-way messages as
 * fast as backpressure allows (`pump`) and round trips with a fixed number in flight
 * (`roundTrips`), both bounded by a `Phase` (a deadline and a message budget; SIGINT ends it early),
 * and the payload every sender sends. Nothing here knows hybridwire: a system plugs in through
 * `LoadSender` and `Requester`.
 */

/** Messages sent between looks at the clock and the budget. */
const CHECK_EVERY = 1024;

export type StopReason = 'duration' | 'messages' | 'interrupt';

/** Set by SIGINT: every running phase winds down and reports what it measured. */
export class Interrupt {
  interrupted = false;
}

/** One timed phase (warm-up or measurement): a deadline and a message budget shared by its loops. */
export class Phase {
  readonly startedAt = performance.now();
  readonly deadline: number;
  private remaining: number;
  stoppedBy: StopReason | undefined;

  constructor(
    readonly durationMs: number,
    readonly limit: number,
    private readonly interrupt: Interrupt = new Interrupt(),
  ) {
    this.deadline = this.startedAt + durationMs;
    this.remaining = limit;
  }

  /** True once the phase is over: deadline passed, budget spent, or interrupted. */
  over(): boolean {
    return this.stoppedBy !== undefined || this.expired();
  }

  /** True once the deadline has passed or the run was interrupted, whatever is left of the budget. */
  expired(): boolean {
    if (this.interrupt.interrupted) this.stoppedBy = 'interrupt';
    else if (performance.now() >= this.deadline) this.stoppedBy = 'duration';
    else return false;
    return true;
  }

  /** Takes up to `n` messages from the budget; 0 when the phase is over. */
  take(n: number): number {
    if (this.over()) return 0;
    const granted = Math.min(n, this.remaining);
    this.remaining -= granted;
    if (this.remaining === 0) this.stoppedBy = 'messages';
    return granted;
  }

  /** Returns budget that was taken but not used. */
  giveBack(n: number): void {
    this.remaining += n;
    if (this.stoppedBy === 'messages' && this.remaining > 0) this.stoppedBy = undefined;
  }

  /** Messages taken so far. */
  get used(): number {
    return this.limit - this.remaining;
  }

  /** How far along the phase is, 0..1, by time or by budget, whichever is further. */
  fraction(): number {
    const byTime = this.durationMs > 0 ? (performance.now() - this.startedAt) / this.durationMs : 1;
    return Math.min(1, Math.max(byTime, this.used / this.limit));
  }
}

export function yieldTurn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/** One connection of some system, as the one-way loop drives it. */
export interface LoadSender {
  /** Sends one message; false when the next one must wait for `drained()`. */
  send(payload: Uint8Array): boolean;
  /** Settles when sending may go on; resolving to false ends the loop (e.g. its deadline came first). */
  drained(phase: Phase): Promise<unknown>;
}

/**
 * One-way messages until the phase is over, waiting whenever the sender says so. With `yieldEvery`
 * the loop also yields to the event loop after that many messages, as an application's loop does
 * (and as UDP senders must, for their datagrams to leave); 0 yields only while waiting. Returns
 * the number sent.
 */
export async function pump(sender: LoadSender, payload: Uint8Array, phase: Phase, yieldEvery = 0): Promise<number> {
  const chunk = yieldEvery > 0 ? Math.min(CHECK_EVERY, yieldEvery) : CHECK_EVERY;
  let sent = 0;
  let nextYield = yieldEvery > 0 ? yieldEvery : Infinity;
  for (;;) {
    const granted = phase.take(chunk);
    if (granted === 0) return sent;
    for (let i = 1; i <= granted; i++) {
      if (sender.send(payload)) continue;
      const goOn = await sender.drained(phase);
      if (goOn === false || (i < granted && phase.expired())) {
        phase.giveBack(granted - i);
        return sent + i;
      }
      // Waiting let the event loop run: count the next yield from here.
      if (yieldEvery > 0) nextYield = sent + i + yieldEvery;
    }
    sent += granted;
    if (sent >= nextYield) {
      await yieldTurn();
      nextYield = sent + yieldEvery;
    }
  }
}

/** Drain waits, and those that ended only because polling found the queue short again. */
export const drainStats = { waits: 0, missedDrains: 0 };

/** What a drain wait listens to: a socket, a hybridwire client, any stream. */
export interface DrainSource {
  once(event: 'drain' | 'close', listener: () => void): unknown;
  off(event: 'drain' | 'close', listener: () => void): unknown;
}

export interface DrainOptions {
  /** Polled every 100 ms: true ends the wait without a 'drain' event (a safety net, counted). */
  below?: () => boolean;
  /** Resolve false at this performance.now() time if no 'drain' came. */
  deadline?: number;
  /** Reject when no 'drain' came within this long (with `below`, checked as it is polled). */
  timeoutMs?: number;
  /** Names what stalled, for the timeout's message. */
  describe?: () => string;
}

const DRAIN_POLL_MS = 100;

/** Resolves true on the source's next 'drain', rejects if it closes first; see DrainOptions. */
export function drained(source: DrainSource, options: DrainOptions = {}): Promise<boolean> {
  drainStats.waits++;
  return new Promise<boolean>((resolve, reject) => {
    const started = performance.now();
    let poll: NodeJS.Timeout | undefined;
    let late: NodeJS.Timeout | undefined;
    const finish = (result: boolean | Error) => {
      source.off('drain', onDrain);
      source.off('close', onClose);
      if (poll) clearInterval(poll);
      if (late) clearTimeout(late);
      if (result instanceof Error) reject(result);
      else resolve(result);
    };
    const onDrain = () => finish(true);
    const onClose = () => finish(new Error('the connection closed while waiting for drain'));
    const { below, deadline, timeoutMs, describe } = options;
    if (below || timeoutMs !== undefined) {
      poll = setInterval(() => {
        if (below?.()) {
          drainStats.missedDrains++;
          finish(true);
        } else if (timeoutMs !== undefined && performance.now() - started > timeoutMs) {
          finish(new Error(`no 'drain' within ${timeoutMs / 1000} s${describe ? ` (${describe()})` : ''}`));
        }
      }, DRAIN_POLL_MS);
    }
    if (deadline !== undefined) late = setTimeout(() => finish(false), Math.max(0, deadline - performance.now()));
    source.once('drain', onDrain);
    source.once('close', onClose);
  });
}

/** Sends one request; its reply must come back through the `onReply` its Requester was given. */
export type RequestSender = (payload: Uint8Array) => void;

/**
 * Makes a connection's request sender. `onReply` is called once per reply, replies in the order
 * of their requests (each system here answers in order on one connection); `onError` ends the run.
 */
export type Requester = (onReply: () => void, onError: (error: Error) => void) => RequestSender;

export interface RoundTripRun {
  completed: number;
  elapsedMs: number;
}

/**
 * Round trips: `inFlight` requests outstanding, a reply starting the next request until the
 * phase is over. `record` gets each one's start (performance.now() time) and latency in ms.
 * Resolves when every reply is in.
 */
export function roundTrips(
  requester: Requester,
  payload: Uint8Array,
  inFlight: number,
  phase: Phase,
  record: (startedAt: number, latencyMs: number) => void,
): Promise<RoundTripRun> {
  return new Promise<RoundTripRun>((resolve, reject) => {
    const starts = new Float64Array(inFlight);
    let head = 0;
    let tail = 0;
    let outstanding = 0;
    let completed = 0;
    let failed = false;
    const began = performance.now();
    const onError = (error: Error) => {
      if (failed) return;
      failed = true;
      reject(error);
    };
    // `send` is made below, from onReply; issue() runs only after that.
    const issue = (): boolean => {
      if (failed || phase.take(1) === 0) return false;
      starts[tail] = performance.now();
      tail = tail + 1 === inFlight ? 0 : tail + 1;
      outstanding++;
      try {
        send(payload);
      } catch (error) {
        onError(error as Error);
        return false;
      }
      return true;
    };
    const onReply = () => {
      if (failed) return;
      const now = performance.now();
      const startedAt = starts[head]!;
      head = head + 1 === inFlight ? 0 : head + 1;
      outstanding--;
      completed++;
      record(startedAt, now - startedAt);
      if (!issue() && outstanding === 0 && !failed) resolve({ completed, elapsedMs: performance.now() - began });
    };
    const send: RequestSender = requester(onReply, onError);
    let started = 0;
    while (started < inFlight && issue()) started++;
    if (started === 0 && !failed) resolve({ completed: 0, elapsedMs: 0 });
  });
}

/** A deterministic, incompressible payload (xorshift32), the same in every run and process. */
export function payloadOf(size: number, seed = 0x9e3779b9): Uint8Array {
  const out = new Uint8Array(size);
  let state = seed >>> 0 || 1;
  for (let i = 0; i < size; i++) {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    out[i] = state & 0xff;
  }
  return out;
}
