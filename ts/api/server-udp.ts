/**
 * A server's UDP side: its socket, the sessions' tokens, and the routing of each datagram
 * (docs/PROTOCOL.md 4): to its session when it comes from the session's validated address, else
 * to path validation (4.1), which may answer with a PATH_CHALLENGE within the anti-amplification
 * limit (4.2). Also the UDP counters of server.stats().
 */
import net from 'node:net';
import { randomBytes } from 'node:crypto';
import { DatagramDecoder } from '../codec/datagram-decoder.js';
import { FrameType, HEADER_SIZE } from '../codec/frame.js';
import { HybridwireError } from '../errors.js';
import type { HelloAccepted } from '../session/handshake.js';
import type { ReassemblyBudget, ReliableStats } from '../reliable/reliable-endpoint.js';
import { udpSealingFor } from '../session/udp-keys.js';
import { decodeDatagram } from '../transport/datagram-rule.js';
import { CHALLENGE_SIZE, Heard, PathValidator } from '../transport/path-validation.js';
import { Judged, TOKEN_SIZE, type UdpSession } from '../transport/udp-session.js';
import type { UdpSocket, UdpSocketStats } from '../transport/udp-socket.js';
import type { ResolvedLimits } from './limits.js';
import type { Peer } from './peer.js';
import { attachUdpSession, createUdpSocket, type DatagramRouter } from './udp-setup.js';

/** What happened to the datagrams the server received (docs/PROTOCOL.md 4). */
export interface UdpCounters {
  datagramsIn: number;
  /** Shorter than a token, or whose token names no open session. */
  droppedUnauthenticated: number;
  /**
   * Malformed (section 4, step 2), from any address. Those from a session's validated address are
   * counted by its reliable endpoint: this includes its drops.badChecksum and drops.malformed, which
   * also counts the single frames its reliable layer refused (a bad fragment prefix or ACK).
   */
  droppedMalformed: number;
  /** Well-formed, with a valid token, from an address that is not the session's validated one. */
  droppedUnvalidated: number;
  /**
   * Sessions whose datagrams are sealed (TLS, docs/PROTOCOL.md 4.4): datagrams that did not open
   * (forged, corrupted, or too short), and replays (a record number seen before), from any
   * address. Sums of the sessions' `sealing` counters (peer.udpStats()), closed sessions included.
   */
  droppedUnopened: number;
  droppedReplayed: number;
  /** PATH_CHALLENGEs sent, and addresses validated by a matching PATH_RESPONSE. */
  pathChallenges: number;
  pathValidations: number;
  /** PATH_RESPONSEs that matched no outstanding challenge (ignored: a late answer is normal). */
  unmatchedPathResponses: number;
}

/** Sums of the sessions' reliable-UDP counters (see ReliableStats, and peer.udpStats()). */
export interface ReliableTotals {
  retransmissions: number;
  lost: number;
  spuriousLosses: number;
  timeouts: number;
  mtuProbesSent: number;
  drops: ReliableStats['drops'];
}

/** A session's UDP side on the server; it also takes the session's PATH_RESPONSEs (one object, no closure per session). */
class UdpBinding {
  constructor(
    private readonly owner: ServerUdp,
    readonly peer: Peer,
    readonly tokenHigh: number,
    readonly path: UdpSession,
    readonly validator: PathValidator,
  ) {}

  pathResponded(payload: Uint8Array): void {
    this.owner.pathResponded(this, payload);
  }
}

/** The shared reassembly budget (udpReassemblyTotalBytes): bytes held, sessions holding some, charges refused. */
export interface ReassemblyTotals {
  usedBytes: number;
  holders: number;
  refusedCharges: number;
}

/** A PATH_CHALLENGE datagram's bytes: token, frame header and the challenge. */
const CHALLENGE_DATAGRAM_BYTES = TOKEN_SIZE + HEADER_SIZE + CHALLENGE_SIZE;
const NO_PAYLOAD = Buffer.alloc(0);
const IGNORE = (): void => {};
/** A server's UDP side of every session (see UdpSide). */
const SERVER_SIDE = { holdUnreliable: false, pong: IGNORE, challenge: IGNORE };

