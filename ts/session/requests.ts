/**
 * Pending requests of one connection, keyed by correlation id: bounded in number, each with a
 * deadline and an optional AbortSignal. One timer serves all deadlines (armed for the earliest),
 * so a request costs no timer of its own.
 *
 * Ids are handed out in order, so the table is indexed by the id's low bits rather than a Map:
 * with a few dozen requests in flight, a Map's inserts, deletes and the rehashing as it grows and
 * shrinks cost several times the table's stores and loads per request. A request's fields live in
 * parallel arrays (one slot each), not in an object: all a request allocates is its promise.
 */
import { performance } from 'node:perf_hooks';
import { AbortError, HybridwireError } from '../errors.js';
import type { Payload } from './message.js';

type Resolve = (value: Payload) => void;
type Reject = (error: Error) => void;

const ignore = (): void => {};
const INITIAL_SLOTS = 16;
/** A table grown past this many slots goes back to INITIAL_SLOTS when it empties. */
const KEEP_SLOTS = 1024;

// The one executor of every reply promise, which hands its functions over here (it runs at once,
// inside `new Promise`): a closure per request, or per table, would cost an allocation more.
let resolveNext: Resolve = ignore;
let rejectNext: Reject = ignore;
function capture(resolve: Resolve, reject: Reject): void {
  resolveNext = resolve;
  rejectNext = reject;
}

export class RequestTable {
  /**
   * Slot `id & mask` of each array holds the request of that id: its id (0 when the slot is
   * free; ids are never 0), type, promise functions, deadline, timeout and AbortSignal with its
   * listener. Never more than half of the slots are taken. Made with the first request.
   */
  private ids = new Uint32Array(0);
  private types: Array<string | undefined> = [];
  private resolves: Array<Resolve | undefined> = [];
  private rejects: Array<Reject | undefined> = [];
  private deadlines = new Float64Array(0);
  private timeouts = new Float64Array(0);
  private signals: Array<AbortSignal | undefined> = [];
  private aborts: Array<(() => void) | undefined> = [];
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
    if (this.count * 2 >= this.ids.length) this.resize(Math.max(INITIAL_SLOTS, this.ids.length * 2));
    // A slot is still taken only by a request that has been pending for as many ids as there are
    // slots: skip such ids (at least half of the slots are free).
    const ids = this.ids;
    const mask = this.mask;
    let id = this.nextId;
    while (ids[id & mask] !== 0) id = (id + 1) >>> 0 || 1;
    this.nextId = (id + 1) >>> 0 || 1;
    // `performance` imported, not the global: the global is an accessor that every read calls.
    const deadline = timeoutMs > 0 ? performance.now() + timeoutMs : Infinity;
    const reply = new Promise<Payload>(capture);
    const slot = id & mask;
    ids[slot] = id;
    this.types[slot] = type;
    this.resolves[slot] = resolveNext;
    this.rejects[slot] = rejectNext;
    this.deadlines[slot] = deadline;
    this.timeouts[slot] = timeoutMs;
    if (signal) this.watchAbort(id, slot, type, signal);
    this.count++;
    if (deadline < this.timerDeadline) this.arm(deadline);
    this.lastId = id;
    return reply;
  }

  // A method of its own, so that open() itself creates no closure context.
  private watchAbort(id: number, slot: number, type: string, signal: AbortSignal): void {
    const onAbort = (): void => {
      this.take(id)?.(new AbortError(`request '${type}' was aborted`, { cause: signal.reason }));
    };
    this.signals[slot] = signal;
    this.aborts[slot] = onAbort;
    signal.addEventListener('abort', onAbort, { once: true });
  }

  resolve(id: number, value: Payload): boolean {
    const slot = this.remove(id);
    if (slot < 0) return false;
    const resolve = this.resolves[slot]!;
    this.clear(slot);
    resolve(value);
    return true;
  }

  reject(id: number, error: Error): boolean {
    const reject = this.take(id);
    reject?.(error);
    return reject !== undefined;
  }

  /** Fails every pending request, e.g. when the connection goes away. */
  rejectAll(error: Error): void {
    const ids = this.ids;
    for (let slot = 0; slot < ids.length; slot++) if (ids[slot] !== 0) this.take(ids[slot]!)?.(error);
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
    // The arrays as they are now: taking the last request may replace them (see clear()).
    const { ids, deadlines, types, timeouts } = this;
    for (let slot = 0; slot < ids.length; slot++) {
      if (ids[slot] === 0) continue;
      const deadline = deadlines[slot]!;
      if (deadline <= now) {
        const message = `request '${types[slot]}' got no reply within ${timeouts[slot]} ms`;
        this.take(ids[slot]!)?.(new HybridwireError('HW_ERR_REQUEST_TIMEOUT', message));
      } else if (deadline < earliest) {
        earliest = deadline;
      }
    }
    if (earliest !== Infinity) this.arm(earliest);
  }

  /** Removes request `id` and returns its reject function; undefined for an id not pending. */
  private take(id: number): Reject | undefined {
    const slot = this.remove(id);
    if (slot < 0) return undefined;
    const reject = this.rejects[slot]!;
    this.clear(slot);
    return reject;
  }

  /** Frees the slot of request `id` (its functions and type stay until clear()); -1 if it is not pending. */
  private remove(id: number): number {
    const slot = id & this.mask;
    // An id the table never gave out, or gave out and settled, finds a free slot or another id.
    if (id === 0 || this.ids[slot] !== id) return -1;
    this.ids[slot] = 0;
    this.count--;
    const signal = this.signals[slot];
    if (signal !== undefined) {
      signal.removeEventListener('abort', this.aborts[slot]!);
      this.signals[slot] = undefined;
      this.aborts[slot] = undefined;
    }
    return slot;
  }

  private clear(slot: number): void {
    this.types[slot] = undefined;
    this.resolves[slot] = undefined;
    this.rejects[slot] = undefined;
    if (this.count === 0 && this.ids.length > KEEP_SLOTS) this.resize(INITIAL_SLOTS);
  }

  /**
   * Moves the pending requests into tables of `size` slots (a power of two, at least twice as many
   * as pending). Two pending ids never share a slot after a doubling: ids equal modulo the new size
   * are equal modulo the old one, where they had different slots.
   */
  private resize(size: number): void {
    const { ids, types, resolves, rejects, deadlines, timeouts, signals, aborts } = this;
    this.ids = new Uint32Array(size);
    this.types = new Array<string | undefined>(size).fill(undefined);
    this.resolves = new Array<Resolve | undefined>(size).fill(undefined);
    this.rejects = new Array<Reject | undefined>(size).fill(undefined);
    this.deadlines = new Float64Array(size);
    this.timeouts = new Float64Array(size);
    this.signals = new Array<AbortSignal | undefined>(size).fill(undefined);
    this.aborts = new Array<(() => void) | undefined>(size).fill(undefined);
    this.mask = size - 1;
    for (let from = 0; from < ids.length; from++) {
      const id = ids[from]!;
      if (id === 0) continue;
      const to = id & this.mask;
      this.ids[to] = id;
      this.types[to] = types[from];
      this.resolves[to] = resolves[from];
      this.rejects[to] = rejects[from];
      this.deadlines[to] = deadlines[from]!;
      this.timeouts[to] = timeouts[from]!;
      this.signals[to] = signals[from];
      this.aborts[to] = aborts[from];
    }
  }
}
