/**
 * What a send is told (SendOptions), what the UDP side of a session offers it, the limits it keeps,
 * and what it holds back.
 */
import type { UdpStats } from '../transport/udp-session.js';
import type { Priority } from '../qos/priority-scheduler.js';
import type { QosSettings } from '../qos/qos-settings.js';

export type Transport = 'tcp' | 'udp' | 'auto';

export interface SendOptions {
  /** 'tcp' (default), 'udp', or 'auto': chosen per message (README, "Automatic transport"). */
  transport?: Transport;
  /** UDP only: retransmit until acknowledged. With 'auto': whether the message may be lost (default true: it may not). */
  reliable?: boolean;
  /** UDP reliable only: false delivers on arrival instead of in order. Default true. */
  ordered?: boolean;
  /** UDP reliable only: the ordering domain, 0..255. */
  channel?: number;
  /**
   * TCP: how a message that must wait (congestion, window, rate limit) is ordered among the others
   * that wait: 'high' overtakes 'normal' and 'low', and 'low' is never starved (ts/qos). Default 'normal'.
   */
  priority?: Priority;
}

/** The UDP side of a session, when there is one. */
export interface UdpPath {
  /** The session's 8-byte token, which prefixes each of its datagrams. */
  readonly token: Buffer;
  /** `flags`: the payload flags of the frames (COMPRESSED, for a compressed reliable message). */
  send(prefix: Buffer, prefixLength: number, body: Uint8Array | string, reliable: boolean, ordered: boolean, channel: number, flags?: number): boolean;
  close(): void;
  stats(): UdpStats | undefined;
}

/** The limits the send path enforces. */
export interface SendLimits {
  maxFrameSize: number;
  highWaterMark: number;
  maxQueueBytes: number;
  /** Writes that make no progress for this long close the peer (with a SendWatchHost). */
  sendStallTimeoutMs: number;
  /** Rate limits and the QoS counters of the server or client (ts/qos/qos-settings.ts). */
  qos?: QosSettings;
}

/** Encoded sequenced frames that the window does not allow out yet: one per flush, not per message. */
export interface HeldBatch {
  buffers: Buffer[];
  count: number;
  bytes: number;
}
