import { EventEmitter, once } from 'node:events';
import net from 'node:net';
import { randomBytes } from 'node:crypto';
import { Connection, type Handler, type MessageInfo, type SendOptions } from '../session/connection.js';
import type { HelloAccepted } from '../session/handshake.js';
import { DatagramDecoder } from '../codec/datagram-decoder.js';
import { HybridwireError, OptionError } from '../errors.js';
import { checkPort } from '../validate.js';
import { integerOption } from './option-ranges.js';
import { TOKEN_SIZE, type UdpSession } from '../transport/udp-session.js';
import type { UdpSocket, UdpSocketStats } from '../transport/udp-socket.js';
import { ReassemblyBudget } from '../reliable/reliable-endpoint.js';
import { bodyOf, checkTypeName, encodingOf, type Payload } from '../session/message.js';
import { resolveLimits, udpOffer, type LimitOptions, type ResolvedLimits } from './limits.js';
import type { Peer, Address } from './peer.js';
import { builtinHandlers } from './builtins.js';
import { HandlerTable } from './handler-table.js';
import { ServerHandshake, type HandshakeHost } from './server-handshake.js';
import { attachUdpSession, createUdpSocket, type DatagramRouter } from './udp-setup.js';
import { checkLogger, type Logger } from '../features/logging/logger.js';
import { ServerLog } from '../features/logging/server-log.js';
import { ServerMetrics, type MetricsOptions } from '../features/metrics/server-metrics.js';
import type { MetricsSnapshot } from '../features/metrics/snapshot.js';
import { MetricsCsv, type MetricsCsvOptions } from '../features/metrics/csv-export.js';
import { formatSummary } from '../features/metrics/summary.js';
import { ADMIN_TYPE, adminHandler, checkAdminToken } from '../features/admin/admin.js';
export interface ServerOptions extends LimitOptions {
  /** Interface to listen on (both transports). Default: all interfaces. */
  host?: string;
  /** TCP port; 0 picks a free one. Default 0. */
  tcpPort?: number;
  /** UDP port; 0 picks a free one; false disables UDP. Default 0. */
  udpPort?: number | false;
  /** Sessions at once; more are refused in HELLO_ACK with HW_ERR_SERVER_FULL. Default 10000. */
  maxConnections?: number;
  /** A connection that has not completed the handshake in this time is closed. Default 5000 ms. */
  handshakeTimeoutMs?: number;
  /** Answer the built-in types ping, echo, broadcast and stats. Default true. */
  builtins?: boolean;
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
}

export interface ListenResult {
  host: string;
  tcpPort: number;
  udpPort: number | undefined;
}

export interface TransportTotals {
  messagesIn: number;
  messagesOut: number;
  bytesIn: number;
  bytesOut: number;
}

export interface ServerStats {
  connectedClients: number;
  uptimeMs: number;
  tcp: TransportTotals;
  /**
   * droppedMalformed: datagrams with a valid token but a bad frame from an address the session
   * did not have (they may not move it); from its own address they reach the session, whose
   * udpStats() counts them in drops.
   */
  udp: TransportTotals & { datagramsIn: number; droppedUnauthenticated: number; droppedMalformed: number };
  /** The server's UDP socket: datagrams through it, and those the kernel could not take at once. */
  udpSocket: UdpSocketStats | undefined;
  refusedConnections: number;
  protocolErrors: number;
  /** Messages of broadcast() that a peer missed: its send queue was full, or it had no UDP path. */
  broadcastDrops: number;
}

interface ServerEvents {
  listening: [result: ListenResult];
  connection: [peer: Peer];
  disconnect: [peer: Peer, error: Error | undefined];
  /** A peer broke the protocol; it was sent an ERROR frame and disconnected. */
  peerError: [peer: Peer | undefined, error: Error];
  /** A message arrived whose type has no handler. */
  message: [type: string, payload: Payload, peer: Peer, info: MessageInfo];
  error: [error: Error];
  close: [];
}

interface UdpBinding {
  peer: Peer;
  tokenHigh: number;
  path: UdpSession;
}

/**
 * A hybridwire server: one TCP listener and one UDP socket behind one set of handlers.
 *
 * ```ts
 * const server = createServer({ tcpPort: 5000, udpPort: 5001 });
 * server.handle('chat', (msg, peer) => peer.send('chat_response', { text: `echo: ${msg.text}` }));
 * await server.listen();
 * ```
 */
