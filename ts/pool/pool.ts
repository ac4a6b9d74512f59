/**
 * A pool of client sessions to one server. Each send or request goes to the open connection with
 * the fewest requests awaiting their reply (ties in turn), so one slow reply does not hold up the
 * others. The pool keeps `size` connections: one that closes is replaced after a delay that
 * doubles with each failed attempt up to a bound; one that does not answer its health-check ping
 * in time is dropped and replaced; one idle for idleTimeoutMs or older than maxLifetimeMs is
 * rotated (a fresh one opened, the old one closed gracefully once its requests are answered), so
 * that state in NATs and load balancers stays fresh and a server behind a balancer is re-chosen.
 * close() stops taking work, waits for the requests in flight (up to drainTimeoutMs), then closes
 * every session gracefully.
 */
import { EventEmitter } from 'node:events';
import { connect, type Client, type ClientOptions } from '../api/client.js';
import type { RequestOptions } from '../api/session-handle.js';
import { HybridwireError, OptionError } from '../errors.js';
import type { Payload } from '../session/message.js';
import type { SendOptions } from '../session/send-options.js';
import { integerOption } from '../api/option-ranges.js';

export interface PoolOptions extends Omit<ClientOptions, 'reconnect'> {
  /** Connections kept open. Default 4. */
  size?: number;
  /** A connection that has sent nothing for this long is rotated; 0 never. Default 300000 ms. */
  idleTimeoutMs?: number;
  /** A connection this old is rotated; 0 never. Default 3600000 ms. */
  maxLifetimeMs?: number;
  /** Every connection is pinged this often; 0 turns health checks off. Default 10000 ms. */
  healthCheckIntervalMs?: number;
  /** A ping unanswered this long drops its connection (and replaces it). Default 5000 ms. */
  healthCheckTimeoutMs?: number;
  /** Delay before replacing a lost connection, doubling per failed attempt up to maxDelayMs. Defaults 100 and 10000 ms. */
  replaceBackoff?: { initialDelayMs?: number; maxDelayMs?: number };
  /** close() waits this long for the requests in flight before closing the sessions. Default 10000 ms. */
  drainTimeoutMs?: number;
}

export interface PoolStats {
  /** Connections the pool keeps. */
  size: number;
  /** Open connections taking work now. */
  open: number;
  /** Requests awaiting their reply, over all connections. */
  pending: number;
  sent: number;
  requests: number;
  /** Connections opened to replace one that closed or failed its health check. */
  replaced: number;
  /** Attempts to open a connection that failed. */
  connectFailures: number;
  healthCheckFailures: number;
  rotated: { idle: number; lifetime: number };
  /** Each open connection: its session, requests awaiting reply, age and idle time. */
  connections: Array<{ sessionId: string | undefined; pending: number; ageMs: number; idleMs: number }>;
}

interface PoolEvents {
  /** A connection was lost (closed, or failed its health check); a replacement follows. */
  connectionLost: [error: Error | undefined];
  /** A connection was opened in the place of a lost or rotated one. */
  connectionReplaced: [reason: 'lost' | 'idle' | 'lifetime'];
  close: [];
}

/** One connection of the pool. */
interface Member {
  client: Client;
  pending: number;
  createdAt: number;
  lastUsedAt: number;
  /** Rotated or lost: takes no more work. */
  retired: boolean;
}

/** The maintenance timer runs this often at most, and at least this rarely. */
const MIN_TICK_MS = 10;
const MAX_TICK_MS = 1000;

export class Pool extends EventEmitter<PoolEvents> {
  private readonly members: Member[] = [];
  private readonly clientOptions: ClientOptions;
  private readonly size: number;
  private readonly idleTimeoutMs: number;
  private readonly maxLifetimeMs: number;
  private readonly healthCheckIntervalMs: number;
  private readonly healthCheckTimeoutMs: number;
  private readonly initialDelayMs: number;
  private readonly maxDelayMs: number;
  private readonly drainTimeoutMs: number;
  /** Where the next pick starts among equals, so that sends spread in turn. */
  private turn = 0;
  private closed = false;
  private closing: Promise<void> | undefined;
  private tickTimer: NodeJS.Timeout | undefined;
  private healthTimer: NodeJS.Timeout | undefined;
  /** Replacements waiting for their delay, or connecting. */
  private readonly replacements = new Set<NodeJS.Timeout>();
  /** Connections being opened: close() waits for them (each bounded by connectTimeoutMs), then closes them. */
  private readonly opening = new Set<Promise<unknown>>();
  /** Called each time a connection's last pending request settles (see settled()). */
  private readonly drainWaiters = new Set<() => void>();
  private readonly counts = { sent: 0, requests: 0, replaced: 0, connectFailures: 0, healthCheckFailures: 0, rotatedIdle: 0, rotatedLifetime: 0 };