export class ServerUdp implements DatagramRouter {
  private socket: UdpSocket | undefined;
  private readonly bindings = new Map<number, UdpBinding>();
  /** What takes the PATH_RESPONSEs of sessions of a server without UDP (none matches a challenge). */
  private readonly noPath = { pathResponded: (payload: Uint8Array) => this.pathResponded(undefined, payload) };
  private readonly datagrams = new DatagramDecoder();
  private readonly counters: UdpCounters = {
    datagramsIn: 0,
    droppedUnauthenticated: 0,
    droppedMalformed: 0,
    droppedUnvalidated: 0,
    droppedUnopened: 0,
    droppedReplayed: 0,
    pathChallenges: 0,
    pathValidations: 0,
    unmatchedPathResponses: 0,
  };
  /** The reliable counters of sessions that have closed. */
  private readonly closedTotals = newReliableTotals();

  constructor(
    private readonly limits: ResolvedLimits,
    /** Bounds the reassembly memory of all sessions together. */
    private readonly budget: ReassemblyBudget,
  ) {}

  /** The UDP port, or 0 without a socket. */
  get port(): number {
    return this.socket?.port ?? 0;
  }

  /** Opens the socket; resolves with its port. A socket that cannot bind is closed again. */
  async listen(type: 'udp4' | 'udp6', port: number, host: string | undefined): Promise<number> {
    const socket = createUdpSocket(type, this.limits, this, (count) => {
      this.counters.datagramsIn += count;
    });
    this.socket = socket;
    try {
      return await socket.bind(port, host);
    } catch (error) {
      this.socket = undefined;
      socket.close();
      throw error;
    }
  }

  close(): void {
    this.socket?.close();
  }

  /**
   * 8 random bytes whose low 32 bits are unique among live sessions (they key the lookup). In a
   * memory block of their own: in Node's shared pool, each kept 8 KiB of the pool alive for about
   * a dozen sessions (the pool's other users come and go).
   */
  newToken(): Buffer {
    for (;;) {
      const token = randomBytes(TOKEN_SIZE);
      const low = token.readUInt32LE(0);
      if (low !== 0 && !this.bindings.has(low)) return token;
    }
  }

  /** The UDP side of an accepted session, keyed by the low half of its token. */
  bind(peer: Peer, answer: HelloAccepted, token: Buffer): void {
    if (!this.socket) {
      // Without UDP no challenge goes out, so an answer matches none: ignored all the same (4.1).
      peer.connection.pathResponse = this.noPath;
      return;
    }
    const agreement = { token, step: answer.mode === 'step', negotiated: answer.udp, sealing: udpSealingFor(peer.connection.socket, 'server') };
    const path = attachUdpSession(peer.connection, this.socket, peer, this.limits, agreement, this.budget, SERVER_SIDE);
    const binding = new UdpBinding(this, peer, token.readUInt32LE(4), path, new PathValidator(CHALLENGE_DATAGRAM_BYTES));
    this.bindings.set(token.readUInt32LE(0), binding);
    peer.connection.pathResponse = binding;
  }

  /** The session of `peer` has closed: its token is free, its counters join the totals. */
  unbind(peer: Peer): void {
    const token = peer.connection.udpPath?.token;
    if (token === undefined) return;
    const low = token.readUInt32LE(0);
    const binding = this.bindings.get(low);
    if (binding?.peer !== peer) return;
    this.bindings.delete(low);
    addSessionStats(this.counters, this.closedTotals, binding);
  }

  /** The counters of server.stats(): the server's own and the sessions' reliable ones, summed. */
  stats(): { udp: UdpCounters; reliable: ReliableTotals; socket: UdpSocketStats | undefined; reassembly: ReassemblyTotals } {
    const udp = { ...this.counters };
    const reliable = { ...this.closedTotals, drops: { ...this.closedTotals.drops } };
    for (const binding of this.bindings.values()) addSessionStats(udp, reliable, binding);
    const budget = this.budget;
    const reassembly = { usedBytes: budget.usedBytes, holders: budget.holders, refusedCharges: budget.refusedCharges };
    return { udp, reliable, socket: this.socket?.stats(), reassembly };
  }

  /** The open session whose token bytes[start, end) carries, if it comes from that session's validated address. */
  knownSession(bytes: Buffer, start: number, end: number, address: string, port: number): UdpSession | undefined {
    if (end - start < TOKEN_SIZE) return undefined;
    const binding = this.bindings.get(bytes.readUInt32LE(start));
    const known = binding?.peer.udpAddress;
    if (
      binding === undefined ||
      known === undefined ||
      known.port !== port ||
      known.address !== address ||
      binding.tokenHigh !== bytes.readUInt32LE(start + 4) ||
      binding.peer.connection.state !== 'open'
    ) {
      return undefined;
    }
    return binding.path;
  }

