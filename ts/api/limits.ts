/**
 * The limits of a session (queues, windows, timeouts, the UDP side's budgets): options shared by
 * servers and clients, validated once when the object is built.
 */
import { OptionError } from '../errors.js';
import { integerOption } from './option-ranges.js';
import type { ConnectionLimits } from '../session/connection.js';
import { isSpan, type ReassemblyBudget } from '../reliable/reliable-endpoint.js';
import type { UdpSessionOptions } from '../transport/udp-session.js';
import { DEFAULT_ACK_DELAY_MS, DEFAULT_PEER_SPAN, type UdpParameters } from '../session/handshake.js';
import { resolveCompression, type CompressionOptions, type CompressionSettings } from '../compression/settings.js';

export interface LimitOptions {
  /**
   * Compression of large messages (docs/PROTOCOL.md, section 12): the algorithms this side offers
   * and accepts, in order of preference, its level and threshold; false offers none. Without it a
   * side accepts every algorithm it can run and sends nothing compressed (unless compressThreshold).
   */
  compression?: CompressionOptions | false;
  /**
   * The older name of `compression.threshold`: messages whose body has at least this many bytes
   * are sent compressed (when that makes them smaller). 0, the default, never compresses.
   */
  compressThreshold?: number;
  /** Largest frame payload accepted or sent, in bytes. Default 16 MiB. */
  maxFrameSize?: number;
  /** Queued bytes past which send() returns false and 'drain' is emitted later. Default 1 MiB. */
  highWaterMark?: number;
  /**
   * Queued bytes past which send() throws HW_ERR_SEND_QUEUE_FULL; every byte for the peer counts
   * (replies, acknowledgements, PONGs, ERRORs...), and a peer whose queue passes it is closed with
   * HW_ERR_SEND_QUEUE_FULL. Default 64 MiB.
   */
  maxQueueBytes?: number;
  /**
   * A peer to which the socket could write nothing for this long, with bytes waiting for it, is
   * closed with HW_ERR_SEND_QUEUE_FULL. Default 30000 ms.
   */
  sendStallTimeoutMs?: number;
  /** Requests awaiting a reply at once; more throw HW_ERR_TOO_MANY_REQUESTS. Default 4096. */
  maxPendingRequests?: number;
  /** Asynchronous handlers in progress before reading from the peer pauses. Default 1024. */
  maxPendingHandlers?: number;
  /**
   * Bytes of type names (UTF-8) the peer may bind to aliases over one session; past it the peer
   * gets ERROR HW_ERR_BAD_MESSAGE and is closed. Default 65536 (256..2^30).
   */
  maxAliasBytes?: number;
  /** Default timeout of request() when the call names none, in ms; 0 waits for ever. Default 10000 ms. */
  requestTimeoutMs?: number;
  /** How long a graceful close waits for in-flight work before the socket is destroyed. Default 5000 ms. */
  closeTimeoutMs?: number;
  /** Window of unacknowledged messages in burst mode (step mode uses 1). Default 8192. */
  windowSize?: number;
  /** Interval between heartbeats. Default 5000 ms. */
  heartbeatIntervalMs?: number;
  /** A peer silent for this long is dead. Default 15000 ms. */
  heartbeatTimeoutMs?: number;
  /** Bytes per UDP datagram, token and frame headers included; larger messages are fragmented. Default 1200. */
  mtu?: number;
  /**
   * Path MTU discovery: UDP datagrams start at `mtu` and grow up to this when probes show that
   * the path carries them (RFC 8899; loopback carries 65,507 bytes, jumbo-frame LANs 8,952 of the
   * sizes tried, Ethernet 1,452). Offered in the handshake; both ends use the smaller offer. Needs a socket
   * that does not fragment (Linux); elsewhere datagrams stay at `mtu`. Equal to `mtu` turns it
   * off. Default 65507.
   */
  udpMaxMtu?: number;
  /**
   * Reliable UDP messages in flight per session in burst mode (step mode uses 1); the smaller
   * offer wins. Default 16384 (bytes in flight are bounded by udpSendBufferBytes and the
   * congestion window; this bounds messages).
   */
  udpWindowSize?: number;
  /**
   * Sequence numbers (message fragments) in flight per reliable UDP channel, and so tracked past
   * a gap by the receiver: a power of two from 1024 to 65536. Offered in the handshake; both ends
   * use the smaller offer (1024 with a peer that offers none). Default 16384.
   */
  udpSpan?: number;
  /** Bytes of UDP messages queued or awaiting acknowledgement per session. Default 4 MiB. */
  udpSendBufferBytes?: number;
  /** Bytes of partial or out-of-order UDP messages buffered per session. Default 4 MiB. */
  udpReassemblyBytes?: number;
  /** Incomplete unreliable UDP messages are dropped after this long. Default 5000 ms. */
  udpReassemblyTimeoutMs?: number;
  /**
   * Kernel send and receive buffer asked for on UDP sockets (the OS may cap it), and the bound of
   * the datagrams kept waiting while the kernel refuses writes (past it they are dropped and
   * counted in `server.stats().udpSocket.queueDrops`). Default 4 MiB.
   */
  udpSocketBufferBytes?: number;
  /**
   * Longest a reliable-UDP acknowledgement waits to ride on other traffic. Offered in the
   * handshake; both ends use the larger offer. Default 10 ms.
   */
  udpMaxAckDelayMs?: number;
  /** Floor of the reliable-UDP retransmission timeout. Default 100 ms. */
  udpMinRtoMs?: number;
  /** Ceiling of the reliable-UDP retransmission timeout (after backoff). Default 60000 ms. */
  udpMaxRtoMs?: number;
  /** How long UDP sends are batched: 0 sends at the end of the current event-loop turn. Default 0. */
  udpBatchDelayMs?: number;
}

