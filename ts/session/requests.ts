/**
 * Pending requests of one connection, keyed by correlation id: bounded in number, each with a
 * deadline and an optional AbortSignal. One timer serves all deadlines (armed for the earliest),
 * so a request costs no timer of its own.
 *
 * Ids are handed out in order, so the table is an array indexed by the id's low bits rather than a
 * Map: with a few dozen requests in flight, a Map's inserts, deletes and the rehashing as it grows
 * and shrinks cost several times the array's one store and one load per request.
 */
import { performance } from 'node:perf_hooks';
import { AbortError, HybridwireError } from '../errors.js';
import type { Payload } from './message.js';

type Resolve = (value: Payload) => void;
type Reject = (error: Error) => void;

class Pending {
  onAbort: (() => void) | undefined = undefined;

  constructor(
    readonly id: number,
    readonly type: string,
    readonly resolve: Resolve,
    readonly reject: Reject,
    readonly deadline: number,
    readonly timeoutMs: number,
    readonly signal: AbortSignal | undefined,
  ) {}
}

const ignore = (): void => {};
const INITIAL_SLOTS = 16;
/** A table grown past this many slots goes back to INITIAL_SLOTS when it empties. */
const KEEP_SLOTS = 1024;
/** The slots of a table that has not had a request yet: a session that never sends one costs none. */
const NO_SLOTS: ReadonlyArray<Pending | undefined> = [];

// The one executor of every reply promise, which hands its functions over here (it runs at once,
// inside `new Promise`): a closure per request, or per table, would cost an allocation more.
let resolveNext: Resolve = ignore;
let rejectNext: Reject = ignore;
function capture(resolve: Resolve, reject: Reject): void {
  resolveNext = resolve;
  rejectNext = reject;
}

export class RequestTable {
  /** slots[id & mask] holds the pending request of that id; never more than half are taken. */
  private slots = NO_SLOTS as Array<Pending | undefined>;
  private mask = 0;
  private count = 0;
  private nextId = 1;
  private timer: NodeJS.Timeout | undefined;
  private timerDeadline = Infinity;
  /** The timer's callback, made when a table first needs a timer. */
  private expireLater: (() => void) | undefined;
  /** The id of the request that open() registered last. */
  lastId = 0;

  constructor(private readonly maxPending: number) {}

  get size(): number {
    return this.count;
  }

  /** Registers a request and returns the promise of its reply; its id is then `lastId`. */
  open(type: string, timeoutMs: number, signal: AbortSignal | undefined): Promise<Payload> {
    if (signal?.aborted) throw new AbortError(`request '${type}' was aborted before it was sent`, { cause: signal.reason });
    if (this.count >= this.maxPending) {
      throw new HybridwireError('HW_ERR_TOO_MANY_REQUESTS', `${this.count} requests are pending (maxPendingRequests)`);
    }
    if (this.count * 2 >= this.slots.length) this.grow();
    // A slot is still taken only by a request that has been pending for as many ids as there are
    // slots: skip such ids (at least half of the slots are free).
    let id = this.nextId;
    while (this.slots[id & this.mask] !== undefined) id = (id + 1) >>> 0 || 1;
    this.nextId = (id + 1) >>> 0 || 1;
    // `performance` imported, not the global: the global is an accessor that every read calls.
    const deadline = timeoutMs > 0 ? performance.now() + timeoutMs : Infinity;
    const reply = new Promise<Payload>(capture);
    const entry = new Pending(id, type, resolveNext, rejectNext, deadline, timeoutMs, signal);
    if (signal) this.watchAbort(id, entry, signal);
    this.slots[id & this.mask] = entry;
    this.count++;
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
    for (const entry of this.slots) if (entry !== undefined) this.settle(entry.id)?.reject(error);
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.timerDeadline = Infinity;
  }

  private arm(deadline: number): void {
    if (this.timer) clearTimeout(this.timer);
    this.timerDeadline = deadline;
    this.expireLater ??= () => this.expire();
    this.timer = setTimeout(this.expireLater, Math.max(0, deadline - performance.now()));
    this.timer.unref();
  }

  private expire(): void {
    this.timer = undefined;
    this.timerDeadline = Infinity;
    const now = performance.now();
    let earliest = Infinity;
    for (const entry of this.slots) {
      if (entry === undefined) continue;
      if (entry.deadline <= now) {
        this.settle(entry.id);
        entry.reject(new HybridwireError('HW_ERR_REQUEST_TIMEOUT', `request '${entry.type}' got no reply within ${entry.timeoutMs} ms`));
      } else if (entry.deadline < earliest) {
        earliest = entry.deadline;
      }
    }
    if (earliest !== Infinity) this.arm(earliest);
  }

  private settle(id: number): Pending | undefined {
    const slot = id & this.mask;
    const entry = this.slots[slot];
    // An id the table never gave out, or gave out and settled, finds an empty slot or another id.
    if (entry === undefined || entry.id !== id) return undefined;
    this.slots[slot] = undefined;
    if (--this.count === 0 && this.slots.length > KEEP_SLOTS) {
      this.slots = new Array<Pending | undefined>(INITIAL_SLOTS).fill(undefined);
      this.mask = INITIAL_SLOTS - 1;
    }
    if (entry.signal && entry.onAbort) entry.signal.removeEventListener('abort', entry.onAbort);
    return entry;
  }

  /**
   * Doubles the table. Two pending ids never share a slot after it: ids equal modulo the new size
   * are equal modulo the old one, where they had different slots.
   */
  private grow(): void {
    const slots = new Array<Pending | undefined>(Math.max(INITIAL_SLOTS, this.slots.length * 2)).fill(undefined);
    const mask = slots.length - 1;
    for (const entry of this.slots) if (entry !== undefined) slots[entry.id & mask] = entry;
    this.slots = slots;
    this.mask = mask;
  }
}
