/**
 * The options of a reliable endpoint (ts/reliable/reliable-endpoint.ts): their types, defaults and
 * ranges, checked when an endpoint is built, and their native layout (ts/native/layouts.ts).
 */
import { OptionError } from '../errors.js';
import { checkInteger } from '../validate.js';
import { ENDPOINT_OPTION_COUNT, EndpointOption } from '../native/layouts.js';
import { ReassemblyBudget } from './reassembly-budget.js';

/**
 * How a UDP message is delivered: at most once, or retransmitted until acknowledged and delivered
 * in order or on arrival (see {@link ReliableEndpoint.send}). The same numbers cross N-API in
 * send() and in delivery rows.
 */
export const Reliability = {
  UNRELIABLE: 0,
  RELIABLE_ORDERED: 1,
  RELIABLE_UNORDERED: 2,
} as const;
export type ReliabilityValue = (typeof Reliability)[keyof typeof Reliability];

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
  /**
   * Bytes the owner adds to every datagram after the endpoint (a session's sealing): path MTU
   * probes are then sized so that on the wire they are the sizes real paths carry. 0..1024,
   * default 0.
   */
  wireOverhead?: number;
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
  /**
   * Partial messages from the peer that get no fragment for this long are given up: unreliable
   * ones are dropped (counted in drops.expired); a reliable one, whose fragments were acknowledged,
   * closes the endpoint with an 'error' (HW_ERR_REASSEMBLY_TIMEOUT) rather than be lost silently.
   * The same holds for a reliable message held this long for the gap before it. Default 5000.
   */
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

const OVERFLOW_POLICIES: readonly OverflowPolicy[] = ['wait', 'drop-oldest-unreliable', 'error'];

/** Whether `value` is a valid reliable-UDP span: a power of two from 1024 to 65536. */
export function isSpan(value: number): boolean {
  return Number.isInteger(value) && value >= 1024 && value <= 65536 && (value & (value - 1)) === 0;
}

export function checkPolicy(name: string, value: unknown): OverflowPolicy {
  if (!OVERFLOW_POLICIES.includes(value as OverflowPolicy)) {
    throw new OptionError(`option ${name} must be one of ${OVERFLOW_POLICIES.join(', ')}, got ${String(value)}`);
  }
  return value as OverflowPolicy;
}

/** The options an endpoint keeps, and the values its native state machine is built with. */
export interface ResolvedEndpointOptions {
  mtu: number;
  maxMtu: number;
  window: number;
  sendBufferBytes: number;
  batchDelayMs: number;
  overflow: OverflowPolicy;
  reassemblyTimeoutMs: number;
  /** The endpoint options of ts/native/layouts.ts, times in microseconds. */
  native: Float64Array;
}

/** Checks every option (throwing an OptionError that names the first one out of range) and applies the defaults. */
export function resolveEndpointOptions(options: ReliableEndpointOptions): ResolvedEndpointOptions {
  const token = options.token;
  if (!(token instanceof Uint8Array) || token.length !== 8) {
    throw new OptionError(`option token must be a Uint8Array of 8 bytes, got ${String(token)}`);
  }
  if (typeof options.onDatagram !== 'function' && typeof options.onDatagrams !== 'function') {
    throw new OptionError('option onDatagram (or onDatagrams) must be a function');
  }
  const mtu = checkInteger('mtu', options.mtu ?? 1200, 128, 65507);
  const maxMtu = checkInteger('maxMtu', options.maxMtu ?? mtu, mtu, 65507);
  const wireOverhead = checkInteger('wireOverhead', options.wireOverhead ?? 0, 0, 1024);
  const window = checkInteger('window', options.window ?? 1024, 1, 65536);
  const sendBufferBytes = checkInteger('sendBufferBytes', options.sendBufferBytes ?? 4 * 1024 * 1024, 1024, 2 ** 30);
  const reassemblyBytes = checkInteger('reassemblyBytes', options.reassemblyBytes ?? 4 * 1024 * 1024, 1024, 2 ** 30);
  const span = checkInteger('span', options.span ?? 16384, 1024, 65536);
  if (!isSpan(span)) throw new OptionError(`option span must be a power of two from 1024 to 65536, got ${span}`);
  const reassemblyTimeoutMs = checkInteger('reassemblyTimeoutMs', options.reassemblyTimeoutMs ?? 5000, 1, 3_600_000);
  const maxAckDelayMs = checkInteger('maxAckDelayMs', options.maxAckDelayMs ?? 10, 0, 1000);
  const minRtoMs = checkInteger('minRtoMs', options.minRtoMs ?? 100, 1, 60_000);
  const maxRtoMs = checkInteger('maxRtoMs', options.maxRtoMs ?? 60_000, minRtoMs, 3_600_000);
  const batchDelayMs = checkInteger('batchDelayMs', options.batchDelayMs ?? 0, 0, 1000);
  const overflow = checkPolicy('overflow', options.overflow ?? 'wait');
  if (options.budget !== undefined && !(options.budget instanceof ReassemblyBudget)) {
    throw new OptionError('option budget must be a ReassemblyBudget');
  }
  if (options.now !== undefined && typeof options.now !== 'function') {
    throw new OptionError('option now must be a function returning milliseconds');
  }
  const values = new Float64Array(ENDPOINT_OPTION_COUNT);
  values[EndpointOption.MTU] = mtu;
  values[EndpointOption.WINDOW] = window;
  values[EndpointOption.SEND_BUFFER_BYTES] = sendBufferBytes;
  values[EndpointOption.REASSEMBLY_BYTES] = reassemblyBytes;
  values[EndpointOption.REASSEMBLY_TIMEOUT_US] = reassemblyTimeoutMs * 1000;
  values[EndpointOption.MAX_ACK_DELAY_US] = maxAckDelayMs * 1000;
  values[EndpointOption.MIN_RTO_US] = minRtoMs * 1000;
  values[EndpointOption.MAX_RTO_US] = maxRtoMs * 1000;
  values[EndpointOption.SPAN] = span;
  values[EndpointOption.MAX_MTU] = maxMtu;
  values[EndpointOption.WIRE_OVERHEAD] = wireOverhead;
  return { mtu, maxMtu, window, sendBufferBytes, batchDelayMs, overflow, reassemblyTimeoutMs, native: values };
}
