/**
 * Reliable UDP for one peer: a typed wrapper over the native sans-IO state machine
 * (native/core/reliable/endpoint.h). It owns no socket. Its owner feeds it the datagrams that
 * arrive for this peer (with the 8-byte session token checked and removed) and gets the
 * datagrams to send (token included) through `onDatagram`; the wrapper keeps the clock, one
 * timer, and the batching: everything sent in one event-loop turn leaves at the end of the turn
 * (or after `batchDelayMs`), small messages coalesced and acknowledgements riding along.
 *
 * ```ts
 * const endpoint = new ReliableEndpoint({ token, onDatagram: (d) => socket.send(d, port, host) });
 * socket.on('message', (d) => { if (hasToken(d)) endpoint.receive(d.subarray(8)); });
 * endpoint.on('message', (payload, channel, reliability) => handle(payload));
 * if (!endpoint.send(bytes, { reliable: true, channel: 2 })) await once(endpoint, 'drain');
 * ```
 */
import { EventEmitter } from 'node:events';
import { native, type NativeReliableEndpoint } from '../native/addon.js';
import {
  DELIVERY_ROW_WIDTH,
  DeliveryKind,
  DeliveryRow,
  ENDPOINT_STATE_COUNT,
  ENDPOINT_STAT_COUNT,
  EndpointState,
  LENGTH_MASK,
  SendStatus,
  SOCKET_ROW_WIDTH,
  SocketRow,
} from '../native/layouts.js';
import { HybridwireError } from '../errors.js';
import {
  checkPolicy,
  Reliability,
  resolveEndpointOptions,
  type ReliabilityValue,
  type OverflowPolicy,
  type ReliableEndpointOptions,
  type ReliableSendOptions,
} from './endpoint-options.js';
import { readStats, type ReliableStats } from './endpoint-stats.js';
import { join, WaitQueue } from './wait-queue.js';

export { Reliability, isSpan } from './endpoint-options.js';
export type { ReliabilityValue, OverflowPolicy, ReliableEndpointOptions, ReliableSendOptions } from './endpoint-options.js';
export type { ReliableStats } from './endpoint-stats.js';
export { ReassemblyBudget } from './reassembly-budget.js';

interface ReliableEndpointEvents {
  /** A message. Its payload is a view into the received datagram when it came whole in one. */
  message: [payload: Buffer, channel: number, reliability: ReliabilityValue, flags: number];
  /** A frame of a type the reliable layer does not own (session frames), in arrival order. */
  frame: [type: number, flags: number, channel: number, sequence: number, payload: Buffer];
  drain: [];
  /**
   * HW_ERR_REASSEMBLY_TIMEOUT: a reliable message the peer was sending (partial, or whole and
   * waiting for the gap before it) got no fragment for reassemblyTimeoutMs. Its fragments were
   * acknowledged, so rather than drop it as if delivered the endpoint has closed: the owner tells
   * the peer (a session fails with this code). As with any EventEmitter, an 'error' nobody listens
   * for is thrown (from the endpoint's timer).
   */
  error: [error: HybridwireError];
}

const INITIAL_ROWS = 1024;
const INITIAL_OUTPUT = 64 * 1024;
const FLUSH_DATAGRAMS = 64;
const PASS_THROUGH_FLAGS = 0x01 | 0x02 | 0x10 | 0x20 | 0x40;

const EMPTY = Buffer.alloc(0);

/**
 * The slab of endpoints that send through onDatagrams, shared: each flush's datagrams are sent
 * (or copied) before onDatagrams returns, so one slab serves every endpoint of the process. It
 * grows to hold FLUSH_DATAGRAMS datagrams of the base size or 16 of the largest in use.
 */
let batchSlab = Buffer.allocUnsafeSlow(0);
let batchSlabInUse = false;

export class ReliableEndpoint extends EventEmitter<ReliableEndpointEvents> {
  readonly mtu: number;
  readonly maxMtu: number;
  readonly window: number;
  readonly sendBufferBytes: number;
  readonly batchDelayMs: number;
  readonly overflow: OverflowPolicy;
  readonly reassemblyTimeoutMs: number;

