import { EventEmitter, once } from 'node:events';
import net from 'node:net';
import { Connection, type MessageInfo, type SendOptions, type SessionOwner } from '../session/connection.js';
import { HeartbeatWheel } from '../session/heartbeat.js';
import { HybridwireError, OptionError } from '../errors.js';
import { checkPort } from '../validate.js';
import { integerOption } from './option-ranges.js';
import { ReassemblyBudget } from '../reliable/reliable-endpoint.js';
import { checkTypeName, type Payload } from '../session/message.js';
import { resolveLimits, udpOffer, type ResolvedLimits } from './limits.js';
import type { Peer, Address } from './peer.js';
import { DEFAULT_BUILTINS, builtinHandlers, resolveBuiltins } from './builtins.js';
import { HandlerTable } from './handler-table.js';
import { ServerHandshake, type HandshakeHost } from './server-handshake.js';
import { ServerUdp } from './server-udp.js';
import { addTransportStats, type ListenResult, type ServerStats } from './server-stats.js';
import { ClientIdRegistry, takenOver } from './identity.js';
import { isReservedType, protocolTypeError } from './reserved-types.js';
import { ServerPubsub } from '../pubsub/server-pubsub.js';
import type { Broker } from '../pubsub/broker.js';
import type { PublishOptions } from '../pubsub/pubsub-options.js';

