/**
 * Who may open a session on a server, decided at HELLO: plaintext sessions when TLS is required,
 * the application's `authenticate`, and addresses that failed it too often. A refusal is a
 * refusing HELLO_ACK with a code (docs/PROTOCOL.md 3.2), which the client's connect() rejects with.
 */
import net from 'node:net';
import { HybridwireError, OptionError } from '../errors.js';
import { checkInteger } from '../validate.js';
import { refuse, type Hello, type HelloRefused } from '../session/handshake.js';
import type { PeerCertificate } from '../transport/tls.js';

/** What `authenticate` is told about the connection besides its HELLO. */
export interface AuthenticateInfo {
  /** The client's IP address, as the TCP connection has it. */
  address: string;
  port: number;
  /** The client's certificate, when it proved one over TLS (mutual TLS); else undefined. */
  certificate: PeerCertificate | undefined;
}

/**
 * Decides whether a client may open a session: `true` admits it; `false` refuses it, and so does a
 * string, which is the reason its connect() rejects with (HW_ERR_AUTH_REFUSED). Anything else, and
 * an exception, refuses too.
 */
export type Authenticate = (hello: Hello, info: AuthenticateInfo) => boolean | string | Promise<boolean | string>;

export interface AdmissionOptions {
  /**
   * Refuse sessions that are not over TLS, with HW_ERR_ENCRYPTION_REQUIRED. Default: true when the
   * server has `tls`, else false.
   */
  requireEncryption?: boolean;
  /** Called with each HELLO (its `auth` carries the client's credentials); see {@link Authenticate}. */
  authenticate?: Authenticate;
  /**
   * Failed authentications from one address (an IPv6 address counts by its /64) after which it
   * is refused without asking `authenticate`, until authBlockMs have passed since its last
   * failure. 0 never blocks. Default 10 (0..1,000,000).
   */
  authFailureLimit?: number;
  /** How long failures are remembered, and so how long an address that reached the limit is refused. Default 60000 ms (1..86,400,000). */
  authBlockMs?: number;
}

/** Where a HELLO came from. */
export interface SessionOrigin extends AuthenticateInfo {
  /** The session runs over TLS. */
  encrypted: boolean;
}

export interface AdmissionCounters {
  /** HELLOs refused with HW_ERR_AUTH_REFUSED, those of blocked addresses included. */
  authRefused: number;
  /** Of those, HELLOs refused because their address was blocked. */
  authBlocked: number;
}

/** Addresses remembered at once; past it the one that failed least recently is forgotten. */
const MAX_TRACKED_ADDRESSES = 65_536;
/** Longest reason sent back: handshake strings are at most 256 characters (docs/PROTOCOL.md 3.1). */
const MAX_REASON = 256;

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return typeof (value as { then?: unknown } | null)?.then === 'function';
}

/** The key an address's failures are counted under: the address, an IPv6 one by its /64 (what one host is usually given). */
export function addressKey(address: string): string {
  const bare = address.replace(/%.*$/, '');
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(bare);
  if (mapped) return mapped[1]!;
  if (!net.isIPv6(bare)) return bare;
  const [head = '', tail] = bare.split('::');
  const front = head === '' ? [] : head.split(':');
  const back = tail === undefined || tail === '' ? [] : tail.split(':');
  const groups = tail === undefined ? front : [...front, ...Array<string>(8 - front.length - back.length).fill('0'), ...back];
  return `${groups.slice(0, 4).map((group) => Number.parseInt(group, 16).toString(16)).join(':')}::/64`;
}

/** Failed authentications per address, bounded in count and in time. */
export class AuthThrottle {
  private readonly failures = new Map<string, { count: number; lastAt: number }>();

