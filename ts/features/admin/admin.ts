/**
 * The admin request: `hybridwire top` (and any client) asks a server for its figures and its
 * sessions with a request of type ADMIN_TYPE. A server answers it only to a peer connected from a
 * loopback address, or to one that presents the server's `adminToken`; anyone else gets
 * HW_ERR_FORBIDDEN. The reply is bounded: at most MAX_PEERS_LISTED sessions, the busiest.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import net from 'node:net';
import { HybridwireError, OptionError } from '../../errors.js';
import type { Address, Peer } from '../../api/peer.js';
import type { MetricsSnapshot } from '../metrics/snapshot.js';

export const ADMIN_TYPE = 'hybridwire:admin';
export const MAX_PEERS_LISTED = 100;

export interface AdminRequest {
  /** The server's adminToken, needed from any address but loopback. */
  token?: string;
}

export interface AdminPeer {
  id: string;
  clientId: string | undefined;
  address: string;
  port: number;
  rttMs: number | null;
  messagesIn: number;
  messagesOut: number;
  bytesIn: number;
  bytesOut: number;
  queuedBytes: number;
}

export interface AdminReply {
  figures: MetricsSnapshot;
  /** Sessions open, of which `peers` lists the busiest. */
  sessionCount: number;
  peers: AdminPeer[];
}

/** What the admin handler reads of the server. */
export interface AdminHost {
  readonly peers: ReadonlyMap<string, Peer>;
  metricsSnapshot(): MetricsSnapshot;
}

/** The lengths an adminToken may have. */
export const ADMIN_TOKEN_LENGTH = { min: 8, max: 1024 } as const;

export function checkAdminToken(value: unknown): string | undefined {
  if (value === undefined) return undefined;
  const { min, max } = ADMIN_TOKEN_LENGTH;
  if (typeof value !== 'string' || value.length < min || value.length > max) {
    throw new OptionError(`option adminToken must be a string of ${min} to ${max} characters`, 'adminToken');
  }
  return value;
}

export function isLoopback(address: string): boolean {
  const plain = address.startsWith('::ffff:') && net.isIPv4(address.slice(7)) ? address.slice(7) : address;
  if (net.isIPv4(plain)) return plain.startsWith('127.');
  return plain === '::1';
}

const digest = (text: string) => createHash('sha256').update(text).digest();

/** Whether a peer at `address` presenting `token` may use the admin request. */
export function adminAllowed(address: Address, token: unknown, adminToken: string | undefined): boolean {
  if (isLoopback(address.address)) return true;
  if (adminToken === undefined || typeof token !== 'string') return false;
  // Digests have one length, so the comparison takes the same time whatever was presented.
  return timingSafeEqual(digest(token), digest(adminToken));
}

function peerFigures(peer: Peer): AdminPeer {
  const counters = peer.connection.counters;
  return {
    id: peer.id,
    clientId: peer.clientId,
    address: peer.tcpAddress.address,
    port: peer.tcpAddress.port,
    rttMs: counters.rttMs ?? null,
    messagesIn: counters.tcp.messagesIn + counters.udp.messagesIn,
    messagesOut: counters.tcp.messagesOut + counters.udp.messagesOut,
    bytesIn: counters.tcp.bytesIn + counters.udp.bytesIn,
    bytesOut: counters.tcp.bytesOut + counters.udp.bytesOut,
    queuedBytes: peer.queuedBytes,
  };
}

/** The handler of ADMIN_TYPE requests. */
export function adminHandler(host: AdminHost, adminToken: string | undefined): (request: unknown, peer: Peer) => AdminReply {
  return (request, peer) => {
    const token = typeof request === 'object' && request !== null ? (request as AdminRequest).token : undefined;
    if (!adminAllowed(peer.tcpAddress, token, adminToken)) {
      throw new HybridwireError('HW_ERR_FORBIDDEN', 'the admin request is allowed from loopback, or with the server\'s adminToken');
    }
    const peers = [...host.peers.values()].map(peerFigures);
    peers.sort((a, b) => b.messagesIn + b.messagesOut - (a.messagesIn + a.messagesOut));
    return { figures: host.metricsSnapshot(), sessionCount: peers.length, peers: peers.slice(0, MAX_PEERS_LISTED) };
  };
}