export class Server extends EventEmitter<ServerEvents> {
  readonly options: Readonly<Required<Pick<ServerOptions, 'tcpPort' | 'maxConnections' | 'handshakeTimeoutMs' | 'builtins'>>> & { host: string | undefined; udpPort: number | false };
  private readonly limits: ResolvedLimits;
  private readonly handlers: HandlerTable<Peer>;
  private readonly sessions = new Map<string, Peer>();
  private readonly connections = new Set<Connection>();
  private readonly udpBindings = new Map<number, UdpBinding>();
  private tcp: net.Server | undefined;
  private udpSocket: UdpSocket | undefined;
  private readonly datagrams = new DatagramDecoder();
  /** Bounds the reassembly memory of all sessions together. */
  private readonly udpBudget: ReassemblyBudget;
  private startedAt = 0;
  private closing: Promise<void> | undefined;
  private readonly totals = {
    tcp: { messagesIn: 0, messagesOut: 0, bytesIn: 0, bytesOut: 0 },
    udp: { messagesIn: 0, messagesOut: 0, bytesIn: 0, bytesOut: 0, datagramsIn: 0, droppedUnauthenticated: 0, droppedMalformed: 0 },
    refusedConnections: 0,
    protocolErrors: 0,
    broadcastDrops: 0,
  };
  private readonly handshakeHost: HandshakeHost;
  private readonly log: ServerLog | undefined;
  private metricsState: ServerMetrics | undefined;
  private readonly datagramRouter: DatagramRouter = {
    knownSession: (bytes, start, end, address, port) => this.knownSession(bytes, start, end, address, port),
    otherDatagram: (bytes, start, end, address, port) => this.otherDatagram(bytes, start, end, address, port),
  };

  constructor(options: ServerOptions = {}) {
    super();
    this.limits = resolveLimits(options);
    const udpPort = options.udpPort ?? 0;
    this.options = {
      host: options.host,
      tcpPort: checkPort('tcpPort', options.tcpPort ?? 0),
      udpPort: udpPort === false ? false : checkPort('udpPort', udpPort),
      maxConnections: integerOption('maxConnections', options.maxConnections),
      handshakeTimeoutMs: integerOption('handshakeTimeoutMs', options.handshakeTimeoutMs),
      builtins: options.builtins ?? true,
    };
    if (typeof this.options.builtins !== 'boolean') throw new OptionError('option builtins must be a boolean', 'builtins');
    // The admin request is answered with or without the built-ins (only to whom it allows).
    const fallback = this.options.builtins ? builtinHandlers(this) : new Map<string, Handler<Peer>>();
    fallback.set(ADMIN_TYPE, adminHandler(this, checkAdminToken(options.adminToken)));
    this.handlers = new HandlerTable<Peer>(fallback);
    this.udpBudget = new ReassemblyBudget(integerOption('udpReassemblyTotalBytes', options.udpReassemblyTotalBytes));
    this.handshakeHost = this.newHandshakeHost();
    const logger = checkLogger(options.logger);
    this.log = logger && new ServerLog(this, logger);
    const metrics = options.metrics ?? false;
    if (typeof metrics !== 'boolean' && (typeof metrics !== 'object' || metrics === null)) throw new OptionError('option metrics must be a boolean or { registry }', 'metrics');
    if (metrics !== false) this.metricsState = new ServerMetrics(this, this.handlers, metrics === true ? {} : metrics);
  }

  /** Routes messages of `type` to `handler(payload, peer, info)`; its return value answers requests. */
  handle<T = Payload>(type: string, handler: (payload: T, peer: Peer, info: MessageInfo) => unknown): this {
    this.handlers.set(type, handler);
    return this;
  }

  /** Connected peers by session id. */
  get peers(): ReadonlyMap<string, Peer> {
    return this.sessions;
  }

  /** Starts listening; resolves with the bound ports (useful with port 0). */
  async listen(): Promise<ListenResult> {
    if (this.tcp) throw new HybridwireError('HW_ERR_INVALID_ARGUMENT', 'server is already listening');
    const tcp = net.createServer({ noDelay: true, allowHalfOpen: true }, (socket) => this.accept(socket));
    this.tcp = tcp;
    tcp.listen(this.options.tcpPort, this.options.host);
    try {
      await once(tcp, 'listening');
    } catch (error) {
      // The port is taken (EADDRINUSE) or refused: nothing is listening, and listen() may be retried.
      this.tcp = undefined;
      throw error;
    }
    tcp.on('error', (error) => this.emitError(error));
    const tcpAddress = tcp.address() as net.AddressInfo;
    let udpPort: number | undefined;
    if (this.options.udpPort !== false) {
      const family = net.isIPv6(this.options.host ?? '') || (this.options.host === undefined && tcpAddress.family === 'IPv6') ? 'udp6' : 'udp4';
      const socket = createUdpSocket(family, this.limits, this.datagramRouter, (count) => {
        this.totals.udp.datagramsIn += count;
      });
      this.udpSocket = socket;
      try {
        udpPort = await socket.bind(this.options.udpPort, this.options.host);
      } catch (error) {
        // Leave nothing half-open: the TCP listener goes too, and listen() can be retried.
        this.udpSocket = undefined;
        this.tcp = undefined;
        socket.close();
        await new Promise<void>((resolve) => tcp.close(() => resolve()));
        throw error;
      }
    }
    this.startedAt = Date.now();
    const result = { host: tcpAddress.address, tcpPort: tcpAddress.port, udpPort };
    this.emit('listening', result);
    return result;
  }