  constructor(
    private readonly limit: number,
    private readonly blockMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  /** Milliseconds for which `address` is still refused; 0 when it may try. */
  blockedFor(address: string): number {
    if (this.limit === 0) return 0;
    const key = addressKey(address);
    const entry = this.failures.get(key);
    if (entry === undefined) return 0;
    const elapsed = this.now() - entry.lastAt;
    if (elapsed >= this.blockMs) {
      this.failures.delete(key);
      return 0;
    }
    return entry.count >= this.limit ? this.blockMs - elapsed : 0;
  }

  /** `address` failed to authenticate. Failures more than blockMs apart start the count again. */
  failed(address: string): void {
    if (this.limit === 0) return;
    const key = addressKey(address);
    const now = this.now();
    const entry = this.failures.get(key);
    const count = entry !== undefined && now - entry.lastAt < this.blockMs ? entry.count + 1 : 1;
    // Re-inserted, so that the map's order is that of the last failures.
    this.failures.delete(key);
    this.failures.set(key, { count, lastAt: now });
    if (this.failures.size > MAX_TRACKED_ADDRESSES) this.failures.delete(this.failures.keys().next().value!);
  }

  /** Addresses remembered now. */
  get size(): number {
    return this.failures.size;
  }
}

export class Admission {
  readonly requireEncryption: boolean;
  private readonly authenticate: Authenticate | undefined;
  private readonly throttle: AuthThrottle;

  constructor(
    options: AdmissionOptions,
    hasTls: boolean,
    private readonly counters: AdmissionCounters,
    /** An exception of `authenticate` (the client is refused all the same). */
    private readonly authenticateFailed: (error: HybridwireError) => void,
  ) {
    const requireEncryption = options.requireEncryption ?? hasTls;
    if (typeof requireEncryption !== 'boolean') throw new OptionError(`option requireEncryption must be a boolean, got ${String(requireEncryption)}`);
    if (options.authenticate !== undefined && typeof options.authenticate !== 'function') {
      throw new OptionError('option authenticate must be a function (hello, info) => true | false | reason');
    }
    this.requireEncryption = requireEncryption;
    this.authenticate = options.authenticate;
    this.throttle = new AuthThrottle(
      checkInteger('authFailureLimit', options.authFailureLimit ?? 10, 0, 1_000_000),
      checkInteger('authBlockMs', options.authBlockMs ?? 60_000, 1, 86_400_000),
    );
  }

  /**
   * undefined when the HELLO may open a session, else its refusal; a Promise while the
   * application's authenticate decides.
   */
  admit(hello: Hello, origin: SessionOrigin): HelloRefused | undefined | Promise<HelloRefused | undefined> {
    if (this.requireEncryption && !origin.encrypted) {
      return refuse('HW_ERR_ENCRYPTION_REQUIRED', 'this server accepts only sessions over TLS');
    }
    const authenticate = this.authenticate;
    if (authenticate === undefined) return undefined;
    const blockedMs = this.throttle.blockedFor(origin.address);
    if (blockedMs > 0) {
      this.counters.authRefused++;
      this.counters.authBlocked++;
      return refuse('HW_ERR_AUTH_REFUSED', `too many failed authentications from this address; try again in ${Math.ceil(blockedMs / 1000)} s`);
    }
    const info: AuthenticateInfo = { address: origin.address, port: origin.port, certificate: origin.certificate };
    let verdict: ReturnType<Authenticate>;
    try {
      verdict = authenticate(hello, info);
    } catch (error) {
      return this.threw(error);
    }
    if (isThenable(verdict)) {
      return Promise.resolve(verdict).then(
        (value) => this.judge(value, origin.address),
        (error: unknown) => this.threw(error),
      );
    }
    return this.judge(verdict, origin.address);
  }

  private judge(verdict: unknown, address: string): HelloRefused | undefined {
    if (verdict === true) return undefined;
    this.counters.authRefused++;
    this.throttle.failed(address);
    const reason = typeof verdict === 'string' && verdict !== '' ? verdict.slice(0, MAX_REASON) : 'authentication failed';
    return refuse('HW_ERR_AUTH_REFUSED', reason);
  }

  /** authenticate threw: the client is refused, and the failure is the server's, so not counted against the address. */
  private threw(error: unknown): HelloRefused {
    this.counters.authRefused++;
    this.authenticateFailed(new HybridwireError('HW_ERR_HANDLER_FAILED', `authenticate failed: ${(error as Error)?.message ?? String(error)}`, { cause: error }));
    return refuse('HW_ERR_AUTH_REFUSED', 'authentication failed');
  }
}