  constructor(options: PoolOptions) {
    super();
    if (typeof options !== 'object' || options === null) throw new OptionError('createPool() needs an options object with tcpPort or path');
    const { size, idleTimeoutMs, maxLifetimeMs, healthCheckIntervalMs, healthCheckTimeoutMs, replaceBackoff, drainTimeoutMs, ...client } = options;
    if ('reconnect' in client) throw new OptionError('option reconnect is not taken by createPool(): the pool replaces lost connections itself (replaceBackoff)', 'reconnect');
    this.size = integerOption('size', size);
    this.idleTimeoutMs = integerOption('idleTimeoutMs', idleTimeoutMs);
    this.maxLifetimeMs = integerOption('maxLifetimeMs', maxLifetimeMs);
    this.healthCheckIntervalMs = integerOption('healthCheckIntervalMs', healthCheckIntervalMs);
    this.healthCheckTimeoutMs = integerOption('healthCheckTimeoutMs', healthCheckTimeoutMs);
    if (replaceBackoff !== undefined && (typeof replaceBackoff !== 'object' || replaceBackoff === null)) {
      throw new OptionError('option replaceBackoff must be an object { initialDelayMs, maxDelayMs }', 'replaceBackoff');
    }
    this.initialDelayMs = integerOption('replaceBackoff.initialDelayMs', replaceBackoff?.initialDelayMs);
    this.maxDelayMs = integerOption('replaceBackoff.maxDelayMs', replaceBackoff?.maxDelayMs);
    this.drainTimeoutMs = integerOption('drainTimeoutMs', drainTimeoutMs);
    this.clientOptions = client;
  }

  /**
   * Sends a message on the least busy connection; see Client.send() (false: that connection's
   * queue is past its high-water mark). Throws HW_ERR_NOT_CONNECTED when no connection is open.
   */
  send(type: string, payload?: Payload, options?: SendOptions): boolean {
    const member = this.pick();
    member.lastUsedAt = Date.now();
    const accepted = member.client.send(type, payload, options);
    this.counts.sent++;
    return accepted;
  }

  /** Sends a request on the connection with the fewest requests awaiting reply; resolves with the reply. */
  async request(type: string, payload?: Payload, options?: RequestOptions): Promise<Payload> {
    const member = this.pick();
    member.lastUsedAt = Date.now();
    member.pending++;
    this.counts.requests++;
    try {
      return await member.client.request(type, payload, options);
    } finally {
      member.pending--;
      if (member.pending === 0 && this.drainWaiters.size > 0) for (const waiter of [...this.drainWaiters]) waiter();
    }
  }

  stats(): PoolStats {
    const now = Date.now();
    const open = this.members.filter((member) => !member.retired);
    return {
      size: this.size,
      open: open.length,
      pending: this.members.reduce((sum, member) => sum + member.pending, 0),
      sent: this.counts.sent,
      requests: this.counts.requests,
      replaced: this.counts.replaced,
      connectFailures: this.counts.connectFailures,
      healthCheckFailures: this.counts.healthCheckFailures,
      rotated: { idle: this.counts.rotatedIdle, lifetime: this.counts.rotatedLifetime },
      connections: open.map((member) => ({ sessionId: member.client.sessionId, pending: member.pending, ageMs: now - member.createdAt, idleMs: now - member.lastUsedAt })),
    };
  }

  /** Stops taking work, waits for requests in flight (up to drainTimeoutMs), closes every connection. */
  close(): Promise<void> {
    this.closing ??= this.shutdown();
    return this.closing;
  }

  /** @internal Opens the first `size` connections; if one fails, closes the others and rejects. */
  async start(): Promise<this> {
    const opened = await Promise.allSettled(Array.from({ length: this.size }, () => this.open()));
    const failure = opened.find((result): result is PromiseRejectedResult => result.status === 'rejected');
    if (failure !== undefined) {
      this.closed = true;
      await Promise.all(this.members.map((member) => member.client.close()));
      throw failure.reason;
    }
    const timers = [this.idleTimeoutMs, this.maxLifetimeMs].filter((ms) => ms > 0);
    if (timers.length > 0) {
      const tickMs = Math.min(MAX_TICK_MS, Math.max(MIN_TICK_MS, Math.floor(Math.min(...timers) / 4)));
      this.tickTimer = setInterval(() => this.rotateDue(), tickMs);
      this.tickTimer.unref();
    }
    if (this.healthCheckIntervalMs > 0) {
      this.healthTimer = setInterval(() => this.checkHealth(), this.healthCheckIntervalMs);
      this.healthTimer.unref();
    }
    return this;
  }

  /** The open connection with the fewest pending requests, the next in turn among equals. */
  private pick(): Member {
    if (this.closed) throw new HybridwireError('HW_ERR_NOT_CONNECTED', 'the pool is closed');
    const members = this.members;
    const count = members.length;
    let best: Member | undefined;
    for (let i = 0; i < count; i++) {
      const member = members[(this.turn + i) % count]!;
      if (member.retired || member.client.state !== 'connected') continue;
      if (best === undefined || member.pending < best.pending) best = member;
    }
    if (best === undefined) throw new HybridwireError('HW_ERR_NOT_CONNECTED', 'no connection of the pool is open (replacements are on their way)');
    this.turn = (this.turn + 1) % count;
    return best;
  }