export interface ResolvedLimits extends ConnectionLimits {
  compression: CompressionSettings;
  /** The threshold in effect: compression.threshold, whichever name gave it. */
  compressThreshold: number;
  windowSize: number;
  heartbeatIntervalMs: number;
  heartbeatTimeoutMs: number;
  mtu: number;
  udpMaxMtu: number;
  udpWindowSize: number;
  udpSpan: number;
  udpSendBufferBytes: number;
  udpReassemblyBytes: number;
  udpReassemblyTimeoutMs: number;
  udpSocketBufferBytes: number;
  udpMaxAckDelayMs: number;
  udpMinRtoMs: number;
  udpMaxRtoMs: number;
  udpBatchDelayMs: number;
}

export function resolveLimits(options: LimitOptions): ResolvedLimits {
  const compression = resolveCompression(options.compression, options.compressThreshold);
  const limits: ResolvedLimits = {
    compression,
    compressThreshold: compression.threshold,
    maxFrameSize: integerOption('maxFrameSize', options.maxFrameSize),
    highWaterMark: integerOption('highWaterMark', options.highWaterMark),
    maxQueueBytes: integerOption('maxQueueBytes', options.maxQueueBytes),
    sendStallTimeoutMs: integerOption('sendStallTimeoutMs', options.sendStallTimeoutMs),
    maxPendingRequests: integerOption('maxPendingRequests', options.maxPendingRequests),
    maxPendingHandlers: integerOption('maxPendingHandlers', options.maxPendingHandlers),
    maxAliasBytes: integerOption('maxAliasBytes', options.maxAliasBytes),
    requestTimeoutMs: integerOption('requestTimeoutMs', options.requestTimeoutMs),
    closeTimeoutMs: integerOption('closeTimeoutMs', options.closeTimeoutMs),
    windowSize: integerOption('windowSize', options.windowSize),
    heartbeatIntervalMs: integerOption('heartbeatIntervalMs', options.heartbeatIntervalMs),
    heartbeatTimeoutMs: integerOption('heartbeatTimeoutMs', options.heartbeatTimeoutMs),
    mtu: integerOption('mtu', options.mtu),
    udpMaxMtu: integerOption('udpMaxMtu', options.udpMaxMtu),
    udpWindowSize: integerOption('udpWindowSize', options.udpWindowSize),
    udpSpan: integerOption('udpSpan', options.udpSpan),
    udpSendBufferBytes: integerOption('udpSendBufferBytes', options.udpSendBufferBytes),
    udpReassemblyBytes: integerOption('udpReassemblyBytes', options.udpReassemblyBytes),
    udpReassemblyTimeoutMs: integerOption('udpReassemblyTimeoutMs', options.udpReassemblyTimeoutMs),
    udpSocketBufferBytes: integerOption('udpSocketBufferBytes', options.udpSocketBufferBytes),
    udpMaxAckDelayMs: integerOption('udpMaxAckDelayMs', options.udpMaxAckDelayMs),
    udpMinRtoMs: integerOption('udpMinRtoMs', options.udpMinRtoMs),
    udpMaxRtoMs: integerOption('udpMaxRtoMs', options.udpMaxRtoMs),
    udpBatchDelayMs: integerOption('udpBatchDelayMs', options.udpBatchDelayMs),
  };
  // A cap below the mtu is the mtu: no discovery.
  limits.udpMaxMtu = Math.max(limits.udpMaxMtu, limits.mtu);
  if (!isSpan(limits.udpSpan)) throw new OptionError(`option udpSpan must be a power of two from 1024 to 65536, got ${limits.udpSpan}`, 'udpSpan');
  if (limits.udpMaxRtoMs < limits.udpMinRtoMs) {
    throw new OptionError(`option udpMaxRtoMs (${limits.udpMaxRtoMs}) must not be below udpMinRtoMs (${limits.udpMinRtoMs})`, 'udpMaxRtoMs');
  }
  if (limits.highWaterMark > limits.maxQueueBytes) {
    throw new OptionError(`option highWaterMark (${limits.highWaterMark}) must not exceed maxQueueBytes (${limits.maxQueueBytes})`, 'highWaterMark');
  }
  if (limits.heartbeatTimeoutMs <= limits.heartbeatIntervalMs) {
    throw new OptionError(`option heartbeatTimeoutMs (${limits.heartbeatTimeoutMs}) must exceed heartbeatIntervalMs (${limits.heartbeatIntervalMs})`, 'heartbeatTimeoutMs');
  }
  return limits;
}

