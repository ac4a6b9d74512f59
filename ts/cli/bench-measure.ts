/**
 * The load loops of `hybridwire bench` and what they measure with. Every loop is bounded twice: by
 * a message budget and by a deadline (and a SIGINT stops it early); every wait has a timeout.
 */
import type { Client } from '../api/client.js';
import type { SendOptions } from '../session/connection.js';

/** Client-side high-water mark (the library's default): past it send() returns false. */
export const HIGH_WATER_MARK = 1024 * 1024;
/** Longest wait for 'drain' before the run is declared stalled. */
const DRAIN_TIMEOUT_MS = 15_000;
/** Messages sent between looks at the clock and the budget. */
const TCP_CHUNK = 256;
/** UDP has no backpressure: yield to the event loop after this many messages so datagrams go out. */
const UDP_CHUNK = 64;
/** A sender that never meets backpressure still yields this often (the receiver may share the loop). */
const YIELD_EVERY_MS = 5;

export type StopReason = 'duration' | 'messages' | 'interrupt';

/** Set by SIGINT: every running phase winds down and reports what it measured. */
export class Interrupt {
  interrupted = false;
}

/** One timed phase (warm-up or measurement): a deadline and a message budget shared by all clients. */
export class Phase {
  readonly startedAt = performance.now();
  readonly deadline: number;
  private remaining: number;
  stoppedBy: StopReason | undefined;

  constructor(
    readonly durationMs: number,
    readonly limit: number,
    private readonly interrupt: Interrupt,
  ) {
    this.deadline = this.startedAt + durationMs;
    this.remaining = limit;
  }