  private readonly handle: NativeReliableEndpoint;
  private readonly onDatagram: ((datagram: Buffer) => void) | undefined;
  private readonly onDatagrams: ((slab: Buffer, offset: number, lengths: Uint32Array, count: number) => void) | undefined;
  private readonly clock: () => number;
  private output = Buffer.allocUnsafe(INITIAL_OUTPUT);
  private rows = new Uint32Array(INITIAL_ROWS * DELIVERY_ROW_WIDTH);
  private readonly state = new Uint32Array(ENDPOINT_STATE_COUNT);
  /** Large copied deliveries arrive in Buffers of their own, here (see the binding). */
  private readonly extras: Array<Buffer | undefined> = [];
  private slab: Buffer;
  private slabPosition = 0;
  private readonly lengths = new Uint32Array(FLUSH_DATAGRAMS);
  private readonly statValues = new Float64Array(ENDPOINT_STAT_COUNT);
  private readonly waiting = new WaitQueue();
  private droppedUnreliable = 0;
  private needDrain = false;
  private flushScheduled = false;
  private readonly flushLater = (): void => this.flush();
  private timer: NodeJS.Timeout | undefined;
  private timerDue = -1;
  // Node runs timers before it reads the sockets: a deadline met during a long turn would be
  // judged before the acknowledgements already waiting are seen. So the timer only schedules
  // the work for after this turn's I/O.
  private readonly onTimer = (): void => {
    setImmediate(this.onDeadline);
  };
  private readonly onDeadline = (): void => this.fire();
  private receiving = false;
  private readonly backlog: Uint8Array[] = [];
  private closed = false;

  constructor(options: ReliableEndpointOptions) {
    super();
    const resolved = resolveEndpointOptions(options);
    this.mtu = resolved.mtu;
    this.maxMtu = resolved.maxMtu;
    this.window = resolved.window;
    this.sendBufferBytes = resolved.sendBufferBytes;
    this.batchDelayMs = resolved.batchDelayMs;
    this.overflow = resolved.overflow;
    this.reassemblyTimeoutMs = resolved.reassemblyTimeoutMs;
    this.onDatagrams = typeof options.onDatagrams === 'function' ? options.onDatagrams : undefined;
    this.onDatagram = this.onDatagrams === undefined ? options.onDatagram : undefined;
    this.clock = options.now ?? (() => performance.now());
    this.handle = new native.ReliableEndpoint(options.token, resolved.native, options.budget?.handle);
    this.handle.setOutputs(this.output, this.rows, this.state, this.extras);
    // With onDatagrams the shared slab is used (a slab of its own only when flushing re-entrantly).
    this.slab = this.onDatagrams === undefined ? Buffer.allocUnsafe(this.mtu * FLUSH_DATAGRAMS) : EMPTY;
  }

  /**
   * Queues a message: unreliable by default; `reliable: true` retransmits it until acknowledged,
   * delivered in order on its channel unless `ordered: false`. A loss on one channel never holds
   * back another. Returns false when the window and send buffer are full (the message is then
   * handled by the overflow policy) and 'drain' follows when there is room again. Throws
   * HW_ERR_FRAME_TOO_LARGE for a message that could never fit the buffers.
   */
  send(payload: Uint8Array, options?: ReliableSendOptions): boolean {
    return this.sendJoined(undefined, 0, payload, options);
  }

  /**
   * send() of `prefix[0, prefixLength)` followed by `body` (a string as UTF-8), without joining
   * them into a new buffer first: the native side copies both into its send buffer at once.
   */
  sendParts(prefix: Uint8Array, prefixLength: number, body: Uint8Array | string, options?: ReliableSendOptions): boolean {
    return this.sendJoined(prefix, prefixLength, body, options);
  }