/** This side's offer of the UDP settings both ends must share. */
export function udpOffer(limits: ResolvedLimits): UdpParameters {
  return { mtu: limits.mtu, window: limits.udpWindowSize, reassemblyBytes: limits.udpReassemblyBytes, ackDelayMs: limits.udpMaxAckDelayMs, span: limits.udpSpan, maxMtu: limits.udpMaxMtu };
}

/** The UDP session settings of a session: negotiated values where the peer sent some, else ours. */
export function udpSessionOptions(limits: ResolvedLimits, step: boolean, negotiated: UdpParameters | undefined, budget: ReassemblyBudget | undefined): UdpSessionOptions {
  const shared = negotiated ?? udpOffer(limits);
  return {
    mtu: shared.mtu,
    // Never below mtu: the handshake's answer and its parser see to it.
    maxMtu: shared.maxMtu ?? shared.mtu,
    window: step ? 1 : shared.window,
    sendBufferBytes: limits.udpSendBufferBytes,
    reassemblyBytes: shared.reassemblyBytes,
    span: shared.span ?? DEFAULT_PEER_SPAN,
    reassemblyTimeoutMs: limits.udpReassemblyTimeoutMs,
    maxAckDelayMs: Math.max(shared.ackDelayMs ?? DEFAULT_ACK_DELAY_MS, limits.udpMaxAckDelayMs),
    minRtoMs: limits.udpMinRtoMs,
    maxRtoMs: limits.udpMaxRtoMs,
    batchDelayMs: limits.udpBatchDelayMs,
    budget,
  };
}
