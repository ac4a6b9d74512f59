/**
 * A server's figures at one moment, read from what already counts them (the server's stats(),
 * each session's counters and reliable-UDP statistics) plus what the metrics feature counts
 * itself: handshakes, heartbeat round trips, handler calls. Prometheus, the CSV file, the
 * summary, `hybridwire top` and the dashboard all read this one shape.
 */
import type { TypeCount } from '../../session/handler-calls.js';

export interface TransportFigures {
  messagesIn: number;
  messagesOut: number;
  bytesIn: number;
  bytesOut: number;
}

/** Why something was dropped. Datagrams, frames or messages, as each cause says. */
export const DROP_CAUSES = [
  /** Datagrams that carried no live session's token. */
  'unauthenticated',
  /** Datagrams or UDP messages that could not be parsed. */
  'malformed',
  /** Reliable-UDP datagrams whose checksum failed. */
  'bad_checksum',
  /** Reliable-UDP frames received twice. */
  'duplicate',
  /** Reliable-UDP frames older than the receive window. */
  'stale',
  /** Reliable-UDP frames beyond the receive window. */
  'window_overflow',
  /** Fragments past the reassembly memory. */
  'reassembly_overflow',
  /** Incomplete messages dropped after udpReassemblyTimeoutMs. */
  'expired',
  /** Unreliable UDP messages dropped from a full send buffer. */
  'send_buffer',
  /** Datagrams dropped while the kernel refused writes and the socket's queue was full. */
  'socket_queue',
  /** broadcast() messages a peer missed (queue full, or no UDP path). */
  'broadcast',
] as const;

export type DropCause = (typeof DROP_CAUSES)[number];

export interface MetricsSnapshot {
  /** When it was taken (ms since the epoch). */
  time: number;
  uptimeSeconds: number;
  sessions: number;
  handshakes: { accepted: number; refused: number; failed: number };
  tcp: TransportFigures;
  udp: TransportFigures;
  drops: Record<DropCause, number>;
  retransmissions: number;
  /** Heartbeat round trips measured since metrics were on, and the mean of the sessions' smoothed RTT now. */
  rtt: { samples: number; sumSeconds: number; meanMs: number | undefined };
  /** Handled messages by type, busiest first. */
  types: TypeCount[];
}

/** Per-session figures that outlive the session: its share is kept when it ends. */
export interface SessionShare {
  retransmissions: number;
  drops: Record<DropCause, number>;
}

export function emptyDrops(): Record<DropCause, number> {
  return Object.fromEntries(DROP_CAUSES.map((cause) => [cause, 0])) as Record<DropCause, number>;
}
