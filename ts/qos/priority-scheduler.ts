/**
 * The order in which queued messages leave: deficit round robin over three FIFO queues, one per
 * priority, weighted 8 (high) : 4 (normal) : 1 (low) in bytes.
 *
 * Each turn a queue is given WEIGHT × QUANTUM_BYTES of credit and sends messages from its head
 * while their size fits in its credit; what is left carries over to its next turn, and a queue
 * that empties loses its credit. Turns go high, normal, low, high...
 *
 * Guarantees, while messages wait:
 * - High overtakes: in each round high sends up to 32 KiB before normal sends anything, and
 *   normal 16 KiB before low; a burst of small high-priority messages queued behind normal and
 *   low ones leaves first.
 * - Nothing starves: with every queue busy, high, normal and low get 8/13, 4/13 and 1/13 of the
 *   bytes; a message of s bytes at the head of its queue leaves within ceil(s / (weight × 4 KiB))
 *   rounds, and one round sends at most 52 KiB plus one message per queue.
 * - Within a priority, messages leave in the order they were sent.
 */
import { HybridwireError } from '../errors.js';

export type Priority = 'high' | 'normal' | 'low';

export const PRIORITY_NAMES: readonly Priority[] = ['high', 'normal', 'low'];
export const HIGH = 0;
export const NORMAL = 1;
export const LOW = 2;
export const PRIORITY_WEIGHTS: readonly number[] = [8, 4, 1];
export const QUANTUM_BYTES = 4096;

export interface Sized {
  /** Bytes the message takes on the wire (its credit cost). */
  readonly size: number;
}

export class PriorityScheduler<T extends Sized> {
  /** Messages waiting, and their bytes. */
  length = 0;
  bytes = 0;
  private readonly queues: T[][] = [[], [], []];
  private readonly heads = [0, 0, 0];
  private readonly credits = [0, 0, 0];
  /** The queue whose turn it is; LOW before anything waits, so that high has the first turn. */
  private turn = LOW;

  /** How many messages of this priority wait. */
  waiting(priority: number): number {
    return this.queues[priority]!.length - this.heads[priority]!;
  }

  push(priority: number, message: T): void {
    this.queues[priority]!.push(message);
    this.length++;
    this.bytes += message.size;
  }

  /** The priority of the message that leaves next; call only while something waits. */
  nextPriority(): number {
    for (;;) {
      const turn = this.turn;
      const queue = this.queues[turn]!;
      const head = this.heads[turn]!;
      if (head < queue.length) {
        if (queue[head]!.size <= this.credits[turn]!) return turn;
      } else {
        this.credits[turn] = 0;
      }
      const next = turn === LOW ? HIGH : turn + 1;
      this.turn = next;
      this.credits[next]! += PRIORITY_WEIGHTS[next]! * QUANTUM_BYTES;
    }
  }

  /** The message that leaves next (see nextPriority()), without taking it. */
  peek(): T {
    const priority = this.nextPriority();
    return this.queues[priority]![this.heads[priority]!]!;
  }

  /** Takes the message that leaves next; call only while something waits. */
  shift(): T {
    const priority = this.nextPriority();
    const queue = this.queues[priority]!;
    const head = this.heads[priority]!;
    const message = queue[head]!;
    queue[head] = undefined as unknown as T;
    this.credits[priority]! -= message.size;
    if (head + 1 === queue.length) {
      queue.length = 0;
      this.heads[priority] = 0;
    } else {
      this.heads[priority] = head + 1;
    }
    this.length--;
    this.bytes -= message.size;
    if (this.length === 0) this.reset();
    return message;
  }

  /** Drops everything; calls `each` with each message's priority first. */
  clear(each?: (priority: number) => void): void {
    for (let priority = HIGH; priority <= LOW; priority++) {
      if (each !== undefined) for (let i = this.waiting(priority); i > 0; i--) each(priority);
      this.queues[priority]!.length = 0;
      this.heads[priority] = 0;
    }
    this.length = 0;
    this.bytes = 0;
    this.reset();
  }

  private reset(): void {
    this.turn = LOW;
    this.credits.fill(0);
  }
}

/** The index of a SendOptions priority (undefined is normal); anything else is refused. */
export function priorityIndex(priority: unknown): number {
  if (priority === undefined || priority === 'normal') return NORMAL;
  if (priority === 'high') return HIGH;
  if (priority === 'low') return LOW;
  return -1;
}

/** priorityIndex(), throwing HW_ERR_INVALID_ARGUMENT for a value that is not a priority. */
export function checkedPriority(priority: unknown): number {
  const index = priorityIndex(priority);
  if (index < 0) throw new HybridwireError('HW_ERR_INVALID_ARGUMENT', `priority must be 'high', 'normal' or 'low', got ${String(priority)}`);
  return index;
}