  private sendJoined(prefix: Uint8Array | undefined, prefixLength: number, body: Uint8Array | string, options: ReliableSendOptions | undefined): boolean {
    if (this.closed) throw new HybridwireError('HW_ERR_CONNECTION_CLOSED', 'the endpoint is closed');
    let reliability: number = Reliability.UNRELIABLE;
    let channel = 0;
    let flags = 0;
    let policy = this.overflow;
    if (options !== undefined) {
      if (options.reliable === true) {
        reliability = options.ordered === false ? Reliability.RELIABLE_UNORDERED : Reliability.RELIABLE_ORDERED;
      }
      if (options.channel !== undefined) channel = options.channel;
      if (options.flags !== undefined) flags = options.flags;
      if (options.overflow !== undefined) policy = checkPolicy('overflow', options.overflow);
      if (!Number.isInteger(channel) || channel < 0 || channel > 255) {
        throw new HybridwireError('HW_ERR_INVALID_ARGUMENT', `channel must be an integer from 0 to 255, got ${String(channel)}`);
      }
      if (!Number.isInteger(flags) || (flags & ~PASS_THROUGH_FLAGS) !== 0) {
        throw new HybridwireError('HW_ERR_INVALID_ARGUMENT', `flags may only carry payload flags (0x${PASS_THROUGH_FLAGS.toString(16)}), got ${String(flags)}`);
      }
    }
    // Behind waiting messages, a message waits too, so that order is kept.
    let status: number = SendStatus.WOULD_BLOCK;
    if (this.waiting.empty) {
      status =
        prefix === undefined && typeof body !== 'string'
          ? this.handle.send(body, reliability, channel, flags)
          : this.handle.sendParts(prefix ?? EMPTY, prefixLength, body, reliability, channel, flags);
    }
    if (status === SendStatus.OK) {
      this.scheduleFlush();
      return true;
    }
    // The slow path keeps the message, so it needs it whole.
    const payload = prefix === undefined && typeof body !== 'string' ? body : join(prefix ?? EMPTY, prefixLength, body);
    if (status === SendStatus.TOO_LARGE) {
      throw new HybridwireError(
        'HW_ERR_FRAME_TOO_LARGE',
        `a ${payload.length}-byte message exceeds what the send buffer (${this.sendBufferBytes} bytes) ` +
          'or the peer\'s reassembly budget can hold',
      );
    }
    if (status !== SendStatus.WOULD_BLOCK) {
      throw new HybridwireError('HW_ERR_INVALID_ARGUMENT', 'invalid message reliability, channel or flags');
    }
    this.needDrain = true;
    if (policy === 'error') {
      throw new HybridwireError('HW_ERR_SEND_QUEUE_FULL', `the send buffer (${this.sendBufferBytes} bytes) and window are full`);
    }
    if (policy === 'drop-oldest-unreliable' && this.waiting.empty) {
      this.handle.dropOldestUnreliable(payload.length);
      if (this.handle.send(payload, reliability, channel, flags) === SendStatus.OK) {
        this.scheduleFlush();
        return false;
      }
      if (reliability === Reliability.UNRELIABLE) {
        this.droppedUnreliable++;
        return false;
      }
    }
    if (this.waiting.bytes + payload.length > this.sendBufferBytes) {
      throw new HybridwireError(
        'HW_ERR_SEND_QUEUE_FULL',
        `more than sendBufferBytes (${this.sendBufferBytes}) are waiting for room; wait for 'drain'`,
      );
    }
    this.waiting.push(payload, reliability, channel, flags);
    return false;
  }

  /** Feeds a datagram that arrived for this peer, its 8-byte token checked and removed. */
  receive(datagram: Uint8Array): void {
    if (this.closed) return;
    if (this.receiving) {
      // A handler fed another datagram from inside an event: take it once this one is done.
      this.backlog.push(datagram);
      return;
    }
    this.receiving = true;
    try {
      this.deliver(datagram, this.handle.receive(datagram, this.nowUs()));
      this.finishReceive();
    } finally {
      this.receiving = false;
    }
    this.pump();
    this.scheduleFlush();
  }

  /**
   * Feeds datagrams of a socket batch in one native call: `bytes[rows[4i], +rows[4i+1])` for i
   * from `from` (rows as {@link UdpSocket} lays them out: offset, length, port, sender), token
   * included, for as long as they carry this endpoint's token and come from the first one's
   * sender, at most `maxDatagrams` of them (at least one) and about `maxBytes`. The caller has
   * matched the first datagram to this endpoint. `bytes` is lent (valid only during the call):
   * messages are copied out of it rather than handed out as views. Returns the index it stopped
   * at; `lastBytes` then tells how many bytes it took.
   */
  receiveRows(bytes: Buffer, rows: Uint32Array, from: number, to: number, maxDatagrams: number, maxBytes: number): number {
    if (this.closed) {
      this.lastBytes = 0;
      return from + 1;
    }
    if (this.receiving) {
      // Fed from inside one of its own events: the first datagram waits in the backlog.
      const row = from * SOCKET_ROW_WIDTH;
      const offset = rows[row + SocketRow.OFFSET]!;
      const length = rows[row + SocketRow.LENGTH]!;
      this.backlog.push(Buffer.from(bytes.subarray(offset + 8, offset + length)));
      this.lastBytes = length;
      return from + 1;
    }
    this.receiving = true;
    let next: number;
    try {
      this.deliver(bytes, this.handle.receiveRows(bytes, rows, from, to, this.nowUs(), maxDatagrams, maxBytes), true);
      next = this.state[EndpointState.STOPPED_AT]!;
      this.lastBytes = this.state[EndpointState.BYTES_FED]!;
      this.finishReceive();
    } finally {
      this.receiving = false;
    }
    this.pump();
    this.scheduleFlush();
    return next;
  }

