/**
 * A UDP relay on 127.0.0.1 that mistreats datagrams, for tests: it drops, duplicates, reorders,
 * delays and corrupts them at configurable rates, from a seeded PRNG so that a run can be
 * reproduced, and counts what it did.
 *
 * The client sends to `proxy.port`; the proxy forwards from a second socket to the target, and
 * relays the target's replies back to the client address it last heard from. Both directions
 * get the same treatment. Held datagrams (delayed or reordered) wait in a bounded queue served
 * by one timer; a datagram that finds the queue full is dropped and counted as overflowed.
 */
import dgram from 'node:dgram';
import { once } from 'node:events';

export type Direction = 'forward' | 'backward';

export interface ChaosRates {
  /** Probability that a datagram is dropped. */
  loss: number;
  /** Probability that a datagram is sent twice. */
  duplicate: number;
  /** Probability that a datagram is held back `reorderDelayMs` so that later ones overtake it. */
  reorder: number;
  /** Probability that one bit of a datagram (at or after `corruptFrom`) is flipped. */
  corrupt: number;
  /** Every datagram is delayed by a uniform random time in [0, delayMs]. */
  delayMs: number;
  reorderDelayMs: number;
}

export interface UdpChaosProxyOptions extends Partial<ChaosRates> {
  target: { port: number; address?: string };
  seed?: number;
  /** Datagrams held for delay or reordering at most. Default 10000. */
  maxQueued?: number;
  /** First byte offset that corruption may touch (8 spares the session token). Default 0. */
  corruptFrom?: number;
  /** Returns false to drop a datagram deliberately (counted as filtered, not as loss). */
  filter?: (datagram: Buffer, direction: Direction) => boolean;
}

export interface ChaosCounts {
  received: number;
  forwarded: number;
  forwardedForward: number;
  forwardedBackward: number;
  dropped: number;
  duplicated: number;
  reordered: number;
  delayed: number;
  corrupted: number;
  overflowed: number;
  filtered: number;
}

interface Held {
  due: number;
  order: number;
  datagram: Buffer;
  direction: Direction;
}

const LOOPBACK = '127.0.0.1';