  /** True once the phase is over: deadline passed, budget spent, or interrupted. */
  over(): boolean {
    if (this.stoppedBy !== undefined) return true;
    if (this.interrupt.interrupted) this.stoppedBy = 'interrupt';
    else if (performance.now() >= this.deadline) this.stoppedBy = 'duration';
    return this.stoppedBy !== undefined;
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

function yieldTurn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/** Counts drain waits that only ended because the queue was found below the mark by polling. */
export const drainStats = { waits: 0, missedDrains: 0 };

/**
 * Waits until the client's send queue is below the high-water mark: on 'drain', or (as a safety
 * net, counted in drainStats.missedDrains) when polling finds the queue short without a 'drain'.
 */
export function waitForDrain(client: Client): Promise<void> {
  drainStats.waits++;
  return new Promise<void>((resolve, reject) => {
    const started = performance.now();
    const finish = (error?: Error) => {
      client.off('drain', onDrain);
      client.off('close', onClose);
      clearInterval(poll);
      if (error) reject(error);
      else resolve();
    };
    const onDrain = () => finish();
    const onClose = () => finish(new Error('the connection closed while waiting for drain'));
    const poll = setInterval(() => {
      if (client.queuedBytes < HIGH_WATER_MARK) {
        drainStats.missedDrains++;
        finish();
      } else if (performance.now() - started > DRAIN_TIMEOUT_MS) {
        finish(new Error(`no 'drain' within ${DRAIN_TIMEOUT_MS / 1000} s (${client.queuedBytes} bytes still queued): the server stopped reading`));
      }
    }, 100);
    client.once('drain', onDrain);
    client.once('close', onClose);
  });
}

/** One-way TCP messages as fast as backpressure allows, until the phase is over. Returns the count sent. */
export async function pumpTcp(client: Client, type: string, payload: Uint8Array, phase: Phase): Promise<number> {
  let sent = 0;
  let lastYield = performance.now();
  for (;;) {
    const granted = phase.take(TCP_CHUNK);
    if (granted === 0) break;
    let ok = true;
    let i = 0;
    while (i < granted && ok) {
      ok = client.send(type, payload);
      i++;
    }
    sent += i;
    if (i < granted) phase.giveBack(granted - i);
    if (!ok) {
      await waitForDrain(client);
      lastYield = performance.now();
    } else if (performance.now() - lastYield >= YIELD_EVERY_MS) {
      await yieldTurn();
      lastYield = performance.now();
    }
  }
  return sent;
}

/** One-way UDP messages (fire and forget, or reliable), yielding every few so they go out. */
export async function pumpUdp(client: Client, type: string, payload: Uint8Array, options: SendOptions, phase: Phase): Promise<number> {
  let sent = 0;
  for (;;) {
    const granted = phase.take(UDP_CHUNK);
    if (granted === 0) break;
    let ok = true;
    let i = 0;
    while (i < granted && ok) {
      ok = client.send(type, payload, options);
      i++;
    }
    sent += i;
    if (i < granted) phase.giveBack(granted - i);
    if (!ok) await waitForDrain(client);
    else await yieldTurn();
  }
  return sent;
}

/**
 * After the last message of every client, one `ping` request each: TCP is ordered, so once every
 * reply is in, the server has handled everything sent before it.
 */
export async function barrier(clients: Client[], timeoutMs = 30_000): Promise<void> {
  await Promise.all(clients.map((client) => client.request('ping', undefined, { timeoutMs })));
}

/**
 * Latencies in a log-linear histogram (nanoseconds; exact below 256 ns, then 128 buckets per power
 * of two, under 0.8% error), so memory stays fixed however long the run.
 */
export class Histogram {
  private readonly counts = new Float64Array(256 + 25 * 128);
  count = 0;
  private sum = 0;
  private min = Infinity;
  private max = 0;

  recordMs(ms: number): void {
    const ns = Math.min(0xffffffff, Math.max(0, Math.round(ms * 1e6)));
    this.count++;
    this.sum += ns;
    if (ns < this.min) this.min = ns;
    if (ns > this.max) this.max = ns;
    this.counts[Histogram.index(ns)]!++;
  }

  private static index(ns: number): number {
    if (ns < 256) return ns;
    const exponent = 31 - Math.clz32(ns);
    const sub = (ns >>> (exponent - 7)) & 127;
    return 256 + (exponent - 8) * 128 + sub;
  }

  /** The middle of bucket `index`, in ns. */
  private static value(index: number): number {
    if (index < 256) return index;
    const exponent = ((index - 256) >> 7) + 8;
    const sub = (index - 256) & 127;
    const width = 2 ** (exponent - 7);
    return (128 + sub) * width + width / 2;
  }

  /** Nearest-rank percentile in µs (clamped to the exact min and max). */
  percentileUs(p: number): number {
    if (this.count === 0) return NaN;
    const rank = Math.max(1, Math.ceil(p * this.count));
    let seen = 0;
    for (let i = 0; i < this.counts.length; i++) {
      seen += this.counts[i]!;
      if (seen >= rank) return Math.min(this.max, Math.max(this.min, Histogram.value(i))) / 1000;
    }
    return this.max / 1000;
  }

  get minUs(): number {
    return this.count === 0 ? NaN : this.min / 1000;
  }

  get maxUs(): number {
    return this.count === 0 ? NaN : this.max / 1000;
  }

  get meanUs(): number {
    return this.count === 0 ? NaN : this.sum / this.count / 1000;
  }
}

/**
 * Round trips: `inFlight` requests outstanding on `client`, each answered by the server's `echo`;
 * a reply starts the next request until the phase is over. Resolves when all replies are in.
 */
export async function roundTrips(client: Client, payload: Uint8Array, inFlight: number, phase: Phase, histogram: Histogram | undefined, timeoutMs: number): Promise<number> {
  let completed = 0;
  const options = { timeoutMs };
  const slot = async () => {
    while (phase.take(1) === 1) {
      const started = performance.now();
      await client.request('echo', payload, options);
      histogram?.recordMs(performance.now() - started);
      completed++;
    }
  };
  const slots: Array<Promise<void>> = [];
  for (let i = 0; i < inFlight; i++) slots.push(slot());
  await Promise.all(slots);
  return completed;
}

/** A deterministic, incompressible payload (xorshift), the same in every run. */
export function payloadOf(size: number): Uint8Array {
  const out = new Uint8Array(size);
  let state = 0x9e3779b9;
  for (let i = 0; i < size; i++) {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    out[i] = state & 0xff;
  }
  return out;
}

/** Polls `read` until the value has not changed for `quietMs` (or `maxMs` passed); returns it and when it last changed. */
export async function untilQuiet(read: () => Promise<number>, quietMs: number, maxMs: number, target?: number): Promise<{ value: number; changedAt: number }> {
  const started = performance.now();
  let value = await read();
  let changedAt = performance.now();
  while (performance.now() - started < maxMs) {
    if (target !== undefined && value >= target) break;
    await new Promise((resolve) => setTimeout(resolve, 20));
    const next = await read();
    if (next !== value) {
      value = next;
      changedAt = performance.now();
    } else if (performance.now() - changedAt >= quietMs) break;
  }
  return { value, changedAt };
}