  /** After a native receive: the deliveries that did not fit, then datagrams fed meanwhile. */
  private finishReceive(): void {
    while (this.state[EndpointState.PENDING_COUNT]! > 0) this.takePending();
    while (this.backlog.length > 0 && !this.closed) {
      const next = this.backlog.shift()!;
      this.deliver(next, this.handle.receive(next, this.nowUs()));
      while (this.state[EndpointState.PENDING_COUNT]! > 0) this.takePending();
    }
  }

  /** Bytes taken by the last {@link receiveRows} call. */
  lastBytes = 0;

  /** Sends every datagram due now. Called by itself at the end of the turn; public for owners that want it sooner. */
  flush(): void {
    this.flushScheduled = false;
    if (this.closed) return;
    const now = this.nowUs();
    // The shared slab, unless a flush is using it already (this one runs from inside another
    // endpoint's onDatagrams): then a slab of its own, for this flush.
    const shared = this.onDatagrams !== undefined && !batchSlabInUse;
    if (shared) batchSlabInUse = true;
    try {
      for (;;) {
        // The largest datagram the endpoint may write next (its datagram size, or a path MTU probe).
        const limit = this.state[EndpointState.DATAGRAM_LIMIT]!;
        let slab: Buffer;
        let position: number;
        if (this.onDatagrams !== undefined) {
          const wanted = Math.max(this.mtu * FLUSH_DATAGRAMS, limit * 16);
          if (!shared) {
            if (this.slab.length < wanted) this.slab = Buffer.allocUnsafe(wanted);
            slab = this.slab;
          } else {
            if (batchSlab.length < wanted) batchSlab = Buffer.allocUnsafeSlow(Math.max(batchSlab.length, wanted));
            slab = batchSlab;
          }
          position = 0;
        } else {
          if (this.slab.length - this.slabPosition < limit) {
            // Datagrams handed out are never written again: a socket may still hold them.
            this.slab = Buffer.allocUnsafe(Math.max(this.mtu * FLUSH_DATAGRAMS, limit * 4));
            this.slabPosition = 0;
          }
          slab = this.slab;
          position = this.slabPosition;
        }
        const count = this.handle.flush(now, slab, position, this.lengths);
        let end = position;
        for (let i = 0; i < count; i++) end += this.lengths[i]! & LENGTH_MASK;
        if (this.onDatagrams !== undefined) {
          // Lengths may carry DONT_FRAGMENT (a path MTU probe), which UdpSocket.sendBatch reads.
          if (count > 0) this.onDatagrams(slab, position, this.lengths, count);
        } else {
          for (let i = 0; i < count; i++) {
            const length = this.lengths[i]! & LENGTH_MASK;
            this.onDatagram!(slab.subarray(position, position + length));
            position += length;
          }
          this.slabPosition = position;
        }
        // Done unless it stopped for want of room: lengths, or slab after what it wrote.
        if (count === 0 || (count < this.lengths.length && slab.length - end >= this.state[EndpointState.DATAGRAM_LIMIT]!)) break;
      }
    } finally {
      if (shared) batchSlabInUse = false;
    }
    this.pump();
    this.arm();
  }

  stats(): ReliableStats {
    this.handle.stats(this.statValues);
    return readStats(this.statValues, this.window, this.waiting.bytes, this.droppedUnreliable);
  }

