/**
 * The UDP side of sessions, built the same way on both ends: the socket, the walk over the
 * datagrams of each batch it receives, and a session's UdpSession wired to its Connection.
 * Which datagram belongs to which session is the caller's ({@link DatagramRouter}).
 */
import type { Connection, SendOptions } from '../session/connection.js';
import type { HybridwireError } from '../errors.js';
import type { ReassemblyBudget } from '../reliable/reliable-endpoint.js';
import type { UdpParameters } from '../session/handshake.js';
import type { UdpSealing } from '../transport/datagram-seal.js';
import { TOKEN_SIZE, UdpSession, type UdpSessionEvents, type UdpSessionOptions, type UdpTargetSource } from '../transport/udp-session.js';
import { UdpSocket, walkBatch } from '../transport/udp-socket.js';
import { SOCKET_ROW_WIDTH, SocketRow } from '../native/layouts.js';
import { udpSessionOptions, type ResolvedLimits } from './limits.js';

export interface DatagramRouter {
  /**
   * The session of the datagram at bytes[start, end) (token included) when it comes from the
   * address that session already has; else undefined. It takes the datagram, and any that follow
   * in the batch with its token from the same sender, at once.
   */
  knownSession(bytes: Buffer, start: number, end: number, address: string, port: number): UdpSession | undefined;
  /**
   * Any other datagram, at bytes[start, end). The bytes are lent, valid only during the call: such
   * a datagram is judged, never delivered (path validation, docs/PROTOCOL.md 4).
   */
  otherDatagram(bytes: Buffer, start: number, end: number, address: string, port: number): void;
}

/** A UDP socket whose datagrams go to `router`, with the buffer sizes of `limits`. */
export function createUdpSocket(type: 'udp4' | 'udp6', limits: ResolvedLimits, router: DatagramRouter, onKnown: (count: number) => void): UdpSocket {
  return new UdpSocket({
    type,
    // Bursts of datagrams overflow the default buffers (about 200 KiB) even on loopback.
    bufferBytes: limits.udpSocketBufferBytes,
    queueBytes: limits.udpSocketBufferBytes,
    onDatagram: (bytes, start, end, address, port) => {
      const session = router.knownSession(bytes, start, end, address, port);
      if (session === undefined) {
        router.otherDatagram(bytes, start, end, address, port);
        return;
      }
      onKnown(1);
      session.receive(bytes.subarray(start + TOKEN_SIZE, end));
    },
    onBatch: (bytes, rows, count, senders) => onKnown(routeBatch(router, bytes, rows, count, senders)),
  });
}

/**
 * Hands a batch of datagrams (see UdpSocket's rows) to their sessions: a run of one session's
 * datagrams from its known address in one call, anything else one at a time. Returns how many
 * datagrams known sessions took.
 */
function routeBatch(router: DatagramRouter, bytes: Buffer, rows: Uint32Array, count: number, senders: string[]): number {
  let known = 0;
  walkBatch(count, (index) => {
    const base = index * SOCKET_ROW_WIDTH;
    const start = rows[base + SocketRow.OFFSET]!;
    const end = start + rows[base + SocketRow.LENGTH]!;
    const port = rows[base + SocketRow.PORT]!;
    const address = senders[rows[base + SocketRow.SENDER]!]!;
    const session = router.knownSession(bytes, start, end, address, port);
    if (session !== undefined) {
      const next = session.receiveRows(bytes, rows, index, count);
      known += next - index;
      return next;
    }
    router.otherDatagram(bytes, start, end, address, port);
    return index + 1;
  });
  return known;
}

/** What the handshake settled for a session's UDP side. */
export interface UdpAgreement {
  /** The session's 8-byte token, which prefixes each of its datagrams. */
  token: Buffer;
  step: boolean;
  negotiated: UdpParameters | undefined;
  /** How its datagrams are sealed: a TLS session's keys (docs/PROTOCOL.md 4.4); none without TLS. */
  sealing: UdpSealing | undefined;
}

/** What differs between the two ends of a session's UDP side. */
export interface UdpSide {
  /** See UdpSessionOptions.holdUnreliable: a client holds, a server does not. */
  holdUnreliable: boolean;
  /** A PONG came (a client's announcement was answered). */
  pong(): void;
  /** A PATH_CHALLENGE came (a client answers it over TCP). */
  challenge(payload: Uint8Array): void;
}

/**
 * The UDP side of `connection`'s session over `socket`, attached to it: messages it receives are
 * the connection's, its 'drain' the connection's. `target.udpAddress` says where its datagrams go now.
 */
export function attachUdpSession(
  connection: Connection,
  socket: UdpSocket,
  target: UdpTargetSource,
  limits: ResolvedLimits,
  agreement: UdpAgreement,
  budget: ReassemblyBudget | undefined,
  side: UdpSide,
): UdpSession {
  const options = sessionOptions(limits, agreement, budget, side.holdUnreliable);
  const session = new UdpSession(socket, agreement.token, target, options, new SessionUdpEvents(connection, side));
  connection.attachUdp(session);
  return session;
}

/**
 * Options of sessions that agreed the same parameters, shared (a UdpSession never changes them):
 * one object per server and agreement rather than one per session. Keyed by the reassembly budget
 * (one per server) or, without one, by the limits; at most MAX_SHARED_OPTIONS agreements each, so
 * that peers offering ever other parameters cannot grow it.
 */
const SHARED_OPTIONS = new WeakMap<object, Map<string, UdpSessionOptions>>();
const MAX_SHARED_OPTIONS = 64;

function sessionOptions(limits: ResolvedLimits, agreement: UdpAgreement, budget: ReassemblyBudget | undefined, holdUnreliable: boolean): UdpSessionOptions {
  // Set on the literal rather than spread into a copy: V8 may give each spread copy a hidden class
  // of its own (about 400 bytes per session).
  const made = (): UdpSessionOptions => {
    const options = udpSessionOptions(limits, agreement.step, agreement.negotiated, budget);
    options.holdUnreliable = holdUnreliable;
    return options;
  };
  // A sealing session's options hold its keys: its own.
  if (agreement.sealing !== undefined) {
    const options = made();
    options.sealing = agreement.sealing;
    return options;
  }
  const owner: object = budget ?? limits;
  let shared = SHARED_OPTIONS.get(owner);
  if (shared === undefined) SHARED_OPTIONS.set(owner, (shared = new Map()));
  const offer = agreement.negotiated;
  const key = offer === undefined ? `${agreement.step} ${holdUnreliable}` : `${agreement.step} ${holdUnreliable} ${offer.mtu} ${offer.maxMtu} ${offer.window} ${offer.reassemblyBytes} ${offer.ackDelayMs} ${offer.span}`;
  let options = shared.get(key);
  if (options === undefined) {
    options = made();
    if (shared.size < MAX_SHARED_OPTIONS) shared.set(key, options);
  }
  return options;
}

/** A UdpSession's events, passed on to its connection and side: one small object per session, not closures. */
class SessionUdpEvents implements UdpSessionEvents {
  constructor(
    private readonly connection: Connection,
    private readonly side: UdpSide,
  ) {}

  message(payload: Buffer, via: SendOptions, flags: number): void {
    this.connection.receiveDatagramMessage(payload, 0, payload.length, via, flags);
  }

  pong(): void {
    this.side.pong();
  }

  challenge(payload: Uint8Array): void {
    this.side.challenge(payload);
  }

  drain(): void {
    this.connection.udpDrained();
  }

  failed(error: HybridwireError): void {
    this.connection.fail(error);
  }
}