  /**
   * A datagram no known session took: `bytes[start, end)`, lent for the call. One with a session's
   * token comes from an address that is not the session's validated one (docs/PROTOCOL.md 4): it
   * is used for nothing but to validate that address.
   */
  otherDatagram(bytes: Buffer, start: number, end: number, address: string, port: number): void {
    const counts = this.counters;
    counts.datagramsIn++;
    if (end - start < TOKEN_SIZE) {
      counts.droppedUnauthenticated++;
      return;
    }
    const binding = this.bindings.get(bytes.readUInt32LE(start));
    if (binding === undefined || binding.tokenHigh !== bytes.readUInt32LE(start + 4) || binding.peer.connection.state !== 'open') {
      counts.droppedUnauthenticated++;
      return;
    }
    // A sealed one must open first (it is opened in place, its record number not counted as
    // seen): one that does not, or a replay, proves nothing of the address and draws nothing.
    const judged = binding.path.judge(bytes, start, end, (frames) => decodeDatagram(this.datagrams, frames) >= 0);
    if (judged === Judged.UNOPENED || judged === Judged.REPLAYED) return;
    const wellFormed = judged === Judged.WELL_FORMED;
    if (wellFormed) counts.droppedUnvalidated++;
    else counts.droppedMalformed++;
    if (binding.validator.heard({ address, port }, end - start, performance.now(), wellFormed) !== Heard.CHALLENGE) return;
    let destination;
    try {
      destination = this.socket!.destination(address, port);
    } catch {
      // Not an address a datagram can be sent to.
      return;
    }
    binding.path.sendChallenge(binding.validator.challenge, destination);
    counts.pathChallenges++;
  }

  /** @internal A PATH_RESPONSE on the TCP connection of `binding` (undefined: a server without UDP), docs/PROTOCOL.md 4.1. */
  pathResponded(binding: UdpBinding | undefined, payload: Uint8Array): void {
    if (payload.length !== CHALLENGE_SIZE) {
      throw new HybridwireError('HW_ERR_BAD_MESSAGE', `a PATH_RESPONSE carries the ${CHALLENGE_SIZE} bytes of a challenge, not ${payload.length}`);
    }
    const validated = binding?.validator.responded(payload);
    if (binding === undefined || validated === undefined) {
      this.counters.unmatchedPathResponses++;
      return;
    }
    this.counters.pathValidations++;
    // A literal, not a spread copy (which V8 may give a hidden class of its own per session).
    binding.peer.udpAddress = { address: validated.address, port: validated.port, family: net.isIPv6(validated.address) ? 'IPv6' : 'IPv4' };
    // Tells the client its path is ready; then what waited for the path goes there.
    binding.path.sendControl(FrameType.PONG, NO_PAYLOAD, 0);
    binding.path.pathReady();
  }
}

function newReliableTotals(): ReliableTotals {
  return {
    retransmissions: 0,
    lost: 0,
    spuriousLosses: 0,
    timeouts: 0,
    mtuProbesSent: 0,
    drops: { badChecksum: 0, malformed: 0, duplicate: 0, stale: 0, windowOverflow: 0, reassemblyOverflow: 0, expired: 0, sendBuffer: 0 },
  };
}

/** Adds the UDP counters of a session (reliable and sealing) to running totals. */
function addSessionStats(udp: UdpCounters, reliable: ReliableTotals, binding: UdpBinding): void {
  const sealing = binding.path.sealingStats();
  if (sealing !== undefined) {
    udp.droppedUnopened += sealing.unopened;
    udp.droppedReplayed += sealing.replayed;
  }
  const stats = binding.peer.udpStats();
  if (stats === undefined) return;
  udp.droppedMalformed += stats.drops.badChecksum + stats.drops.malformed;
  reliable.retransmissions += stats.retransmissions;
  reliable.lost += stats.lost;
  reliable.spuriousLosses += stats.spuriousLosses;
  reliable.timeouts += stats.timeouts;
  reliable.mtuProbesSent += stats.mtuProbesSent;
  const drops = reliable.drops;
  for (const cause of Object.keys(drops) as Array<keyof typeof drops>) drops[cause] += stats.drops[cause];
}
