/**
 * Messages a reliable endpoint keeps while its native send buffer is full (the 'wait' overflow
 * policy), in order, until room returns.
 */
import { SendStatus } from '../native/layouts.js';
import type { NativeReliableEndpoint } from '../native/addon.js';

interface Waiting {
  payload: Uint8Array;
  reliability: number;
  channel: number;
  flags: number;
}

/** prefix[0, prefixLength) followed by body, in one new buffer. */
export function join(prefix: Uint8Array, prefixLength: number, body: Uint8Array | string): Buffer {
  const bodyLength = typeof body === 'string' ? Buffer.byteLength(body) : body.length;
  const joined = Buffer.allocUnsafe(prefixLength + bodyLength);
  joined.set(prefix.subarray(0, prefixLength), 0);
  if (typeof body === 'string') joined.write(body, prefixLength);
  else joined.set(body, prefixLength);
  return joined;
}

export class WaitQueue {
  private waiting: Array<Waiting | undefined> = [];
  private head = 0;
  /** Payload bytes waiting. */
  bytes = 0;

  get empty(): boolean {
    return this.head === this.waiting.length;
  }

  push(payload: Uint8Array, reliability: number, channel: number, flags: number): void {
    this.waiting.push({ payload, reliability, channel, flags });
    this.bytes += payload.length;
  }

  /** Moves waiting messages, oldest first, into the native send buffer while it takes them; true if any moved. */
  moveInto(handle: NativeReliableEndpoint): boolean {
    let moved = false;
    while (this.head < this.waiting.length) {
      const next = this.waiting[this.head]!;
      if (handle.send(next.payload, next.reliability, next.channel, next.flags) !== SendStatus.OK) break;
      this.waiting[this.head++] = undefined;
      this.bytes -= next.payload.length;
      moved = true;
    }
    if (this.empty && this.head > 0) this.clear();
    return moved;
  }

  clear(): void {
    this.waiting = [];
    this.head = 0;
    this.bytes = 0;
  }
}
