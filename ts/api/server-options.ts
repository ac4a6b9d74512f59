/** The options a server is made with, and the events it emits. */
import type { LimitOptions } from './limits.js';
import type { AdmissionOptions } from './admission.js';
import type { StreamOptions } from '../streams/stream-options.js';
import type { PubsubServerOptions } from '../pubsub/server-pubsub.js';
import type { ServerQosOptions } from '../qos/qos-settings.js';
import type { ClusterOptions } from '../cluster/cluster-options.js';
import type { ServerTlsOptions } from '../transport/tls.js';
import type { BuiltinsOption } from './builtins.js';
import type { Logger } from '../features/logging/logger.js';
import type { MetricsOptions } from '../features/metrics/server-metrics.js';
import type { ListenResult } from './server-stats.js';
import type { Peer } from './peer.js';
import type { Payload } from '../session/message.js';
import type { MessageInfo } from '../session/connection.js';
import type { HybridwireStream } from '../streams/duplex-stream.js';
import type { SubscriptionOptions } from '../pubsub/stores.js';

export interface ServerOptions extends LimitOptions, AdmissionOptions, StreamOptions, PubsubServerOptions, ServerQosOptions {
  /**
   * TLS on the TCP side (docs/PROTOCOL.md 3.5): node:tls secure-context options, `key` and `cert`
   * at least; `ca` and `requestCert: true` require clients to prove a certificate (mutual TLS).
   * TLS 1.3 only unless `minVersion: 'TLSv1.2'`. Plaintext clients are then refused (see
   * requireEncryption). Default: none.
   */
  tls?: ServerTlsOptions;
  /** Interface to listen on (both transports). Default: all interfaces. */
  host?: string;
  /** TCP port; 0 picks a free one. Default 0. */
  tcpPort?: number;
  /** UDP port; 0 picks a free one; false disables UDP. Default 0. */
  udpPort?: number | false;
  /**
   * Listen on a local socket instead of TCP: a Unix domain socket path, or on Windows a named pipe
   * `\\.\pipe\NAME` (README, "Local sockets"). Such a server has no UDP; host, tcpPort and
   * udpPort (but false) are refused beside it, as is tls. Default: none (TCP).
   */
  path?: string;
  /** Permission bits of the socket file (a path server on Unix). Default 0o600: the server's user only. */
  pathMode?: number;
  /**
   * Sessions at once, each counted from the moment its HELLO is accepted; more are refused in
   * HELLO_ACK with HW_ERR_SERVER_FULL. Default 10000.
   */
  maxConnections?: number;
  /**
   * TCP connections accepted but not past the handshake (HELLO_DONE); more are closed at once,
   * without a frame, and counted in stats().refusedConnections. Default 256.
   */
  maxPendingHandshakes?: number;
  /**
   * A connection that has not completed the handshake in this time is closed. With TLS, the TLS
   * handshake (from the first byte) has this long too, before it. Default 5000 ms.
   */
  handshakeTimeoutMs?: number;
  /**
   * Which built-in types the server answers (docs/PROTOCOL.md, section 9): true for all of ping,
   * echo, stats and broadcast, false for none, or a list of their names. Default ['ping', 'echo']:
   * stats tells any client about the server and broadcast makes it send to every peer.
   */
  builtins?: BuiltinsOption;
  /** Reassembly memory of all UDP sessions together. Default 64 MiB. */
  udpReassemblyTotalBytes?: number;
  /** A pino-compatible logger (info, warn, error, debug, child) for the server's events. Default: silent. */
  logger?: Logger;
  /**
   * Metrics (see metrics()): true, or `{ registry }` to register them in a prom-client Registry
   * the application has. Default off; the first call of metrics(), summary() or metricsCsv() turns
   * them on with a registry of the server's own.
   */
  metrics?: boolean | MetricsOptions;
  /**
   * Lets peers from other addresses than loopback make the admin request (`hybridwire top`) by
   * presenting it; from loopback it needs none. 8 to 1024 characters. Default: loopback only.
   */
  adminToken?: string;
  /** Joins a cluster of servers over NATS (ts/cluster, README "Running a cluster"). Default: none. */
  cluster?: ClusterOptions;
}

export interface ServerEvents {
  listening: [result: ListenResult];
  connection: [peer: Peer];
  disconnect: [peer: Peer, error: Error | undefined];
  /** A peer broke the protocol; it was sent an ERROR frame and disconnected. */
  peerError: [peer: Peer | undefined, error: Error];
  /** A message arrived whose type has no handler. */
  message: [type: string, payload: Payload, peer: Peer, info: MessageInfo];
  /** A peer opened a stream (peer.openStream's counterpart is client.openStream()). */
  stream: [stream: HybridwireStream, peer: Peer];
  /** A peer subscribed (or changed a subscription's options). */
  subscribe: [peer: Peer, filter: string, options: SubscriptionOptions];
  unsubscribe: [peer: Peer, filter: string];
  error: [error: Error];
  close: [];
}