/** mulberry32: small, fast and good enough to pick fates; the same seed gives the same run. */
function prng(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export class UdpChaosProxy {
  readonly rates: ChaosRates;
  readonly counts: ChaosCounts = {
    received: 0,
    forwarded: 0,
    forwardedForward: 0,
    forwardedBackward: 0,
    dropped: 0,
    duplicated: 0,
    reordered: 0,
    delayed: 0,
    corrupted: 0,
    overflowed: 0,
    filtered: 0,
  };
  filter: ((datagram: Buffer, direction: Direction) => boolean) | undefined;

  private readonly random: () => number;
  private readonly maxQueued: number;
  private readonly corruptFrom: number;
  private readonly targetPort: number;
  private readonly targetAddress: string;
  private client: { port: number; address: string } | undefined;
  // A binary min-heap on (due, order), so that equal due times keep arrival order.
  private readonly heap: Held[] = [];
  private order = 0;
  private timer: NodeJS.Timeout | undefined;
  private timerDue = Infinity;
  private closed = false;

  private constructor(
    private readonly front: dgram.Socket,
    private readonly back: dgram.Socket,
    options: UdpChaosProxyOptions,
  ) {
    this.rates = {
      loss: options.loss ?? 0,
      duplicate: options.duplicate ?? 0,
      reorder: options.reorder ?? 0,
      corrupt: options.corrupt ?? 0,
      delayMs: options.delayMs ?? 0,
      reorderDelayMs: options.reorderDelayMs ?? 5,
    };
    this.random = prng(options.seed ?? 1);
    this.maxQueued = options.maxQueued ?? 10_000;
    this.corruptFrom = options.corruptFrom ?? 0;
    this.targetPort = options.target.port;
    this.targetAddress = options.target.address ?? LOOPBACK;
    this.filter = options.filter;
    front.on('message', (datagram, from) => {
      this.client = { port: from.port, address: from.address };
      this.handle(datagram, 'forward');
    });
    back.on('message', (datagram) => this.handle(datagram, 'backward'));
  }

  /** Binds the relay's two sockets on 127.0.0.1 (ephemeral ports). */
  static async start(options: UdpChaosProxyOptions): Promise<UdpChaosProxy> {
    const front = dgram.createSocket('udp4');
    const back = dgram.createSocket('udp4');
    front.bind(0, LOOPBACK);
    back.bind(0, LOOPBACK);
    await Promise.all([once(front, 'listening'), once(back, 'listening')]);
    for (const socket of [front, back]) {
      socket.setRecvBufferSize(4 * 1024 * 1024);
      socket.setSendBufferSize(4 * 1024 * 1024);
    }
    return new UdpChaosProxy(front, back, options);
  }

  /** Where clients send. */
  get port(): number {
    return this.front.address().port;
  }

  /** Datagrams held for delay or reordering now. */
  get queued(): number {
    return this.heap.length;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.heap.length = 0;
    const closing = [once(this.front, 'close'), once(this.back, 'close')];
    this.front.close();
    this.back.close();
    await Promise.all(closing);
  }

  private handle(datagram: Buffer, direction: Direction): void {
    if (this.closed) return;
    this.counts.received++;
    if (this.filter !== undefined && !this.filter(datagram, direction)) {
      this.counts.filtered++;
      return;
    }
    const rates = this.rates;
    if (this.random() < rates.loss) {
      this.counts.dropped++;
      return;
    }
    const copies = this.random() < rates.duplicate ? 2 : 1;
    if (copies === 2) this.counts.duplicated++;
    for (let copy = 0; copy < copies; copy++) {
      let data = datagram;
      if (this.random() < rates.corrupt && datagram.length > this.corruptFrom) {
        data = Buffer.from(datagram);
        const at = this.corruptFrom + Math.floor(this.random() * (datagram.length - this.corruptFrom));
        data[at]! ^= 1 << Math.floor(this.random() * 8);
        this.counts.corrupted++;
      }
      let delay = rates.delayMs > 0 ? this.random() * rates.delayMs : 0;
      if (this.random() < rates.reorder) {
        delay += rates.reorderDelayMs;
        this.counts.reordered++;
      }
      if (delay <= 0) {
        this.forward(data, direction);
      } else {
        this.hold(data, direction, delay);
      }
    }
  }

  private forward(datagram: Buffer, direction: Direction): void {
    if (direction === 'forward') {
      this.counts.forwardedForward++;
      this.back.send(datagram, this.targetPort, this.targetAddress);
    } else {
      if (this.client === undefined) return;
      this.counts.forwardedBackward++;
      this.front.send(datagram, this.client.port, this.client.address);
    }
    this.counts.forwarded++;
  }

  private hold(datagram: Buffer, direction: Direction, delay: number): void {
    if (this.heap.length >= this.maxQueued) {
      this.counts.overflowed++;
      return;
    }
    this.counts.delayed++;
    this.push({ due: performance.now() + delay, order: this.order++, datagram, direction });
    this.arm();
  }

  private arm(): void {
    const next = this.heap[0];
    if (next === undefined || next.due >= this.timerDue) return;
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timerDue = next.due;
    this.timer = setTimeout(() => this.release(), Math.max(0, next.due - performance.now()));
  }

  private release(): void {
    this.timer = undefined;
    this.timerDue = Infinity;
    const now = performance.now();
    while (this.heap.length > 0 && this.heap[0]!.due <= now) {
      const held = this.pop();
      this.forward(held.datagram, held.direction);
    }
    this.arm();
  }

  private static before(a: Held, b: Held): boolean {
    return a.due < b.due || (a.due === b.due && a.order < b.order);
  }

  private push(item: Held): void {
    const heap = this.heap;
    heap.push(item);
    for (let i = heap.length - 1; i > 0; ) {
      const parent = (i - 1) >> 1;
      if (!UdpChaosProxy.before(heap[i]!, heap[parent]!)) break;
      [heap[i], heap[parent]] = [heap[parent]!, heap[i]!];
      i = parent;
    }
  }

  private pop(): Held {
    const heap = this.heap;
    const top = heap[0]!;
    const last = heap.pop()!;
    if (heap.length > 0) {
      heap[0] = last;
      for (let i = 0; ; ) {
        const left = 2 * i + 1;
        const right = left + 1;
        let smallest = i;
        if (left < heap.length && UdpChaosProxy.before(heap[left]!, heap[smallest]!)) smallest = left;
        if (right < heap.length && UdpChaosProxy.before(heap[right]!, heap[smallest]!)) smallest = right;
        if (smallest === i) break;
        [heap[i], heap[smallest]] = [heap[smallest]!, heap[i]!];
        i = smallest;
      }
    }
    return top;
  }
}