export type { ListenResult, ServerStats, TransportTotals } from './server-stats.js';
export type { ServerOptions, ServerEvents } from './server-options.js';
import type { ServerOptions, ServerEvents } from './server-options.js';
import { Admission } from './admission.js';
import { resolveServerTls, type PeerCertificate } from '../transport/tls.js';
import { StreamAcceptor } from '../transport/stream.js';
import { listenLocal } from '../transport/local-socket.js';
import { addSelection } from '../selection/auto-send.js';
import { broadcastTo } from './broadcast.js';
import { localListenOptions, type LocalListen } from './local-options.js';
import { checkLogger } from '../features/logging/logger.js';
import { compressionStats } from '../compression/compression-stats.js';
import { ServerLog } from '../features/logging/server-log.js';
import { ServerMetrics } from '../features/metrics/server-metrics.js';
import type { MetricsSnapshot } from '../features/metrics/snapshot.js';
import { MetricsCsv, type MetricsCsvOptions } from '../features/metrics/csv-export.js';
import { formatSummary } from '../features/metrics/summary.js';
import { ADMIN_TYPE, adminHandler, checkAdminToken } from '../features/admin/admin.js';
import { StreamFeature } from '../streams/stream-feature.js';
import { qosStats, serverQos } from '../qos/qos-settings.js';
import { Cluster, requestClient } from '../cluster/cluster.js';

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
  readonly options: Readonly<Required<Pick<ServerOptions, 'tcpPort' | 'maxConnections' | 'maxPendingHandshakes' | 'handshakeTimeoutMs' | 'builtins'>>> & { host: string | undefined; udpPort: number | false };
  private readonly local: LocalListen | undefined;
  private readonly limits: ResolvedLimits;
  private readonly handlers: HandlerTable<Peer>;
  private readonly sessions = new Map<string, Peer>();
  private readonly identities = new ClientIdRegistry<Peer>();
  /** This server's part in a cluster (the `cluster` option), or undefined. */
  readonly cluster: Cluster | undefined;
  private readonly connections = new Set<Connection>();
  /** Sessions counted against maxConnections: from an accepted HELLO until the connection closes. */
  private admittedSessions = 0;
  /** Connections accepted whose handshake has not completed (maxPendingHandshakes). */
  private pendingHandshakes = 0;
  private tcp: net.Server | undefined;
  private readonly acceptor: StreamAcceptor;
  private readonly admission: Admission;
  private readonly udp: ServerUdp;
  private startedAt = 0;
  private closing: Promise<void> | undefined;
  private readonly totals = {
    tcp: { messagesIn: 0, messagesOut: 0, bytesIn: 0, bytesOut: 0 },
    udp: { messagesIn: 0, messagesOut: 0, bytesIn: 0, bytesOut: 0 },
    refusedConnections: 0,
    authRefused: 0,
    authBlocked: 0,
    tlsFailures: 0,
    protocolErrors: 0,
    broadcastDrops: 0,
    /** What transport 'auto' chose in sessions that have closed. */
    selection: { tcp: 0, udp: 0, udpReliable: 0 },
  };
  private readonly handshakeHost: HandshakeHost;
  private readonly log: ServerLog | undefined;
  private metricsState: ServerMetrics | undefined;
  /** Hears the events of every session: one object, not listeners per connection. */
  private readonly sessionOwner: SessionOwner;
  private readonly streams: StreamFeature;
  private readonly pubsub: ServerPubsub;

  constructor(options: ServerOptions = {}) {
    super();
    this.limits = { ...resolveLimits(options), qos: serverQos(options) };
    const builtins = resolveBuiltins(options.builtins === undefined ? DEFAULT_BUILTINS : options.builtins);
    this.local = localListenOptions(options);
    const udpPort = this.local ? false : (options.udpPort ?? 0);
    this.options = {
      host: options.host,
      tcpPort: checkPort('tcpPort', options.tcpPort ?? 0),
      udpPort: udpPort === false ? false : checkPort('udpPort', udpPort),
      maxConnections: integerOption('maxConnections', options.maxConnections),
      maxPendingHandshakes: integerOption('maxPendingHandshakes', options.maxPendingHandshakes),
      handshakeTimeoutMs: integerOption('handshakeTimeoutMs', options.handshakeTimeoutMs),
      builtins: [...builtins],
    };
    // The admin request is answered with or without the built-ins (only to whom it allows).
    const fallback = builtinHandlers(this, builtins);
    fallback.set(ADMIN_TYPE, adminHandler(this, checkAdminToken(options.adminToken)));
    this.streams = new StreamFeature(options, this.limits.maxFrameSize, this);
    for (const [type, handler] of this.streams.handlers()) fallback.set(type, handler);
    this.handlers = new HandlerTable<Peer>(fallback);
    this.pubsub = new ServerPubsub(this, options);
    this.pubsub.register(this.handlers);
    const tls = options.tls === undefined ? undefined : resolveServerTls(options.tls);
    this.admission = new Admission(options, tls !== undefined, this.totals, (error) => this.emit('peerError', undefined, error));
    this.acceptor = new StreamAcceptor(tls, this.options.handshakeTimeoutMs, {
      stream: (socket, certificate) => this.accept(socket, certificate),
      failed: (error) => {
        this.totals.tlsFailures++;
        this.emit('peerError', undefined, error);
      },
    });
    const udpBudget = new ReassemblyBudget(integerOption('udpReassemblyTotalBytes', options.udpReassemblyTotalBytes));
    this.udp = new ServerUdp(this.limits, udpBudget);
    this.handshakeHost = this.newHandshakeHost();
    const logger = checkLogger(options.logger);
    this.log = logger && new ServerLog(this, logger);
    const metrics = options.metrics ?? false;
    if (typeof metrics !== 'boolean' && (typeof metrics !== 'object' || metrics === null)) throw new OptionError('option metrics must be a boolean or { registry }', 'metrics');
    if (metrics !== false) this.metricsState = new ServerMetrics(this, this.handlers, metrics === true ? {} : metrics);
    this.sessionOwner = this.newSessionOwner();
    this.cluster = options.cluster === undefined ? undefined : new Cluster(this, options.cluster, (type, payload, sendOptions) => this.sendToAll(type, payload, sendOptions), this.pubsub);
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

  /** The open session of the client that named `clientId` in its HELLO (or, naming none, whose session id it is). */
  peerByClientId(clientId: string): Peer | undefined {
    return this.identities.get(clientId);
  }

  /**
   * Publishes to the peers subscribed to `topic` (docs/PROTOCOL.md, section 10); the server may
   * use `$`-topics. Resolves once delivered to this node's sessions (and relayed, in a cluster).
   */
  publish(topic: string, payload?: Payload, options?: PublishOptions): Promise<void> {
    return this.pubsub.publish(topic, payload, options);
  }

  /** The pub/sub broker: its seams (onInterest, deliverLocal, relay) are how a cluster joins it. */
  get broker(): Broker {
    return this.pubsub.broker;
  }

  /** Starts listening; resolves with the bound ports (useful with port 0). */
  async listen(): Promise<ListenResult> {
    if (this.tcp) throw new HybridwireError('HW_ERR_INVALID_ARGUMENT', 'server is already listening');
    await this.cluster?.start();
    const tcp = net.createServer({ noDelay: true, allowHalfOpen: true }, (socket) => {
      if (this.closing) socket.destroy();
      else if (this.handshakesFull()) this.turnAway(socket);
      else this.acceptor.accept(socket);
    });
    this.tcp = tcp;
    try {
      if (this.local) {
        await listenLocal(tcp, this.local.path, this.local.mode);
        tcp.on('error', (error) => this.emitError(error));
        this.startedAt = Date.now();
        const local = { host: '', tcpPort: 0, udpPort: undefined, path: this.local.path };
        this.emit('listening', local);
        return local;
      }
      tcp.listen(this.options.tcpPort, this.options.host);
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
      try {
        udpPort = await this.udp.listen(family, this.options.udpPort, this.options.host);
      } catch (error) {
        // Leave nothing half-open: the TCP listener goes too, and listen() can be retried.
        this.tcp = undefined;
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
    if (isReservedType(type)) throw protocolTypeError(type);
    this.cluster?.broadcast(type, payload, options);
    return this.sendToAll(type, payload, options);
  }

  /**
   * Sends a request to the client that connected with `clientId`, on this node or, in a cluster,
   * on whichever node holds it; rejects with HW_ERR_NOT_CONNECTED when none does.
   */
  request(clientId: string, type: string, payload?: Payload, options: { timeoutMs?: number } = {}): Promise<Payload> {
    return requestClient(this, this.cluster, clientId, type, payload, options);
  }

  /** The local half of broadcast() (in a cluster, the other nodes run theirs for it). */
  private sendToAll(type: string, payload: Payload | undefined, options: SendOptions & { except?: Peer }): number {
    return broadcastTo(this.sessions.values(), type, payload, options, (peer, error) => {
      if (error instanceof HybridwireError) this.totals.broadcastDrops++;
      else this.emit('peerError', peer, error as Error);
    });
  }

  stats(): ServerStats {
    const tcp = { ...this.totals.tcp };
    const udpSide = this.udp.stats();
    const udp = { ...this.totals.udp, ...udpSide.udp };
    const selection = { ...this.totals.selection };
    for (const peer of this.sessions.values()) {
      addTransportStats(tcp, udp, peer);
      addSelection(selection, peer.connection);
    }
    return {
      connectedClients: this.sessions.size,
      uptimeMs: this.startedAt === 0 ? 0 : Date.now() - this.startedAt,
      tcp,
      udp,
      udpReliable: udpSide.reliable,
      udpSocket: udpSide.socket,
      udpReassembly: udpSide.reassembly,
      refusedConnections: this.totals.refusedConnections,
      authRefused: this.totals.authRefused,
      authBlocked: this.totals.authBlocked,
      tlsFailures: this.totals.tlsFailures,
      protocolErrors: this.totals.protocolErrors,
      broadcastDrops: this.totals.broadcastDrops,
      compression: compressionStats(this.limits.compression.counters, this.limits.compression.algorithms),
      streams: this.streams.stats(),
      selection,
      pubsub: this.pubsub.stats(),
      qos: qosStats(this.limits.qos!.totals),
      cluster: this.cluster?.stats(),
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
    this.acceptor.close();
    this.pubsub.shutdown();
    await Promise.all([...this.connections].map((connection) => connection.close('server shutting down')));
    await closed;
    await this.pubsub.closeStore();
    // After the sessions: what their ending publishes still reaches the other nodes.
    await this.cluster?.stop();
    this.udp.close();
    this.emit('close');
  }

  /** A stream ready for the handshake (after TLS, if any). */
  private accept(socket: net.Socket, certificate: PeerCertificate | undefined): void {
    if (this.closing) {
      socket.destroy();
      return;
    }
    if (this.handshakesFull()) {
      this.turnAway(socket);
      return;
    }
    this.pendingHandshakes++;
    const tcpAddress: Address = { address: socket.remoteAddress ?? '', port: socket.remotePort ?? 0, family: socket.remoteFamily ?? '' };
    const connection = new Connection(socket, this.handlers, undefined, this.limits, this.sessionOwner);
    this.connections.add(connection);
    // It takes the connection's handshake frames until the session opens, then lets go of it.
    new ServerHandshake(connection, this.handshakeHost, tcpAddress, certificate);
  }

  /**
   * maxPendingHandshakes is reached: connections count from their accept, through their first byte
   * and TLS handshake (the acceptor's), until their HELLO_DONE is processed.
   */
  private handshakesFull(): boolean {
    return this.pendingHandshakes + this.acceptor.pendingCount >= this.options.maxPendingHandshakes;
  }

  /** Turned away before anything is allocated for it: a flood of connections that never finish their handshake costs a bounded amount. */
  private turnAway(socket: net.Socket): void {
    this.totals.refusedConnections++;
    socket.destroy();
  }

  /** A session's connection has closed, at any stage. */
  private sessionClosed(connection: Connection, error: Error | undefined): void {
    // A handshake still in progress is the connection's handshake handler.
    const handshake = connection.handshakeHandler;
    if (handshake instanceof ServerHandshake) {
      handshake.end();
      this.pendingHandshakes--;
    }
    this.connections.delete(connection);
    const peer = peerOf(connection);
    // A session holds its place under maxConnections from its accepted HELLO to its close.
    if (peer !== undefined) {
      this.admittedSessions--;
      this.udp.unbind(peer);
    }
    if (peer !== undefined) this.identities.remove(peer);
    if (error instanceof HybridwireError && error.name !== 'RemoteError' && error.code !== 'HW_ERR_SESSION_TAKEN_OVER') {
      this.totals.protocolErrors++;
      this.emit('peerError', peer, error);
    }
    if (peer && this.sessions.get(peer.id) === peer) {
      this.sessions.delete(peer.id);
      addTransportStats(this.totals.tcp, this.totals.udp, peer);
      addSelection(this.totals.selection, connection);
      peer.emit('close', error);
      this.pubsub.peerClosed(peer);
      this.emit('disconnect', peer, error);
    }
  }

  private newSessionOwner(): SessionOwner {
    const server = this;
    return {
      heartbeats: new HeartbeatWheel(this.limits.heartbeatIntervalMs),
      sessionMessage(connection, type, payload, info) {
        const peer = peerOf(connection);
        if (peer) server.emit('message', type, payload, peer, info);
      },
      sessionDrain(connection) {
        peerOf(connection)?.emit('drain');
      },
      sessionError(connection, error) {
        server.emit('peerError', peerOf(connection), error);
      },
      sessionClosed(connection, error) {
        server.sessionClosed(connection, error);
      },
    };
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
        return server.admittedSessions;
      },
      handshakeLimits: () => ({
        maxPacketSize: limits.maxFrameSize,
        windowSize: limits.windowSize,
        heartbeatIntervalMs: limits.heartbeatIntervalMs,
        heartbeatTimeoutMs: limits.heartbeatTimeoutMs,
        udpPort: this.udp.port,
        udp: udpOffer(limits), compression: limits.compression,
      }),
      newToken: () => this.udp.newToken(),
      admit: (hello, origin) => this.admission.admit(hello, origin),
      refused: (address, code, reason) => {
        this.totals.refusedConnections++;
        this.log?.refused(address, code, reason);
      },
      accepted: (peer, answer, token) => {
        this.admittedSessions++;
        this.udp.bind(peer, answer, token);
      },
      opened: (peer) => {
        this.pendingHandshakes--;
        this.sessions.set(peer.id, peer);
        this.streams.attach(peer.connection, peer, false);
        // One session per clientId: the newer takes over (its older one's close comes later).
        this.identities.add(peer)?.connection.fail(takenOver(peer.clientId!));
        this.emit('connection', peer);
      },
    };
  }

  private emitError(error: Error): void {
    if (this.listenerCount('error') > 0) this.emit('error', error);
  }
}

/** The peer of a server's session, once its HELLO has been accepted (ServerHandshake sets it). */
function peerOf(connection: Connection): Peer | undefined {
  return connection.context as Peer | undefined;
}

export function createServer(options?: ServerOptions): Server {
  return new Server(options);
}
