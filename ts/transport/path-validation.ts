/**
 * A server's path validation for one session (docs/PROTOCOL.md 4.1 and 4.2): the addresses that
 * sent it datagrams and are not its validated address, each with its outstanding PATH_CHALLENGE,
 * when it was sent, and the bytes received from and sent to it, which bound what may be sent
 * there. It owns no socket and no clock: the server tells it what arrived and when, and sends the
 * challenges it returns.
 */
import { randomBytes, timingSafeEqual } from 'node:crypto';

/** Bytes of a PATH_CHALLENGE payload (and of the PATH_RESPONSE that answers it). */
export const CHALLENGE_SIZE = 8;
/** Addresses a session keeps challenging at once; a new one makes it forget the least recently heard. */
export const MAX_CANDIDATES = 4;
/** The first re-challenge interval; it doubles after each further challenge, up to the maximum. */
export const RECHALLENGE_MS = 250;
export const MAX_RECHALLENGE_MS = 8000;
/** Anti-amplification (RFC 9000 §8.1): to an unvalidated address, at most this times the bytes received from it. */
export const AMPLIFICATION_FACTOR = 3;

export interface PathAddress {
  address: string;
  port: number;
}

interface Candidate extends PathAddress {
  /** Datagram bytes received from it, token included. */
  received: number;
  /** Datagram bytes sent to it (challenges). */
  sent: number;
  /** The outstanding challenge, once one was sent. */
  challenge: Buffer | undefined;
  challengedAt: number;
  /** How long after the last challenge the next may go. */
  interval: number;
  heardAt: number;
}

/** What heard() decided about a datagram. */
export const Heard = {
  /** Send the returned challenge to the address. */
  CHALLENGE: 0,
  /** The outstanding challenge is recent: wait for its answer. */
  WAIT: 1,
  /** A challenge is due but would pass the anti-amplification limit. */
  OVER_BUDGET: 2,
  /** A malformed datagram: its bytes counted for an address already being validated, nothing sent. */
  MALFORMED: 3,
} as const;

/** What `challenge` is with none outstanding: a session validated long ago keeps no 8-byte buffer. */
const NO_CHALLENGE = Buffer.alloc(0);

export class PathValidator {
  /** The challenge heard() returned with Heard.CHALLENGE (read at once: dropped once answered). */
  challenge: Buffer = NO_CHALLENGE;
  private readonly candidates: Candidate[] = [];

  /**
   * @param challengeBytes the size of a challenge datagram (token, header, payload), charged
   *   against the anti-amplification limit of the address it goes to.
   * @param random the CSPRNG challenges are drawn from (a parameter for tests).
   */
  constructor(
    private readonly challengeBytes: number,
    private readonly random: (size: number) => Buffer = randomBytes,
  ) {}

  /** Addresses being validated (at most MAX_CANDIDATES). */
  get size(): number {
    return this.candidates.length;
  }

  /**
   * A datagram of `bytes` (token included) with the session's token arrived from `from`, which is
   * not the session's validated address, at `nowMs`. `wellFormed` false: it is malformed (section
   * 4); its bytes still count for an address already being validated, but it draws nothing.
   * Returns what to do (Heard); with Heard.CHALLENGE, `challenge` holds the 8 bytes to send.
   */
  heard(from: PathAddress, bytes: number, nowMs: number, wellFormed: boolean): number {
    let candidate = this.find(from.address, from.port);
    if (candidate === undefined) {
      if (!wellFormed) return Heard.MALFORMED;
      candidate = this.add(from, nowMs);
    }
    candidate.received += bytes;
    candidate.heardAt = nowMs;
    if (!wellFormed) return Heard.MALFORMED;
    if (candidate.challenge !== undefined && nowMs - candidate.challengedAt < candidate.interval) return Heard.WAIT;
    if (candidate.sent + this.challengeBytes > AMPLIFICATION_FACTOR * candidate.received) return Heard.OVER_BUDGET;
    // The interval runs from the first challenge, and doubles after each further one.
    if (candidate.challenge !== undefined) candidate.interval = Math.min(candidate.interval * 2, MAX_RECHALLENGE_MS);
    candidate.challenge = this.random(CHALLENGE_SIZE);
    candidate.challengedAt = nowMs;
    candidate.sent += this.challengeBytes;
    this.challenge = candidate.challenge;
    return Heard.CHALLENGE;
  }

  /**
   * A PATH_RESPONSE's payload (8 bytes) arrived over the session's TCP connection. Returns the
   * address whose outstanding challenge it matches, which is validated and no longer a
   * candidate; undefined when it matches none (a late answer to a superseded challenge).
   */
  responded(payload: Uint8Array): PathAddress | undefined {
    if (payload.length !== CHALLENGE_SIZE) return undefined;
    const candidates = this.candidates;
    for (let i = 0; i < candidates.length; i++) {
      const candidate = candidates[i]!;
      if (candidate.challenge !== undefined && timingSafeEqual(candidate.challenge, payload)) {
        candidates.splice(i, 1);
        if (this.challenge === candidate.challenge) this.challenge = NO_CHALLENGE;
        return { address: candidate.address, port: candidate.port };
      }
    }
    return undefined;
  }

  private find(address: string, port: number): Candidate | undefined {
    for (const candidate of this.candidates) {
      if (candidate.port === port && candidate.address === address) return candidate;
    }
    return undefined;
  }

  private add(from: PathAddress, nowMs: number): Candidate {
    const candidates = this.candidates;
    if (candidates.length >= MAX_CANDIDATES) {
      let oldest = 0;
      for (let i = 1; i < candidates.length; i++) if (candidates[i]!.heardAt < candidates[oldest]!.heardAt) oldest = i;
      candidates.splice(oldest, 1);
    }
    const candidate: Candidate = {
      address: from.address,
      port: from.port,
      received: 0,
      sent: 0,
      challenge: undefined,
      challengedAt: nowMs,
      interval: RECHALLENGE_MS,
      heardAt: nowMs,
    };
    candidates.push(candidate);
    return candidate;
  }
}