  /** Opens one connection and adds it to the pool. */
  private open(): Promise<Member> {
    const opening = this.openOne();
    this.opening.add(opening);
    const forget = () => void this.opening.delete(opening);
    opening.then(forget, forget);
    return opening;
  }

  private async openOne(): Promise<Member> {
    let client: Client;
    try {
      client = await connect(this.clientOptions);
    } catch (error) {
      this.counts.connectFailures++;
      throw error;
    }
    const now = Date.now();
    const member: Member = { client, pending: 0, createdAt: now, lastUsedAt: now, retired: false };
    if (this.closed) {
      await client.close();
      return member;
    }
    this.members.push(member);
    // Errors also end in 'close', which is what the pool acts on.
    client.on('error', () => {});
    client.once('disconnect', (error) => this.lost(member, error));
    client.once('close', () => this.remove(member));
    return member;
  }

  /** A connection closed without the pool asking: it is replaced. */
  private lost(member: Member, error: Error | undefined): void {
    if (member.retired || this.closed) return;
    member.retired = true;
    this.emit('connectionLost', error);
    this.replace(1, 'lost');
  }

  private remove(member: Member): void {
    const index = this.members.indexOf(member);
    if (index >= 0) this.members.splice(index, 1);
  }

  /** Opens a replacement after the attempt's delay; a failed attempt tries again, later. */
  private replace(attempt: number, reason: 'lost' | 'idle' | 'lifetime'): void {
    if (this.closed) return;
    const delayMs = reason === 'lost' ? Math.min(this.maxDelayMs, this.initialDelayMs * 2 ** Math.min(attempt - 1, 30)) : 0;
    const timer = setTimeout(() => {
      this.replacements.delete(timer);
      if (this.closed) return;
      this.open().then(
        () => {
          this.counts.replaced++;
          this.emit('connectionReplaced', reason);
        },
        () => this.replace(attempt + 1, 'lost'),
      );
    }, delayMs);
    this.replacements.add(timer);
  }

  /** Rotates connections past their idle time or lifetime: a fresh one first, then the old one closes. */
  private rotateDue(): void {
    const now = Date.now();
    for (const member of this.members) {
      if (member.retired || member.client.state !== 'connected') continue;
      const old = this.maxLifetimeMs > 0 && now - member.createdAt >= this.maxLifetimeMs;
      const idle = !old && this.idleTimeoutMs > 0 && member.pending === 0 && now - member.lastUsedAt >= this.idleTimeoutMs;
      if (!old && !idle) continue;
      member.retired = true;
      if (old) this.counts.rotatedLifetime++;
      else this.counts.rotatedIdle++;
      this.replace(1, old ? 'lifetime' : 'idle');
      void this.retire(member);
    }
  }

  /** Closes a retired connection once its requests are answered (Client.close() waits for them, bounded). */
  private async retire(member: Member): Promise<void> {
    await this.settled([member], this.drainTimeoutMs);
    await member.client.close();
  }

  /** Pings every open connection; one that does not answer in time is dropped and replaced. */
  private checkHealth(): void {
    for (const member of this.members) {
      if (member.retired || member.client.state !== 'connected') continue;
      member.client.ping({ timeoutMs: this.healthCheckTimeoutMs }).catch((error: Error) => {
        if (member.retired || this.closed) return;
        this.counts.healthCheckFailures++;
        // Lost at once: 'disconnect' follows the destroyed socket, and with it the replacement.
        member.client.connection?.destroy(new HybridwireError('HW_ERR_HEARTBEAT_TIMEOUT', `health-check ping unanswered: ${error.message}`));
      });
    }
  }

  /** Resolves once none of `members` has a pending request, or after `timeoutMs`. */
  private settled(members: Member[], timeoutMs: number): Promise<void> {
    const busy = () => members.some((member) => member.pending > 0);
    if (!busy()) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.drainWaiters.delete(check);
        resolve();
      };
      const check = () => {
        if (!busy()) done();
      };
      const timer = setTimeout(done, timeoutMs);
      this.drainWaiters.add(check);
    });
  }

  private async shutdown(): Promise<void> {
    this.closed = true;
    clearInterval(this.tickTimer);
    clearInterval(this.healthTimer);
    for (const timer of this.replacements) clearTimeout(timer);
    this.replacements.clear();
    // A connection still opening closes as soon as it is open (openOne sees the pool closed).
    await Promise.allSettled([...this.opening]);
    const members = [...this.members];
    await this.settled(members, this.drainTimeoutMs);
    await Promise.all(members.map((member) => member.client.close()));
    this.emit('close');
  }
}

/** Opens a pool of `size` connections to one server; resolves once all are open. */
export async function createPool(options: PoolOptions): Promise<Pool> {
  return new Pool(options).start();
}