  /**
   * Sends to every connected peer (optionally but one); returns how many it was sent to. A type
   * name or payload that cannot be sent throws, as send() does. A peer whose queue is full (or
   * that has no UDP path, for a UDP broadcast) misses it, counted in stats().broadcastDrops; any
   * other failure for one peer is emitted as 'peerError'. The others get it either way.
   */
  broadcast(type: string, payload?: Payload, options: SendOptions & { except?: Peer } = {}): number {
    checkTypeName(type);
    // Encoded once for all peers.
    const encoding = encodingOf(payload);
    const body = bodyOf(payload, encoding);
    let count = 0;
    for (const peer of this.sessions.values()) {
      const connection = peer.connection;
      if (peer === options.except || connection.state !== 'open') continue;
      try {
        connection.sendEncoded(type, encoding, body, options);
        count++;
      } catch (error) {
        if (error instanceof HybridwireError) this.totals.broadcastDrops++;
        else this.emit('peerError', peer, error as Error);
      }
    }
    return count;
  }

  stats(): ServerStats {
    const tcp = { ...this.totals.tcp };
    const udp = { ...this.totals.udp };
    for (const peer of this.sessions.values()) addTransportStats(tcp, udp, peer);
    return {
      connectedClients: this.sessions.size,
      uptimeMs: this.startedAt === 0 ? 0 : Date.now() - this.startedAt,
      tcp,
      udp,
      udpSocket: this.udpSocket?.stats(),
      refusedConnections: this.totals.refusedConnections,
      protocolErrors: this.totals.protocolErrors,
      broadcastDrops: this.totals.broadcastDrops,
    };
  }

  /** The server's metrics in the Prometheus text exposition format (turns metrics on). */
  metrics(): Promise<string> {
    return this.metricsFeature().text();
  }

  /** The figures behind metrics(), summary() and `hybridwire top` at this moment (turns metrics on). */
  metricsSnapshot(): MetricsSnapshot {
    return this.metricsFeature().snapshot();
  }

  /**
   * Appends a row of the server's figures to a CSV file every `intervalMs` (default 1000), after a
   * header line when the file is new. Returns the export: `stop()` ends it. It ends with close() too.
   */
  metricsCsv(options: MetricsCsvOptions): MetricsCsv {
    const metrics = this.metricsFeature();
    const csv = new MetricsCsv(options, () => metrics.snapshot());
    const end = () => void csv.stop().catch(() => {});
    this.once('close', end);
    csv.once('stop', () => this.off('close', end));
    return csv;
  }

  /** A few lines for people: uptime, sessions, handshakes, traffic per transport, RTT, drops, busiest types. */
  summary(): string {
    return formatSummary(this.metricsFeature().snapshot());
  }

  private metricsFeature(): ServerMetrics {
    this.metricsState ??= new ServerMetrics(this, this.handlers);
    return this.metricsState;
  }

  /**
   * Graceful shutdown: stop accepting, send CLOSE to every peer, wait for in-flight work (up to
   * closeTimeoutMs per peer), then close the sockets.
   */
  close(): Promise<void> {
    this.closing ??= this.shutdown();
    return this.closing;
  }

  private async shutdown(): Promise<void> {
    const tcp = this.tcp;
    const closed = tcp ? new Promise<void>((resolve) => tcp.close(() => resolve())) : Promise.resolve();
    await Promise.all([...this.connections].map((connection) => connection.close('server shutting down')));
    await closed;
    this.udpSocket?.close();
    this.emit('close');
  }

  private accept(socket: net.Socket): void {
    if (this.closing) {
      socket.destroy();
      return;
    }
    const tcpAddress: Address = { address: socket.remoteAddress ?? '', port: socket.remotePort ?? 0, family: socket.remoteFamily ?? '' };
    const connection = new Connection(socket, this.handlers, undefined, this.limits);
    this.connections.add(connection);
    const handshake = new ServerHandshake(connection, this.handshakeHost, tcpAddress);
    connection.on('message', (type, payload, info) => {
      if (handshake.peer) this.emit('message', type, payload, handshake.peer, info);
    });
    connection.on('drain', () => handshake.peer?.emit('drain'));
    connection.on('error', (error) => this.emit('peerError', handshake.peer, error));
    connection.on('close', (error) => {
      handshake.end();
      this.connections.delete(connection);
      const peer = handshake.peer;
      if (peer !== undefined) this.unbindUdp(peer);
      if (error instanceof HybridwireError && error.name !== 'RemoteError') {
        this.totals.protocolErrors++;
        this.emit('peerError', peer, error);
      }
      if (peer && this.sessions.get(peer.id) === peer) {
        this.sessions.delete(peer.id);
        addTransportStats(this.totals.tcp, this.totals.udp, peer);
        peer.emit('close', error);
        this.emit('disconnect', peer, error);
      }
    });
  }

