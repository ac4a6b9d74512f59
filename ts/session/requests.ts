/**
 * Pending requests of one connection, keyed by correlation id: bounded in number, each with a
 * deadline and an optional AbortSignal. One timer serves all deadlines (armed for the earliest),
 * so a request costs no timer of its own.
 */
import { performance } from 'node:perf_hooks';
import { AbortError, HybridwireError } from '../errors.js';
import type { Payload } from './message.js';

type Resolve = (value: Payload) => void;
type Reject = (error: Error) => void;

class Pending {
  onAbort: (() => void) | undefined = undefined;

  constructor(
    readonly type: string,
    readonly resolve: Resolve,
    readonly reject: Reject,
    readonly deadline: number,
    readonly timeoutMs: number,
    readonly signal: AbortSignal | undefined,
  ) {}
}

const ignore = (): void => {};

export class RequestTable {
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  private timer: NodeJS.Timeout | undefined;
  private timerDeadline = Infinity;
  /** The id of the request that open() registered last. */
  lastId = 0;
  // The one executor of every reply promise, which hands its functions over here: a closure per
  // request would cost an allocation more.
  private resolveNext: Resolve = ignore;
  private rejectNext: Reject = ignore;
  private readonly capture = (resolve: Resolve, reject: Reject): void => {
    this.resolveNext = resolve;
    this.rejectNext = reject;
  };

  constructor(private readonly maxPending: number) {}

  get size(): number {
    return this.pending.size;
  }

  /** Registers a request and returns the promise of its reply; its id is then `lastId`. */
  open(type: string, timeoutMs: number, signal: AbortSignal | undefined): Promise<Payload> {
    if (signal?.aborted) throw new AbortError(`request '${type}' was aborted before it was sent`, { cause: signal.reason });
    if (this.pending.size >= this.maxPending) {
      throw new HybridwireError('HW_ERR_TOO_MANY_REQUESTS', `${this.pending.size} requests are pending (maxPendingRequests)`);
    }
    let id = this.nextId;
    while (this.pending.has(id)) id = (id + 1) >>> 0 || 1;
    this.nextId = (id + 1) >>> 0 || 1;
    // `performance` imported, not the global: the global is an accessor that every read calls.
    const deadline = timeoutMs > 0 ? performance.now() + timeoutMs : Infinity;
    const reply = new Promise<Payload>(this.capture);
    const entry = new Pending(type, this.resolveNext, this.rejectNext, deadline, timeoutMs, signal);
    if (signal) this.watchAbort(id, entry, signal);
    this.pending.set(id, entry);
    if (deadline < this.timerDeadline) this.arm(deadline);
    this.lastId = id;
    return reply;
  }

  // A method of its own, so that open() itself creates no closure context.
  private watchAbort(id: number, entry: Pending, signal: AbortSignal): void {
    entry.onAbort = () => this.settle(id)?.reject(new AbortError(`request '${entry.type}' was aborted`, { cause: signal.reason }));
    signal.addEventListener('abort', entry.onAbort, { once: true });
  }

  resolve(id: number, value: Payload): boolean {
    const entry = this.settle(id);
    entry?.resolve(value);
    return entry !== undefined;
  }

  reject(id: number, error: Error): boolean {
    const entry = this.settle(id);
    entry?.reject(error);
    return entry !== undefined;
  }

  /** Fails every pending request, e.g. when the connection goes away. */
  rejectAll(error: Error): void {
    for (const id of [...this.pending.keys()]) this.settle(id)?.reject(error);
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.timerDeadline = Infinity;
  }

  private arm(deadline: number): void {
    if (this.timer) clearTimeout(this.timer);
    this.timerDeadline = deadline;
    this.timer = setTimeout(this.expire, Math.max(0, deadline - performance.now()));
    this.timer.unref();
  }

  private readonly expire = (): void => {
    this.timer = undefined;
    this.timerDeadline = Infinity;
    const now = performance.now();
    let earliest = Infinity;
    for (const [id, entry] of this.pending) {
      if (entry.deadline <= now) {
        this.settle(id);
        entry.reject(new HybridwireError('HW_ERR_REQUEST_TIMEOUT', `request '${entry.type}' got no reply within ${entry.timeoutMs} ms`));
      } else if (entry.deadline < earliest) {
        earliest = entry.deadline;
      }
    }
    if (earliest !== Infinity) this.arm(earliest);
  };

  private settle(id: number): Pending | undefined {
    const entry = this.pending.get(id);
    if (!entry) return undefined;
    this.pending.delete(id);
    if (entry.signal && entry.onAbort) entry.signal.removeEventListener('abort', entry.onAbort);
    return entry;
  }
}
