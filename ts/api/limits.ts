/**
 * The limits of a session (queues, windows, timeouts, the UDP side's budgets): options shared by
 * servers and clients, validated once when the object is built.
 */
import { OptionError } from '../errors.js';
import { checkInteger } from '../validate.js';
import { DEFAULT_MAX_FRAME_SIZE, MAX_MAX_FRAME_SIZE } from '../codec/frame.js';
import type { ConnectionLimits } from '../session/connection.js';
import { isSpan, type ReassemblyBudget } from '../reliable/reliable-endpoint.js';
import type { UdpSessionOptions } from '../transport/udp-session.js';
import { DEFAULT_ACK_DELAY_MS, DEFAULT_PEER_SPAN, type UdpParameters } from '../session/handshake.js';

export interface LimitOptions {
  /**
   * TCP messages of at least this many bytes are sent LZ4-compressed (when that makes them
   * smaller and the peer offers lz4). 0, the default, never compresses.
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
  const limits: ResolvedLimits = {
    compressThreshold: checkInteger('compressThreshold', options.compressThreshold ?? 0, 0, 2 ** 32),
    maxFrameSize: checkInteger('maxFrameSize', options.maxFrameSize ?? DEFAULT_MAX_FRAME_SIZE, 1024, MAX_MAX_FRAME_SIZE),
    highWaterMark: checkInteger('highWaterMark', options.highWaterMark ?? 1024 * 1024, 1, 2 ** 40),
    maxQueueBytes: checkInteger('maxQueueBytes', options.maxQueueBytes ?? 64 * 1024 * 1024, 1, 2 ** 40),
    sendStallTimeoutMs: checkInteger('sendStallTimeoutMs', options.sendStallTimeoutMs ?? 30_000, 1000, 3_600_000),
    maxPendingRequests: checkInteger('maxPendingRequests', options.maxPendingRequests ?? 4096, 1, 1_000_000),
    maxPendingHandlers: checkInteger('maxPendingHandlers', options.maxPendingHandlers ?? 1024, 1, 1_000_000),
    maxAliasBytes: checkInteger('maxAliasBytes', options.maxAliasBytes ?? 65_536, 256, 2 ** 30),
    requestTimeoutMs: checkInteger('requestTimeoutMs', options.requestTimeoutMs ?? 10_000, 0, 3_600_000),
    closeTimeoutMs: checkInteger('closeTimeoutMs', options.closeTimeoutMs ?? 5000, 0, 3_600_000),
    windowSize: checkInteger('windowSize', options.windowSize ?? 8192, 1, 1 << 20),
    heartbeatIntervalMs: checkInteger('heartbeatIntervalMs', options.heartbeatIntervalMs ?? 5000, 10, 3_600_000),
    heartbeatTimeoutMs: checkInteger('heartbeatTimeoutMs', options.heartbeatTimeoutMs ?? 15000, 20, 3_600_000),
    mtu: checkInteger('mtu', options.mtu ?? 1200, 256, 65_000),
    udpMaxMtu: checkInteger('udpMaxMtu', options.udpMaxMtu ?? 65_507, 256, 65_507),
    udpWindowSize: checkInteger('udpWindowSize', options.udpWindowSize ?? 16384, 1, 65_536),
    udpSpan: checkInteger('udpSpan', options.udpSpan ?? 16384, 1024, 65_536),
    udpSendBufferBytes: checkInteger('udpSendBufferBytes', options.udpSendBufferBytes ?? 4 * 1024 * 1024, 1024, 2 ** 30),
    udpReassemblyBytes: checkInteger('udpReassemblyBytes', options.udpReassemblyBytes ?? 4 * 1024 * 1024, 1024, 2 ** 30),
    udpReassemblyTimeoutMs: checkInteger('udpReassemblyTimeoutMs', options.udpReassemblyTimeoutMs ?? 5000, 1, 3_600_000),
    udpSocketBufferBytes: checkInteger('udpSocketBufferBytes', options.udpSocketBufferBytes ?? 4 * 1024 * 1024, 4096, 2 ** 30),
    udpMaxAckDelayMs: checkInteger('udpMaxAckDelayMs', options.udpMaxAckDelayMs ?? DEFAULT_ACK_DELAY_MS, 0, 1000),
    udpMinRtoMs: checkInteger('udpMinRtoMs', options.udpMinRtoMs ?? 100, 1, 60_000),
    udpMaxRtoMs: checkInteger('udpMaxRtoMs', options.udpMaxRtoMs ?? 60_000, 1, 3_600_000),
    udpBatchDelayMs: checkInteger('udpBatchDelayMs', options.udpBatchDelayMs ?? 0, 0, 1000),
  };
  // A cap below the mtu is the mtu: no discovery.
  limits.udpMaxMtu = Math.max(limits.udpMaxMtu, limits.mtu);
  if (!isSpan(limits.udpSpan)) throw new OptionError(`option udpSpan must be a power of two from 1024 to 65536, got ${limits.udpSpan}`);
  if (limits.udpMaxRtoMs < limits.udpMinRtoMs) {
    throw new OptionError(`option udpMaxRtoMs (${limits.udpMaxRtoMs}) must not be below udpMinRtoMs (${limits.udpMinRtoMs})`);
  }
  if (limits.highWaterMark > limits.maxQueueBytes) {
    throw new OptionError(`option highWaterMark (${limits.highWaterMark}) must not exceed maxQueueBytes (${limits.maxQueueBytes})`);
  }
  if (limits.heartbeatTimeoutMs <= limits.heartbeatIntervalMs) {
    throw new OptionError(`option heartbeatTimeoutMs (${limits.heartbeatTimeoutMs}) must exceed heartbeatIntervalMs (${limits.heartbeatIntervalMs})`);
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
