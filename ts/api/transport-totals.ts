/** The per-transport message and byte counters a server sums over its sessions. */
import type { Peer } from './peer.js';

export interface TransportTotals {
  messagesIn: number;
  messagesOut: number;
  bytesIn: number;
  bytesOut: number;
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

