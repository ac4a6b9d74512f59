import { EventEmitter, once } from 'node:events';
import net from 'node:net';
import { randomBytes, randomUUID } from 'node:crypto';
import { Connection, type Handler, type MessageInfo, type SendOptions } from '../session/connection.js';
import { answerHello, encodeJson, parseHello, parseHelloDone, refuse, type HelloAccepted } from '../session/handshake.js';
import { FrameType } from '../codec/frame.js';
import { DatagramDecoder } from '../codec/datagram-decoder.js';
import { HybridwireError, OptionError } from '../errors.js';
import { checkInteger } from '../options.js';
import { TOKEN_SIZE, UdpSession } from '../transport/udp-session.js';
import { UdpSocket, walkBatch, type UdpSocketStats } from '../transport/udp-socket.js';
import { ReassemblyBudget } from '../reliable/reliable-endpoint.js';
import { SOCKET_ROW_WIDTH, SocketRow } from '../native/layouts.js';
import type { Payload } from '../session/message.js';
import { checkPort, resolveLimits, udpOffer, udpSessionOptions, type LimitOptions, type ResolvedLimits } from './options.js';
import { Peer, type Address } from './peer.js';
import { builtinHandlers } from './builtins.js';

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
  /** The reassembly budget its sessions share (udpReassemblyTotalBytes): bytes held, sessions holding some, charges refused. */
  udpReassembly: { usedBytes: number; holders: number; refusedCharges: number };
  refusedConnections: number;
  protocolErrors: number;
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
  udp: UdpSession;
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
  private readonly handlers = new Map<string, Handler<Peer>>();
  private readonly builtins: Map<string, Handler<Peer>>;
  private readonly sessions = new Map<string, Peer>();
  private readonly connections = new Set<Connection>();
  private readonly udpBindings = new Map<number, UdpBinding>();
  private tcp: net.Server | undefined;
  private udp: UdpSocket | undefined;
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
  };
  private readonly router = {
    handlerFor: (type: string) => this.handlers.get(type) ?? this.builtins.get(type),
    version: 0,
  };

  constructor(options: ServerOptions = {}) {
    super();
    this.limits = resolveLimits(options);
    const udpPort = options.udpPort ?? 0;
    this.options = {
      host: options.host,
      tcpPort: checkPort('tcpPort', options.tcpPort ?? 0),
      udpPort: udpPort === false ? false : checkPort('udpPort', udpPort),
      maxConnections: checkInteger('maxConnections', options.maxConnections ?? 10_000, 1, 10_000_000),
      handshakeTimeoutMs: checkInteger('handshakeTimeoutMs', options.handshakeTimeoutMs ?? 5000, 1, 3_600_000),
      builtins: options.builtins ?? true,
    };
    if (typeof this.options.builtins !== 'boolean') throw new OptionError('option builtins must be a boolean');
    this.builtins = this.options.builtins ? builtinHandlers(this) : new Map();
    this.udpBudget = new ReassemblyBudget(checkInteger('udpReassemblyTotalBytes', options.udpReassemblyTotalBytes ?? 64 * 1024 * 1024, 1024, 2 ** 40));
  }

  /** Routes messages of `type` to `handler(payload, peer, info)`; its return value answers requests. */
  handle<T = Payload>(type: string, handler: (payload: T, peer: Peer, info: MessageInfo) => unknown): this {
    if (typeof handler !== 'function') throw new HybridwireError('HW_ERR_INVALID_ARGUMENT', 'handler must be a function');
    this.handlers.set(type, handler as Handler<Peer>);
    this.router.version++;
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
    await once(tcp, 'listening');
    tcp.on('error', (error) => this.emitError(error));
    const tcpAddress = tcp.address() as net.AddressInfo;
    let udpPort: number | undefined;
    if (this.options.udpPort !== false) {
      const family = net.isIPv6(this.options.host ?? '') || (this.options.host === undefined && tcpAddress.family === 'IPv6') ? 'udp6' : 'udp4';
      const udp = new UdpSocket({
        type: family,
        bufferBytes: this.limits.udpSocketBufferBytes,
        queueBytes: this.limits.udpSocketBufferBytes,
        onDatagram: (bytes, start, end, address, port) => this.onDatagram(bytes, start, end, address, port),
        onBatch: (bytes, rows, count, senders) => this.onBatch(bytes, rows, count, senders),
      });
      this.udp = udp;
      try {
        udpPort = await udp.bind(this.options.udpPort, this.options.host);
      } catch (error) {
        // Leave nothing half-open: the TCP listener goes too, and listen() can be retried.
        this.udp = undefined;
        this.tcp = undefined;
        udp.close();
        await new Promise<void>((resolve) => tcp.close(() => resolve()));
        throw error;
      }
    }
    this.startedAt = Date.now();
    const result = { host: tcpAddress.address, tcpPort: tcpAddress.port, udpPort };
    this.emit('listening', result);
    return result;
  }

  /** Sends to every connected peer (optionally but one); returns how many it was sent to. */
  broadcast(type: string, payload?: Payload, options: SendOptions & { except?: Peer } = {}): number {
    let count = 0;
    for (const peer of this.sessions.values()) {
      if (peer === options.except || peer.connection.state !== 'open') continue;
      try {
        peer.send(type, payload, options);
        count++;
      } catch {
        // A peer whose queue is full misses this broadcast; the others still get it.
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
      udpSocket: this.udp?.stats(),
      udpReassembly: { usedBytes: this.udpBudget.usedBytes, holders: this.udpBudget.holders, refusedCharges: this.udpBudget.refusedCharges },
      refusedConnections: this.totals.refusedConnections,
      protocolErrors: this.totals.protocolErrors,
    };
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
    this.udp?.close();
    this.emit('close');
  }

  private accept(socket: net.Socket): void {
    if (this.closing) {
      socket.destroy();
      return;
    }
    const tcpAddress: Address = { address: socket.remoteAddress ?? '', port: socket.remotePort ?? 0, family: socket.remoteFamily ?? '' };
    let peer: Peer | undefined;
    const connection = new Connection(socket, this.router, undefined, this.limits);
    this.connections.add(connection);
    let accepted: HelloAccepted | undefined;
    let tokenLow = 0;
    const handshakeTimer = setTimeout(() => {
      connection.fail(new HybridwireError('HW_ERR_HANDSHAKE_TIMEOUT', `handshake not completed within ${this.options.handshakeTimeoutMs} ms`));
    }, this.options.handshakeTimeoutMs);
    handshakeTimer.unref();

    connection.on('handshake', (type, payload) => {
      if (type === FrameType.HELLO && accepted === undefined) {
        const hello = parseHello(payload);
        if (this.sessions.size >= this.options.maxConnections) {
          this.totals.refusedConnections++;
          connection.sendControl(FrameType.HELLO_ACK, encodeJson(refuse('HW_ERR_SERVER_FULL', `server is at maxConnections (${this.options.maxConnections})`)));
          connection.close('refused');
          return;
        }
        const token = this.newToken();
        tokenLow = token.readUInt32LE(0);
        const answer = answerHello(hello, this.handshakeLimits(), randomUUID(), token.toString('hex'));
        connection.sendControl(FrameType.HELLO_ACK, encodeJson(answer));
        if (!answer.accepted) {
          this.totals.refusedConnections++;
          connection.close('refused');
          return;
        }
        accepted = answer;
        peer = new Peer(answer.sessionId, hello.clientId, tcpAddress);
        peer.connection = connection;
        (connection as { context: unknown }).context = peer;
        if (this.udp) {
          const boundPeer = peer;
          const session = new UdpSession(this.udp, token, () => boundPeer.udpAddress, udpSessionOptions(this.limits, answer.mode === 'step', answer.udp, this.udpBudget), {
            message: (payload, via) => connection.receiveDatagramMessage(payload, 0, payload.length, via),
            pong: () => {},
            drain: () => connection.udpDrained(),
            failed: (error) => connection.fail(error),
          });
          this.udpBindings.set(tokenLow, { peer, tokenHigh: token.readUInt32LE(4), udp: session });
          connection.attachUdp(session);
        }
        return;
      }
      if (type === FrameType.HELLO_DONE && accepted !== undefined && peer !== undefined && connection.state === 'handshake') {
        const done = parseHelloDone(payload);
        if (done.sessionId !== accepted.sessionId) throw new HybridwireError('HW_ERR_BAD_HANDSHAKE', 'HELLO_DONE names another session');
        clearTimeout(handshakeTimer);
        connection.open(accepted.windowSize, accepted.windowSize, accepted.features);
        connection.startHeartbeat(this.limits.heartbeatIntervalMs, this.limits.heartbeatTimeoutMs);
        // Tells the client the session is registered: connect() resolves on it.
        connection.sendControl(FrameType.ACK, undefined, 0);
        this.sessions.set(peer.id, peer);
        this.emit('connection', peer);
        return;
      }
      throw new HybridwireError('HW_ERR_HANDSHAKE_ORDER', `unexpected handshake frame 0x${type.toString(16)}`);
    });
    connection.on('message', (type, payload, info) => {
      if (peer) this.emit('message', type, payload, peer, info);
    });
    connection.on('drain', () => peer?.emit('drain'));
    connection.on('error', (error) => this.emit('peerError', peer, error));
    connection.on('close', (error) => {
      clearTimeout(handshakeTimer);
      this.connections.delete(connection);
      if (tokenLow !== 0 && this.udpBindings.get(tokenLow)?.peer === peer) this.udpBindings.delete(tokenLow);
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

  private handshakeLimits() {
    return {
      maxPacketSize: this.limits.maxFrameSize,
      windowSize: this.limits.windowSize,
      heartbeatIntervalMs: this.limits.heartbeatIntervalMs,
      heartbeatTimeoutMs: this.limits.heartbeatTimeoutMs,
      udpPort: this.udp ? this.udp.port : 0,
      udp: udpOffer(this.limits),
    };
  }

  /** 8 random bytes whose low 32 bits are unique among live sessions (they key the lookup). */
  private newToken(): Buffer {
    for (;;) {
      const token = randomBytes(TOKEN_SIZE);
      const low = token.readUInt32LE(0);
      if (low !== 0 && !this.udpBindings.has(low)) return token;
    }
  }

  /**
   * A batch of datagrams (see UdpSocket's rows). A run of datagrams of one session from its known
   * address goes to its endpoint in one call; anything else, one datagram at a time. A handler
   * that throws does not cost the rest of the batch: the first error is rethrown at the end.
   */
  private onBatch(bytes: Buffer, rows: Uint32Array, count: number, senders: string[]): void {
    walkBatch(count, (index) => {
      const base = index * SOCKET_ROW_WIDTH;
      const start = rows[base + SocketRow.OFFSET]!;
      const end = start + rows[base + SocketRow.LENGTH]!;
      const address = senders[rows[base + SocketRow.SENDER]!]!;
      const port = rows[base + SocketRow.PORT]!;
      const binding = end - start >= TOKEN_SIZE ? this.udpBindings.get(bytes.readUInt32LE(start)) : undefined;
      const known = binding?.peer.udpAddress;
      if (
        binding !== undefined &&
        known !== undefined &&
        known.port === port &&
        known.address === address &&
        binding.tokenHigh === bytes.readUInt32LE(start + 4) &&
        binding.peer.connection.state === 'open'
      ) {
        const next = binding.udp.receiveRows(bytes, rows, index, count);
        this.totals.udp.datagramsIn += next - index;
        return next;
      }
      // The batch's buffer is lent; what the endpoint may keep views of must be a copy.
      const own = Buffer.allocUnsafe(end - start);
      bytes.copy(own, 0, start, end);
      this.onDatagram(own, 0, own.length, address, port);
      return index + 1;
    });
  }

  /** A datagram received: `bytes[start, end)`. */
  private onDatagram(bytes: Buffer, start: number, end: number, address: string, port: number): void {
    const udp = this.totals.udp;
    udp.datagramsIn++;
    if (end - start < TOKEN_SIZE) {
      udp.droppedUnauthenticated++;
      return;
    }
    const binding = this.udpBindings.get(bytes.readUInt32LE(start));
    if (binding === undefined || binding.tokenHigh !== bytes.readUInt32LE(start + 4) || binding.peer.connection.state !== 'open') {
      udp.droppedUnauthenticated++;
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
        udp.droppedMalformed++;
        return;
      }
      peer.udpAddress = { address, port, family: address.includes(':') ? 'IPv6' : 'IPv4' };
    }
    binding.udp.receive(frames);
  }

  private emitError(error: Error): void {
    if (this.listenerCount('error') > 0) this.emit('error', error);
  }
}

/** Adds a session's per-transport counters to running totals. */
function addTransportStats(tcp: TransportTotals, udp: TransportTotals, peer: Peer): void {
  const stats = peer.connection.stats;
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
