/** The figures of server.stats(), and the running totals behind them. */
import type { ReliableTotals, ReassemblyTotals, UdpCounters } from './server-udp.js';
import type { UdpSocketStats } from '../transport/udp-socket.js';
import type { Peer } from './peer.js';
import type { PubsubStats } from '../pubsub/pubsub-stats.js';

export interface ListenResult {
  host: string;
  tcpPort: number;
  udpPort: number | undefined;
}

export interface TransportTotals {
  messagesIn: number;
  messagesOut: number;
  bytesIn: number;
  bytesOut: number;
}

export interface ServerStats {
  connectedClients: number;
  uptimeMs: number;
  tcp: TransportTotals;
  udp: TransportTotals & UdpCounters;
  /** The reliable-UDP counters of every session (each one's peer.udpStats()), summed, closed sessions included. */
  udpReliable: ReliableTotals;
  /** The server's UDP socket: datagrams through it, and those the kernel could not take at once. */
  udpSocket: UdpSocketStats | undefined;
  /** The reassembly budget its sessions share (udpReassemblyTotalBytes): bytes held, sessions holding some, charges refused. */
  udpReassembly: ReassemblyTotals;
  refusedConnections: number;
  /** HELLOs refused with HW_ERR_AUTH_REFUSED (authenticate said no, threw, or the address was blocked). */
  authRefused: number;
  /** Of authRefused, those refused without asking authenticate: their address had failed authFailureLimit times. */
  authBlocked: number;
  /** Connections that failed before the handshake: TLS handshake, client certificate, or silence. */
  tlsFailures: number;
  protocolErrors: number;
  /** Messages of broadcast() that a peer missed: its send queue was full, or it had no UDP path. */
  broadcastDrops: number;
  /** Pub/sub: subscriptions, retained messages, messages in and out per QoS, drops by cause, queued. */
  pubsub: PubsubStats;
}

/** Adds a session's per-transport counters to running totals. */
export function addTransportStats(tcp: TransportTotals, udp: TransportTotals, peer: Peer): void {
  const stats = peer.connection.counters;
  for (const [total, own] of [
    [tcp, stats.tcp],
    [udp, stats.udp],
  ] as const) {
    total.messagesIn += own.messagesIn;
    total.messagesOut += own.messagesOut;
    total.bytesIn += own.bytesIn;
    total.bytesOut += own.bytesOut;
  }
}

