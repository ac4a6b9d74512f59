/**
 * What a Peer (the server's view of a client) and a Client (the client's own) share: sending,
 * requests, statistics. Both stand for one session; a Client's may be absent while it reconnects.
 */
import { EventEmitter } from 'node:events';
import { HybridwireError } from '../errors.js';
import type { Connection, ConnectionStats, SendOptions } from '../session/connection.js';
import type { Payload } from '../session/message.js';
import { isEncrypted } from '../transport/tls.js';
import type { UdpStats } from '../transport/udp-session.js';
import { deferListenerTable } from '../session/session-events.js';
import { openStream, streamStatsOf, type OpenStreamOptions } from '../streams/stream-feature.js';
import type { HybridwireStream } from '../streams/duplex-stream.js';
import type { StreamSessionStats } from '../streams/stream-stats.js';
import { requestAuto, selectionStatsOf, sendAuto } from '../selection/auto-send.js';
import type { SelectionStats } from '../selection/transport-selector.js';
import { isReservedType, protocolTypeError } from './reserved-types.js';

export interface RequestOptions extends SendOptions {
  /** Rejects with HW_ERR_REQUEST_TIMEOUT past this; 0 waits for ever. Default: the requestTimeoutMs option. */
  timeoutMs?: number;
  /** Aborting it rejects the request with an AbortError. */
  signal?: AbortSignal;
}

/** A session's statistics: its counters and queues, its streams' (undefined when it did not negotiate streams), and what `transport: 'auto'` chose. */
export interface SessionStats extends ConnectionStats {
  streams: StreamSessionStats | undefined;
  selection: SelectionStats;
}

/** `T`, or `T | undefined` where the session may be absent. */
type WhileConnected<C, T> = undefined extends C ? T | undefined : T;

export class SessionHandle<Events extends Record<keyof Events, unknown[]>, C extends Connection | undefined = Connection | undefined> extends EventEmitter<Events> {
  /** @internal The session's connection (a Client has none between sessions). */
  connection: C;

  constructor(connection: C) {
    super();
    deferListenerTable(this);
    this.connection = connection;
  }

  /**
   * Sends a message: over TCP (reliable, ordered) by default; `{ transport: 'udp' }` for a datagram,
   * with `reliable: true` for a reliable one; `{ transport: 'auto' }` to let the session choose
   * (../selection/transport-selector.ts). Returns false once the send queue passes its
   * high-water mark; 'drain' follows when it empties. `{ priority: 'high' | 'normal' | 'low' }`
   * orders a TCP message among those waiting (README, "Priorities and rate limits").
   */
  send(type: string, payload?: Payload, options?: SendOptions): boolean {
    if (isReservedType(type)) throw protocolTypeError(type);
    const connection = this.session();
    if (options?.transport === 'auto') return sendAuto(connection, type, payload, options);
    return connection.send(type, payload, options);
  }

  /**
   * Like send(), but waits while the send queue is past its high-water mark: the way to send a
   * stream of messages without ever hitting maxQueueBytes.
   */
  async sendWhenReady(type: string, payload?: Payload, options?: SendOptions): Promise<void> {
    if (isReservedType(type)) throw protocolTypeError(type);
    await this.session().waitForRoom();
    this.send(type, payload, options);
  }

  /** Sends a request and resolves with the other side's reply (its handler's return value). */
  request(type: string, payload?: Payload, options: RequestOptions = {}): Promise<Payload> {
    try {
      if (isReservedType(type)) throw protocolTypeError(type);
      const connection = this.session();
      if (options.transport === 'auto') return requestAuto(connection, type, payload, options, (resolved, sent) => connection.request(type, payload, options.timeoutMs, options.signal, resolved, sent));
      return connection.request(type, payload, options.timeoutMs, options.signal, options);
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /** @internal A request of one of the protocol's reserved types (the admin request, pub/sub's). */
  protocolRequest(type: string, payload: Payload, options: RequestOptions = {}): Promise<Payload> {
    try {
      return this.session().request(type, payload, options.timeoutMs, options.signal, options);
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /**
   * Opens a stream to the other side, a node:stream Duplex returned at once (its writes wait for
   * the other side's accept); the other side gets it in a 'stream' event. `transport: 'udp'`
   * carries it on the session's reliable, ordered UDP channel.
   */
  openStream(name?: string | OpenStreamOptions, options?: OpenStreamOptions): HybridwireStream {
    return openStream(this.session(), name, options);
  }

  /** The session runs over TLS (false between a client's sessions). */
  get encrypted(): boolean {
    const connection = this.connection;
    return connection !== undefined && isEncrypted(connection.socket);
  }

  supportsFeature(name: string): boolean {
    return this.connection?.features.has(name) ?? false;
  }

  /**
   * Reliable-UDP statistics of this session (RTT, window, retransmissions, drops...), once UDP was
   * used; with `sealing` (what was sealed, opened, and dropped as unopened or replayed) when the
   * session is TLS and so its datagrams are sealed.
   */
  udpStats(): UdpStats | undefined {
    return this.connection?.udpPath?.stats();
  }

  /** Heartbeat round-trip time in milliseconds (smoothed), once measured. */
  get rttMs(): number | undefined {
    return this.connection?.counters.rttMs;
  }

  /** A snapshot of the session's counters and queues (a new object on each read). */
  get stats(): WhileConnected<C, SessionStats> {
    const connection = this.connection;
    if (connection === undefined) return undefined as WhileConnected<C, SessionStats>;
    return { ...connection.stats(), streams: streamStatsOf(connection), selection: selectionStatsOf(connection) };
  }

  /** Bytes waiting to be written (send queue, unacknowledged backlog and socket buffer). */
  get queuedBytes(): number {
    return this.connection?.queuedBytes ?? 0;
  }

  /** What a send on this object is refused with while there is no session. */
  protected notConnected(): string {
    return 'no session';
  }

  private session(): Connection {
    const connection = this.connection;
    if (connection === undefined) throw new HybridwireError('HW_ERR_NOT_CONNECTED', this.notConnected());
    return connection;
  }
}
