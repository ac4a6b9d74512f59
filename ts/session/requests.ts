/**
 * Pending requests of one connection, keyed by correlation id: bounded in number, each with a
 * timeout and an optional AbortSignal.
 */
import { AbortError, HybridwireError } from '../errors.js';
import type { Payload } from './message.js';

interface Pending {
  resolve: (value: Payload) => void;
  reject: (error: Error) => void;
  timer: NodeJS.Timeout | undefined;
  signal: AbortSignal | undefined;
  onAbort: (() => void) | undefined;
}

export class RequestTable {
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;

  constructor(private readonly maxPending: number) {}

  get size(): number {
    return this.pending.size;
  }

  /** Registers a request and returns its id and the promise of its reply. */
  open(type: string, timeoutMs: number, signal: AbortSignal | undefined): { id: number; reply: Promise<Payload> } {
    if (signal?.aborted) throw new AbortError(`request '${type}' was aborted before it was sent`, { cause: signal.reason });
    if (this.pending.size >= this.maxPending) {
      throw new HybridwireError('HW_ERR_TOO_MANY_REQUESTS', `${this.pending.size} requests are pending (maxPendingRequests)`);
    }
    let id = this.nextId;
    while (this.pending.has(id)) id = (id + 1) >>> 0 || 1;
    this.nextId = (id + 1) >>> 0 || 1;
    let entry!: Pending;
    const reply = new Promise<Payload>((resolve, reject) => {
      entry = { resolve, reject, timer: undefined, signal, onAbort: undefined };
    });
    if (timeoutMs > 0) {
      entry.timer = setTimeout(() => {
        this.settle(id)?.reject(new HybridwireError('HW_ERR_REQUEST_TIMEOUT', `request '${type}' got no reply within ${timeoutMs} ms`));
      }, timeoutMs);
      entry.timer.unref?.();
    }
    if (signal) {
      entry.onAbort = () => this.settle(id)?.reject(new AbortError(`request '${type}' was aborted`, { cause: signal.reason }));
      signal.addEventListener('abort', entry.onAbort, { once: true });
    }
    this.pending.set(id, entry);
    return { id, reply };
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
  }

  private settle(id: number): Pending | undefined {
    const entry = this.pending.get(id);
    if (!entry) return undefined;
    this.pending.delete(id);
    if (entry.timer) clearTimeout(entry.timer);
    if (entry.signal && entry.onAbort) entry.signal.removeEventListener('abort', entry.onAbort);
    return entry;
  }
}
