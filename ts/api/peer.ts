import { EventEmitter } from 'node:events';
import type { Connection, ConnectionStats, SendOptions } from '../session/connection.js';
import type { Payload } from '../session/message.js';
import type { ReliableStats } from '../reliable/reliable-endpoint.js';

export interface Address {
  address: string;
  port: number;
  family: string;
}

interface PeerEvents {
  drain: [];
  close: [error: Error | undefined];
}

/** A connected client, as the server sees it. Handlers receive it as their second argument. */
export class Peer extends EventEmitter<PeerEvents> {
  /** The session id the server assigned in HELLO_ACK. */
  readonly id: string;
  /** The id the client offered in HELLO, if any. */
  readonly clientId: string | undefined;
  readonly tcpAddress: Address;
  /** Where this peer's UDP datagrams come from; undefined until the first authenticated datagram. */
  udpAddress: Address | undefined;
  /** @internal */
  connection!: Connection;

  constructor(id: string, clientId: string | undefined, tcpAddress: Address) {
    super();
    this.id = id;
    this.clientId = clientId;
    this.tcpAddress = tcpAddress;
  }

  /** Sends a message; returns false once the queue passes its high-water mark ('drain' follows). */
  send(type: string, payload?: Payload, options?: SendOptions): boolean {
    return this.connection.send(type, payload, options);
  }

  /** Like send(), but waits while the send queue is past its high-water mark. */
  async sendWhenReady(type: string, payload?: Payload, options?: SendOptions): Promise<void> {
    await this.connection.waitForRoom();
    this.connection.send(type, payload, options);
  }

  /** Sends a request and resolves with the client's reply. */
  request(type: string, payload?: Payload, options: { timeoutMs?: number; signal?: AbortSignal } & SendOptions = {}): Promise<Payload> {
    return this.connection.request(type, payload, options.timeoutMs, options.signal, options);
  }

  supportsFeature(name: string): boolean {
    return this.connection.supportsFeature(name);
  }

  /** Reliable-UDP statistics of this session (RTT, window, retransmissions, drops...), once UDP was used. */
  udpStats(): ReliableStats | undefined {
    return this.connection.udp?.stats();
  }

  /** Heartbeat round-trip time in milliseconds (smoothed), once measured. */
  get rttMs(): number | undefined {
    return this.connection.counters.rttMs;
  }

  get stats(): ConnectionStats {
    return this.connection.stats();
  }

  /** Closes this peer's session gracefully. */
  close(reason?: string): Promise<void> {
    return this.connection.close(reason);
  }
}