  private newHandshakeHost(): HandshakeHost {
    const server = this;
    const limits = this.limits;
    return {
      maxConnections: this.options.maxConnections,
      handshakeTimeoutMs: this.options.handshakeTimeoutMs,
      heartbeatIntervalMs: limits.heartbeatIntervalMs,
      heartbeatTimeoutMs: limits.heartbeatTimeoutMs,
      get sessionCount() {
        return server.sessions.size;
      },
      handshakeLimits: () => ({
        maxPacketSize: limits.maxFrameSize,
        windowSize: limits.windowSize,
        heartbeatIntervalMs: limits.heartbeatIntervalMs,
        heartbeatTimeoutMs: limits.heartbeatTimeoutMs,
        udpPort: this.udpSocket ? this.udpSocket.port : 0,
        udp: udpOffer(limits),
      }),
      newToken: () => this.newToken(),
      refused: (address, code, reason) => {
        this.totals.refusedConnections++;
        this.log?.refused(address, code, reason);
      },
      accepted: (peer, answer, token) => this.bindUdp(peer, answer, token),
      opened: (peer) => {
        this.sessions.set(peer.id, peer);
        this.emit('connection', peer);
      },
    };
  }

  /** The UDP side of an accepted session, keyed by the low half of its token. */
  private bindUdp(peer: Peer, answer: HelloAccepted, token: Buffer): void {
    if (!this.udpSocket) return;
    const agreement = { token, step: answer.mode === 'step', negotiated: answer.udp };
    const path = attachUdpSession(peer.connection, this.udpSocket, () => peer.udpAddress, this.limits, agreement, this.udpBudget, () => {});
    this.udpBindings.set(token.readUInt32LE(0), { peer, tokenHigh: token.readUInt32LE(4), path });
  }

  private unbindUdp(peer: Peer): void {
    const token = peer.connection.udpPath?.token;
    if (token === undefined) return;
    const low = token.readUInt32LE(0);
    if (this.udpBindings.get(low)?.peer === peer) this.udpBindings.delete(low);
  }

  /** 8 random bytes whose low 32 bits are unique among live sessions (they key the lookup). */
  private newToken(): Buffer {
    for (;;) {
      const token = randomBytes(TOKEN_SIZE);
      const low = token.readUInt32LE(0);
      if (low !== 0 && !this.udpBindings.has(low)) return token;
    }
  }

  /** The open session whose token bytes[start, end) carries, if it comes from that session's address. */
  private knownSession(bytes: Buffer, start: number, end: number, address: string, port: number): UdpSession | undefined {
    if (end - start < TOKEN_SIZE) return undefined;
    const binding = this.udpBindings.get(bytes.readUInt32LE(start));
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

  /** A datagram no known session took: `bytes[start, end)`, which it may keep. */
  private otherDatagram(bytes: Buffer, start: number, end: number, address: string, port: number): void {
    const counts = this.totals.udp;
    counts.datagramsIn++;
    if (end - start < TOKEN_SIZE) {
      counts.droppedUnauthenticated++;
      return;
    }
    const binding = this.udpBindings.get(bytes.readUInt32LE(start));
    if (binding === undefined || binding.tokenHigh !== bytes.readUInt32LE(start + 4) || binding.peer.connection.state !== 'open') {
      counts.droppedUnauthenticated++;
      return;
    }
    const frames = bytes.subarray(start + TOKEN_SIZE, end);
    const peer = binding.peer;
    const known = peer.udpAddress;
    if (known === undefined || known.port !== port || known.address !== address) {
      // Checksums are verified before the datagram may move the peer's UDP address. From the
      // address already known the session's endpoint verifies them itself (and counts what fails
      // in the peer's udpStats()), so the common case decodes each datagram once.
      if (this.datagrams.decode(frames) < 0) {
        counts.droppedMalformed++;
        return;
      }
      peer.udpAddress = { address, port, family: address.includes(':') ? 'IPv6' : 'IPv4' };
    }
    binding.path.receive(frames);
  }

  private emitError(error: Error): void {
    if (this.listenerCount('error') > 0) this.emit('error', error);
  }
}

/** Adds a session's per-transport counters to running totals. */
function addTransportStats(tcp: TransportTotals, udp: TransportTotals, peer: Peer): void {
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

export function createServer(options?: ServerOptions): Server {
  return new Server(options);
}
