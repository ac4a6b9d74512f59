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
 * endpoint.on('message', (payload, channel, mode) => handle(payload));
 * if (!endpoint.send(bytes, { reliable: true, channel: 2 })) await once(endpoint, 'drain');
 * ```
 */
import { EventEmitter } from 'node:events';
import { native, type NativeReassemblyBudget, type NativeReliableEndpoint } from '../native/addon.js';
import {
  DELIVERY_ROW_WIDTH,
  DeliveryKind,
  DeliveryRow,
  ENDPOINT_OPTION_COUNT,
  ENDPOINT_STATE_COUNT,
  ENDPOINT_STAT_COUNT,
  EndpointOption,
  EndpointStat,
  EndpointState,
  LENGTH_MASK,
  SendStatus,
  SOCKET_ROW_WIDTH,
  SocketRow,
} from '../native/layouts.js';
import { HybridwireError, OptionError } from '../errors.js';
import { checkInteger } from '../options.js';

/** How a message travels: see {@link ReliableEndpoint.send}. */
export const DeliveryMode = {
  UNRELIABLE: 0,
  RELIABLE_ORDERED: 1,
  RELIABLE_UNORDERED: 2,
} as const;
export type DeliveryModeValue = (typeof DeliveryMode)[keyof typeof DeliveryMode];

/**
 * What send() does with a message when the window and send buffer are full:
 * - `'wait'` keeps it (in order, up to another `sendBufferBytes`) and sends it when room returns;
 * - `'drop-oldest-unreliable'` drops queued unreliable messages, oldest first, to make room; an
 *   unreliable message that still does not fit is dropped, a reliable one waits;
 * - `'error'` throws `HW_ERR_SEND_QUEUE_FULL`.
 * In every case send() returns false and 'drain' follows once there is room.
 */
export type OverflowPolicy = 'wait' | 'drop-oldest-unreliable' | 'error';

export interface ReliableEndpointOptions {
  /** The 8-byte session token written at the start of every datagram. */
  token: Uint8Array;
  /** Called with each datagram to send, token included. The buffer is never reused. */
  onDatagram?: (datagram: Buffer) => void;
  /**
   * Instead of onDatagram: called once per batch with `count` datagrams laid back to back in
   * `slab` from `offset`, their lengths in `lengths`. Both are reused once it returns, so it must
   * send (or copy) them at once, as a socket's synchronous batch send does. A length with the
   * DONT_FRAGMENT bit (0x80000000) set is a path MTU probe, to be sent without IP fragmentation
   * (UdpSocket.sendBatch does); the length is the other bits.
   */
  onDatagrams?: (slab: Buffer, offset: number, lengths: Uint32Array, count: number) => void;
  /** Bytes per datagram, token and frame headers included. Default 1200. */
  mtu?: number;
  /**
   * Path MTU discovery: datagrams grow from `mtu` up to this when probes show the path carries
   * them (RFC 8899). The socket must not fragment datagrams (sessions set it so on Linux). Default
   * `mtu`: discovery off.
   */
  maxMtu?: number;
  /** Reliable messages in flight at once: 1 is step-by-step mode, N burst mode. Default 1024. */
  window?: number;
  /** Bytes of queued and unacknowledged messages kept for retransmission. Default 4 MiB. */
  sendBufferBytes?: number;
  /**
   * Bytes this endpoint buffers for its peer (partial and out-of-order messages), and lets its
   * peer buffer for it: both ends must agree. Default 4 MiB.
   */
  reassemblyBytes?: number;
  /**
   * Sequence numbers in flight per reliable space (ordered or unordered channel), and so tracked
   * by the receiver past a gap: a power of two from 1024 to 65536. Both ends must agree (a
   * session negotiates it). Default 16384.
   */
  span?: number;
  /** Unreliable partial messages are dropped after this long. Default 5000. */
  reassemblyTimeoutMs?: number;
  /** Longest an acknowledgement is held back to ride on other traffic. Default 10. */
  maxAckDelayMs?: number;
  /** Bounds of the retransmission timeout. Defaults 100 and 60000. */
  minRtoMs?: number;
  maxRtoMs?: number;
  /** How long sends are batched: 0 sends at the end of the current event-loop turn. Default 0. */
  batchDelayMs?: number;
  /** Default overflow policy of send(). Default 'wait'. */
  overflow?: OverflowPolicy;
  /** A reassembly budget shared with other endpoints, bounding their total. */
  budget?: ReassemblyBudget;
  /** The clock, in milliseconds. Default `performance.now`. */
  now?: () => number;
}

export interface ReliableSendOptions {
  /** Retransmit until acknowledged. Default false (fire and forget). */
  reliable?: boolean;
  /** Reliable only: false delivers on arrival instead of in order. Default true. */
  ordered?: boolean;
  /** The ordering domain (and a label for unreliable messages), 0..255. Default 0. */
  channel?: number;
  /** Frame flag bits that describe the payload (compressed 0x01, encrypted 0x02, ...). Default 0. */
  flags?: number;
  overflow?: OverflowPolicy;
}

export interface ReliableStats {
  /** Smoothed round-trip time, its variation, the minimum seen, and the retransmission timeout. */
  rttMs: number;
  rttVarianceMs: number;
  minRttMs: number;
  rtoMs: number;
  /** Congestion window and what is in flight against it, in bytes. */
  congestionWindow: number;
  bytesInFlight: number;
  messagesInFlight: number;
  window: number;
  sendBufferBytes: number;
  reassemblyBytes: number;
  datagramsSent: number;
  bytesSent: number;
  datagramsReceived: number;
  bytesReceived: number;
  messagesSent: number;
  messagesDelivered: number;
  framesDelivered: number;
  retransmissions: number;
  /** The datagram size in use: `mtu`, or what path MTU discovery found. */
  pathMtu: number;
  /** Path MTU probes sent, and of those lost (too large for the path, or lost by chance). */
  mtuProbesSent: number;
  mtuProbesLost: number;
  /** Frames declared lost by acknowledgements of later ones (fast retransmit). */
  lost: number;
  /** Of those, frames found to have arrived after all (reordered): their loss was taken back. */
  spuriousLosses: number;
  /** Retransmission timer expiries. */
  timeouts: number;
  drops: {
    badChecksum: number;
    malformed: number;
    duplicate: number;
    stale: number;
    windowOverflow: number;
    reassemblyOverflow: number;
    expired: number;
    /** Unreliable messages dropped by the 'drop-oldest-unreliable' policy. */
    sendBuffer: number;
  };
}

interface ReliableEndpointEvents {
  /** A message. Its payload is a view into the received datagram when it came whole in one. */
  message: [payload: Buffer, channel: number, mode: DeliveryModeValue, flags: number];
  /** A frame of a type the reliable layer does not own (session frames), in arrival order. */
  frame: [type: number, flags: number, channel: number, sequence: number, payload: Buffer];
  drain: [];
}

/** A reassembly memory budget shared by many endpoints (a server's total). */
export class ReassemblyBudget {
  /** @internal */
  readonly handle: NativeReassemblyBudget;

  constructor(bytes: number) {
    this.handle = new native.ReassemblyBudget(checkInteger('bytes', bytes, 0, Number.MAX_SAFE_INTEGER));
  }

  get usedBytes(): number {
    return this.handle.used();
  }
}

const INITIAL_ROWS = 1024;
const INITIAL_OUTPUT = 64 * 1024;
const FLUSH_DATAGRAMS = 64;
const OVERFLOW_POLICIES: readonly OverflowPolicy[] = ['wait', 'drop-oldest-unreliable', 'error'];
const PASS_THROUGH_FLAGS = 0x01 | 0x02 | 0x10 | 0x20 | 0x40;

const EMPTY = Buffer.alloc(0);

/**
 * The slab of endpoints that send through onDatagrams, shared: each flush's datagrams are sent
 * (or copied) before onDatagrams returns, so one slab serves every endpoint of the process. It
 * grows to hold FLUSH_DATAGRAMS datagrams of the base size or 16 of the largest in use.
 */
let batchSlab = Buffer.allocUnsafeSlow(0);
let batchSlabInUse = false;

/** Whether `value` is a valid reliable-UDP span: a power of two from 1024 to 65536. */
export function isSpan(value: number): boolean {
  return Number.isInteger(value) && value >= 1024 && value <= 65536 && (value & (value - 1)) === 0;
}

/** prefix[0, prefixLength) followed by body, in one new buffer. */
function join(prefix: Uint8Array, prefixLength: number, body: Uint8Array | string): Buffer {
  const bodyLength = typeof body === 'string' ? Buffer.byteLength(body) : body.length;
  const joined = Buffer.allocUnsafe(prefixLength + bodyLength);
  joined.set(prefix.subarray(0, prefixLength), 0);
  if (typeof body === 'string') joined.write(body, prefixLength);
  else joined.set(body, prefixLength);
  return joined;
}

interface Waiting {
  payload: Uint8Array;
  mode: number;
  channel: number;
  flags: number;
}

function checkPolicy(name: string, value: unknown): OverflowPolicy {
  if (!OVERFLOW_POLICIES.includes(value as OverflowPolicy)) {
    throw new OptionError(`option ${name} must be one of ${OVERFLOW_POLICIES.join(', ')}, got ${String(value)}`);
  }
  return value as OverflowPolicy;
}

export class ReliableEndpoint extends EventEmitter<ReliableEndpointEvents> {
  readonly mtu: number;
  readonly maxMtu: number;
  readonly window: number;
  readonly sendBufferBytes: number;
  readonly batchDelayMs: number;
  readonly overflow: OverflowPolicy;

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
  private waiting: Array<Waiting | undefined> = [];
  private waitingHead = 0;
  private waitingBytes = 0;
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
    const token = options.token;
    if (!(token instanceof Uint8Array) || token.length !== 8) {
      throw new OptionError(`option token must be a Uint8Array of 8 bytes, got ${String(token)}`);
    }
    if (typeof options.onDatagram !== 'function' && typeof options.onDatagrams !== 'function') {
      throw new OptionError('option onDatagram (or onDatagrams) must be a function');
    }
    this.mtu = checkInteger('mtu', options.mtu ?? 1200, 128, 65507);
    this.maxMtu = checkInteger('maxMtu', options.maxMtu ?? this.mtu, this.mtu, 65507);
    this.window = checkInteger('window', options.window ?? 1024, 1, 65536);
    this.sendBufferBytes = checkInteger('sendBufferBytes', options.sendBufferBytes ?? 4 * 1024 * 1024, 1024, 2 ** 30);
    const reassemblyBytes = checkInteger('reassemblyBytes', options.reassemblyBytes ?? 4 * 1024 * 1024, 1024, 2 ** 30);
    const span = checkInteger('span', options.span ?? 16384, 1024, 65536);
    if (!isSpan(span)) throw new OptionError(`option span must be a power of two from 1024 to 65536, got ${span}`);
    const reassemblyTimeoutMs = checkInteger('reassemblyTimeoutMs', options.reassemblyTimeoutMs ?? 5000, 1, 3_600_000);
    const maxAckDelayMs = checkInteger('maxAckDelayMs', options.maxAckDelayMs ?? 10, 0, 1000);
    const minRtoMs = checkInteger('minRtoMs', options.minRtoMs ?? 100, 1, 60_000);
    const maxRtoMs = checkInteger('maxRtoMs', options.maxRtoMs ?? 60_000, minRtoMs, 3_600_000);
    this.batchDelayMs = checkInteger('batchDelayMs', options.batchDelayMs ?? 0, 0, 1000);
    this.overflow = checkPolicy('overflow', options.overflow ?? 'wait');
    if (options.budget !== undefined && !(options.budget instanceof ReassemblyBudget)) {
      throw new OptionError('option budget must be a ReassemblyBudget');
    }
    if (options.now !== undefined && typeof options.now !== 'function') {
      throw new OptionError('option now must be a function returning milliseconds');
    }
    this.onDatagrams = typeof options.onDatagrams === 'function' ? options.onDatagrams : undefined;
    this.onDatagram = this.onDatagrams === undefined ? options.onDatagram : undefined;
    this.clock = options.now ?? (() => performance.now());
    const values = new Float64Array(ENDPOINT_OPTION_COUNT);
    values[EndpointOption.MTU] = this.mtu;
    values[EndpointOption.WINDOW] = this.window;
    values[EndpointOption.SEND_BUFFER_BYTES] = this.sendBufferBytes;
    values[EndpointOption.REASSEMBLY_BYTES] = reassemblyBytes;
    values[EndpointOption.REASSEMBLY_TIMEOUT_US] = reassemblyTimeoutMs * 1000;
    values[EndpointOption.MAX_ACK_DELAY_US] = maxAckDelayMs * 1000;
    values[EndpointOption.MIN_RTO_US] = minRtoMs * 1000;
    values[EndpointOption.MAX_RTO_US] = maxRtoMs * 1000;
    values[EndpointOption.SPAN] = span;
    values[EndpointOption.MAX_MTU] = this.maxMtu;
    this.handle = new native.ReliableEndpoint(token, values, options.budget?.handle);
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
    let mode: number = DeliveryMode.UNRELIABLE;
    let channel = 0;
    let flags = 0;
    let policy = this.overflow;
    if (options !== undefined) {
      if (options.reliable === true) {
        mode = options.ordered === false ? DeliveryMode.RELIABLE_UNORDERED : DeliveryMode.RELIABLE_ORDERED;
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
    if (this.waitingHead === this.waiting.length) {
      status =
        prefix === undefined && typeof body !== 'string'
          ? this.handle.send(body, mode, channel, flags)
          : this.handle.sendParts(prefix ?? EMPTY, prefixLength, body, mode, channel, flags);
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
      throw new HybridwireError('HW_ERR_INVALID_ARGUMENT', 'invalid message mode, channel or flags');
    }
    this.needDrain = true;
    if (policy === 'error') {
      throw new HybridwireError('HW_ERR_SEND_QUEUE_FULL', `the send buffer (${this.sendBufferBytes} bytes) and window are full`);
    }
    if (policy === 'drop-oldest-unreliable' && this.waitingHead === this.waiting.length) {
      this.handle.dropOldestUnreliable(payload.length);
      if (this.handle.send(payload, mode, channel, flags) === SendStatus.OK) {
        this.scheduleFlush();
        return false;
      }
      if (mode === DeliveryMode.UNRELIABLE) {
        this.droppedUnreliable++;
        return false;
      }
    }
    if (this.waitingBytes + payload.length > this.sendBufferBytes) {
      throw new HybridwireError(
        'HW_ERR_SEND_QUEUE_FULL',
        `more than sendBufferBytes (${this.sendBufferBytes}) are waiting for room; wait for 'drain'`,
      );
    }
    this.waiting.push({ payload, mode, channel, flags });
    this.waitingBytes += payload.length;
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
    while (this.backlog.length > 0) {
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
    const values = this.statValues;
    this.handle.stats(values);
    return {
      rttMs: values[EndpointStat.SRTT_US]! / 1000,
      rttVarianceMs: values[EndpointStat.RTTVAR_US]! / 1000,
      minRttMs: values[EndpointStat.MIN_RTT_US]! / 1000,
      rtoMs: values[EndpointStat.RTO_US]! / 1000,
      congestionWindow: values[EndpointStat.CWND]!,
      bytesInFlight: values[EndpointStat.BYTES_IN_FLIGHT]!,
      messagesInFlight: values[EndpointStat.MESSAGES_IN_FLIGHT]!,
      window: this.window,
      sendBufferBytes: values[EndpointStat.SEND_BUFFER_BYTES]! + this.waitingBytes,
      reassemblyBytes: values[EndpointStat.REASSEMBLY_BYTES]!,
      datagramsSent: values[EndpointStat.DATAGRAMS_SENT]!,
      bytesSent: values[EndpointStat.BYTES_SENT]!,
      datagramsReceived: values[EndpointStat.DATAGRAMS_RECEIVED]!,
      bytesReceived: values[EndpointStat.BYTES_RECEIVED]!,
      messagesSent: values[EndpointStat.MESSAGES_SENT]!,
      messagesDelivered: values[EndpointStat.MESSAGES_DELIVERED]!,
      framesDelivered: values[EndpointStat.FRAMES_DELIVERED]!,
      retransmissions: values[EndpointStat.RETRANSMISSIONS]!,
      lost: values[EndpointStat.LOST]!,
      spuriousLosses: values[EndpointStat.SPURIOUS_LOSSES]!,
      pathMtu: values[EndpointStat.PATH_MTU]!,
      mtuProbesSent: values[EndpointStat.MTU_PROBES_SENT]!,
      mtuProbesLost: values[EndpointStat.MTU_PROBES_LOST]!,
      timeouts: values[EndpointStat.TIMEOUTS]!,
      drops: {
        badChecksum: values[EndpointStat.DROPS_BAD_CHECKSUM]!,
        malformed: values[EndpointStat.DROPS_MALFORMED]!,
        duplicate: values[EndpointStat.DROPS_DUPLICATE]!,
        stale: values[EndpointStat.DROPS_STALE]!,
        windowOverflow: values[EndpointStat.DROPS_WINDOW_OVERFLOW]!,
        reassemblyOverflow: values[EndpointStat.DROPS_REASSEMBLY_OVERFLOW]!,
        expired: values[EndpointStat.DROPS_EXPIRED]!,
        sendBuffer: values[EndpointStat.DROPS_SEND_BUFFER]! + this.droppedUnreliable,
      },
    };
  }

  /** Stops the timer and drops what is queued; later sends throw, later datagrams are ignored. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    this.waiting = [];
    this.waitingHead = 0;
    this.waitingBytes = 0;
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
        this.emit('message', payload, channel, rows[base + DeliveryRow.MODE_OR_TYPE]! as DeliveryModeValue, flags);
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
    let moved = false;
    while (this.waitingHead < this.waiting.length) {
      const next = this.waiting[this.waitingHead]!;
      if (this.handle.send(next.payload, next.mode, next.channel, next.flags) !== SendStatus.OK) break;
      this.waiting[this.waitingHead++] = undefined;
      this.waitingBytes -= next.payload.length;
      moved = true;
    }
    if (this.waitingHead === this.waiting.length && this.waitingHead > 0) {
      this.waiting = [];
      this.waitingHead = 0;
    }
    if (moved) this.scheduleFlush();
    // Hysteresis: 'drain' once half the send buffer is free, not at the first free byte.
    if (this.needDrain && this.waitingHead === this.waiting.length && this.handle.hasRoom(this.sendBufferBytes / 2)) {
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
    this.handle.onTimeout(this.nowUs());
    this.flush();
  }
}