  /**
   * Stops the timer, drops what is queued and frees the native state machine (what it held for
   * the peer goes back to a shared budget at once); later sends throw, later datagrams are ignored.
   */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    this.waiting.clear();
    this.backlog.length = 0;
    // Frees the native state machine now: what it holds for the peer goes back to a shared
    // reassembly budget at once, not when the collector gets to it.
    this.handle.close();
  }

  private nowUs(): number {
    return Math.round(this.clock() * 1000);
  }

  /** Emits `count` delivery rows; views of `datagram` are copies when it is `lent`. */
  private deliver(datagram: Uint8Array, count: number, lent = false): void {
    const rows = this.rows;
    const output = this.output;
    for (let i = 0, base = 0; i < count; i++, base += DELIVERY_ROW_WIDTH) {
      const kind = rows[base + DeliveryRow.KIND]!;
      const offset = rows[base + DeliveryRow.OFFSET]!;
      const end = offset + rows[base + DeliveryRow.LENGTH]!;
      // Bytes in the datagram are handed out as views; bytes in the reused output buffer are copied.
      let payload: Buffer;
      if (kind === DeliveryKind.IN_DATAGRAM || kind === DeliveryKind.FRAME) {
        if (lent) {
          payload = Buffer.allocUnsafe(end - offset);
          payload.set(datagram.subarray(offset, end));
        } else {
          payload = Buffer.from(datagram.buffer, datagram.byteOffset + offset, end - offset);
        }
      } else if (kind === DeliveryKind.OWN_BUFFER) {
        payload = this.extras[offset]!;
        this.extras[offset] = undefined;
      } else {
        payload = Buffer.from(output.subarray(offset, end));
      }
      const channel = rows[base + DeliveryRow.CHANNEL]!;
      const flags = rows[base + DeliveryRow.FLAGS]!;
      if (kind === DeliveryKind.FRAME || kind === DeliveryKind.FRAME_IN_OUTPUT) {
        this.emit('frame', rows[base + DeliveryRow.MODE_OR_TYPE]!, flags, channel, rows[base + DeliveryRow.SEQUENCE]!, payload);
      } else {
        this.emit('message', payload, channel, rows[base + DeliveryRow.MODE_OR_TYPE]! as ReliabilityValue, flags);
      }
    }
  }

  private takePending(): void {
    const needed = this.state[EndpointState.PENDING_BYTES]!;
    if (needed > this.output.length) {
      this.output = Buffer.allocUnsafe(Math.max(needed, this.output.length * 2));
      this.handle.setOutputs(this.output, this.rows, this.state, this.extras);
    }
    this.deliver(this.output, this.handle.takePending());
  }

  /** Moves waiting messages into the native send buffer as room allows; emits 'drain'. */
  private pump(): void {
    if (this.closed) return;
    if (this.waiting.moveInto(this.handle)) this.scheduleFlush();
    // Hysteresis: 'drain' once half the send buffer is free, not at the first free byte.
    if (this.needDrain && this.waiting.empty && this.handle.hasRoom(Math.floor(this.sendBufferBytes / 2))) {
      this.needDrain = false;
      this.emit('drain');
    }
  }

  private scheduleFlush(): void {
    if (this.flushScheduled || this.closed) return;
    this.flushScheduled = true;
    if (this.batchDelayMs === 0) {
      setImmediate(this.flushLater);
    } else {
      setTimeout(this.flushLater, this.batchDelayMs);
    }
  }

  /** Keeps the one timer pointed at the native next deadline. */
  private arm(): void {
    const deadline = this.handle.nextDeadline();
    if (deadline < 0) {
      if (this.timer !== undefined) clearTimeout(this.timer);
      this.timer = undefined;
      this.timerDue = -1;
      return;
    }
    if (this.timer !== undefined && this.timerDue <= deadline) return;
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timerDue = deadline;
    const delay = Math.max(0, Math.ceil((deadline - this.nowUs()) / 1000));
    this.timer = setTimeout(this.onTimer, delay);
    this.timer.unref();
  }

  private fire(): void {
    this.timer = undefined;
    this.timerDue = -1;
    if (this.closed) return;
    if (this.handle.onTimeout(this.nowUs())) {
      // A reliable message from the peer stopped making progress (native/core/reliable/endpoint.h).
      this.close();
      this.emit(
        'error',
        new HybridwireError(
          'HW_ERR_REASSEMBLY_TIMEOUT',
          `a reliable message from the peer got no fragment for reassemblyTimeoutMs (${this.reassemblyTimeoutMs} ms); ` +
            'its fragments were acknowledged, so the endpoint closed rather than drop it',
        ),
      );
      return;
    }
    this.flush();
  }
}
