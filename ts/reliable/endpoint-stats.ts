/** A reliable endpoint's statistics, read by name from the native statistics (ts/native/layouts.ts). */
import { EndpointStat } from '../native/layouts.js';

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

/**
 * The statistics in `values` (the endpoint statistics of ts/native/layouts.ts, times in
 * microseconds), with what the wrapper adds: its window, the bytes waiting for room in the native
 * send buffer, and the unreliable messages its overflow policy dropped.
 */
export function readStats(values: Float64Array, window: number, waitingBytes: number, droppedUnreliable: number): ReliableStats {
  return {
    rttMs: values[EndpointStat.SRTT_US]! / 1000,
    rttVarianceMs: values[EndpointStat.RTTVAR_US]! / 1000,
    minRttMs: values[EndpointStat.MIN_RTT_US]! / 1000,
    rtoMs: values[EndpointStat.RTO_US]! / 1000,
    congestionWindow: values[EndpointStat.CWND]!,
    bytesInFlight: values[EndpointStat.BYTES_IN_FLIGHT]!,
    messagesInFlight: values[EndpointStat.MESSAGES_IN_FLIGHT]!,
    window,
    sendBufferBytes: values[EndpointStat.SEND_BUFFER_BYTES]! + waitingBytes,
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
      sendBuffer: values[EndpointStat.DROPS_SEND_BUFFER]! + droppedUnreliable,
    },
  };
}
