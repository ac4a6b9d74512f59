import net from 'node:net';
import { Connection, type MessageInfo } from '../session/connection.js';
import { PROTOCOL_SEMVER, SUPPORTED_FEATURES, encodeJson, parseHelloAck, type DeliveryMode, type HelloAccepted } from '../session/handshake.js';
import { FrameType } from '../codec/frame.js';
import { HybridwireError, OptionError, type ErrorCode } from '../errors.js';
import { checkPort } from '../validate.js';
import { integerOption } from './option-ranges.js';
import { TOKEN_SIZE, type UdpSession } from '../transport/udp-session.js';
import type { UdpSocket } from '../transport/udp-socket.js';
import type { JsonValue, Payload } from '../session/message.js';
import { resolveClientTls, tlsFailure, type ClientTls, type ClientTlsOptions, type PeerCertificate } from '../transport/tls.js';
import { dial } from '../transport/stream.js';
import { udpSealingFor } from '../session/udp-keys.js';
import { resolveLimits, udpOffer, type LimitOptions, type ResolvedLimits } from './limits.js';
import { HandlerTable } from './handler-table.js';
import { SessionHandle } from './session-handle.js';
import { attachUdpSession, createUdpSocket } from './udp-setup.js';
import { checkLogger, type Logger } from '../features/logging/logger.js';
import { logClient } from '../features/logging/client-log.js';
import { checkClientIdOption } from './identity.js';
import { ClientPubsub, type PubsubClientOptions } from '../pubsub/client-pubsub.js';
import type { PublishOptions, SubscribeOptions } from '../pubsub/pubsub-options.js';
import type { Subscription } from '../pubsub/subscription.js';
import type { PubsubMessage } from '../pubsub/wire.js';

export interface ReconnectOptions {
  /** Attempts before giving up ('reconnect_failed'). Default 10. */
  maxAttempts?: number;
  /** Delay before the first attempt; doubles each time. Default 100 ms. */
  initialDelayMs?: number;
  /** Ceiling of the delay. Default 10000 ms. */
  maxDelayMs?: number;
  /** Each delay is scaled by a random factor in [1 - jitter, 1 + jitter]. Default 0.2. */
  jitter?: number;
}

export interface ClientOptions extends LimitOptions, PubsubClientOptions {
  host?: string;
  tcpPort: number;
  /** The server's UDP port; default: the one the server names in HELLO_ACK. false disables UDP. */
  udpPort?: number | false;
  /** 'burst' (sliding window, default) or 'step' (each message waits for its acknowledgement). */
  mode?: DeliveryMode;
  /**
   * The client's identity, 1 to 256 UTF-8 bytes, sent in HELLO. A server keeps one session per
   * clientId: a newer session with the same one takes over, and this one is then closed with
   * HW_ERR_SESSION_TAKEN_OVER (and not reconnected). Default: none.
   */
  clientId?: string;
  /** Time allowed for TCP connect plus handshake. Default 5000 ms. */
  connectTimeoutMs?: number;
  /** Reconnect automatically after an unexpected disconnect. Default false. */
  reconnect?: boolean | ReconnectOptions;
  /** A pino-compatible logger (info, warn, error, debug, child) for the session's events. Default: silent. */
  logger?: Logger;
  /**
   * TLS on the TCP side (docs/PROTOCOL.md 3.5): `true` for the defaults, or node:tls options
   * (`ca`, `cert` and `key` for mutual TLS, `servername`, `rejectUnauthorized`, `pins`). The
   * server's certificate is verified (chain and name) unless `rejectUnauthorized: false`; TLS 1.3
   * only unless `minVersion: 'TLSv1.2'`. Default: none (plaintext).
   */
  tls?: ClientTlsOptions | true;
  /**
   * Credentials for the server's `authenticate` (a token, a user name...): any JSON value of at
   * most 4096 bytes encoded, sent in HELLO (over TLS, encrypted). A refusal rejects connect() with
   * HW_ERR_AUTH_REFUSED and the server's reason.
   */
  auth?: JsonValue;
}

export type ClientState = 'connecting' | 'connected' | 'reconnecting' | 'closing' | 'closed';

interface ClientEvents {
  connect: [];
  disconnect: [error: Error | undefined];
  reconnecting: [info: { attempt: number; delayMs: number }];
  reconnect: [info: { attempt: number }];
  reconnect_failed: [error: Error | undefined];
  state: [state: ClientState];
  drain: [];
  /** A message arrived whose type has no handler. */
  message: [type: string, payload: Payload, info: MessageInfo];
  /** A pub/sub message delivered to this client (whichever subscription brought it). */
  publish: [message: PubsubMessage];
  error: [error: Error];
  close: [];
}

const OFFERED_FEATURES = [...SUPPORTED_FEATURES];
/** Largest `auth` accepted, encoded: half the HELLO's bound, the rest is for the other fields. */
const MAX_AUTH_BYTES = 4096;
/** Refusal codes a client reports as they are; any other is HW_ERR_HANDSHAKE_REFUSED. */
const REFUSAL_CODES = new Set(['HW_ERR_VERSION_MISMATCH', 'HW_ERR_SERVER_FULL', 'HW_ERR_AUTH_REFUSED', 'HW_ERR_ENCRYPTION_REQUIRED']);
/** The UDP announcement (docs/PROTOCOL.md 4.3): 8 zero bytes, gaps growing by 50 ms. */
const ANNOUNCE_PAYLOAD = Buffer.alloc(8);
const ANNOUNCE_STEP_MS = 50;
const ignoreCount = (): void => {};

/** A hybridwire client: one session over TCP, with UDP beside it. Create it with `connect()`. */
export class Client extends SessionHandle<ClientEvents> {
  state: ClientState = 'connecting';
  /** The session id from the server's HELLO_ACK. */
  sessionId: string | undefined;
  /**
   * True once the server has validated this session's UDP path (docs/PROTOCOL.md 4.3). Until
   * then, UDP messages wait for it, up to udpSendBufferBytes.
   */
  udpReady = false;
  /**
   * The server's certificate in the current session, when it was verified (or matched a pin): its
   * subject, fingerprint (SHA-256) and public-key pin. undefined without TLS.
   */
  certificate: PeerCertificate | undefined;
  private readonly limits: ResolvedLimits;
  private readonly host: string;
  private readonly tcpPort: number;
  private readonly udpPortOption: number | false | undefined;
  private readonly mode: DeliveryMode;
  private readonly connectTimeoutMs: number;
  private readonly reconnect: Required<ReconnectOptions> | undefined;
  private readonly clientId: string | undefined;
  private readonly tls: ClientTls | undefined;
  private readonly auth: JsonValue | undefined;
  private readonly handlers = new HandlerTable<Client>();
  private readonly pubsub: ClientPubsub;
  private udpSocket: UdpSocket | undefined;
  private udpPath: UdpSession | undefined;
  private reconnectTimer: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(options: ClientOptions) {
    super(undefined);
    if (typeof options !== 'object' || options === null) throw new OptionError('connect() needs an options object with tcpPort');
    this.limits = resolveLimits(options);
    this.host = options.host ?? '127.0.0.1';
    this.tcpPort = checkPort('tcpPort', options.tcpPort);
    this.udpPortOption = options.udpPort === false || options.udpPort === undefined ? options.udpPort : checkPort('udpPort', options.udpPort);
    const mode = options.mode ?? 'burst';
    if (mode !== 'burst' && mode !== 'step') throw new OptionError(`option mode must be 'step' or 'burst', got ${String(mode)}`, 'mode');
    this.mode = mode;
    this.connectTimeoutMs = integerOption('connectTimeoutMs', options.connectTimeoutMs);
    this.clientId = checkClientIdOption(options.clientId);
    this.tls = options.tls === undefined ? undefined : resolveClientTls(options.tls);
    this.auth = checkAuth(options.auth);
    if (options.reconnect) {
      const r = options.reconnect === true ? {} : options.reconnect;
      const jitter = r.jitter ?? 0.2;
      if (typeof jitter !== 'number' || jitter < 0 || jitter > 1) throw new OptionError(`option reconnect.jitter must be a number from 0 to 1, got ${String(jitter)}`, 'reconnect.jitter');
      this.reconnect = {
        maxAttempts: integerOption('reconnect.maxAttempts', r.maxAttempts),
        initialDelayMs: integerOption('reconnect.initialDelayMs', r.initialDelayMs),
        maxDelayMs: integerOption('reconnect.maxDelayMs', r.maxDelayMs),
        jitter,
      };
    }
    this.pubsub = new ClientPubsub(this, this.handlers, options, this.limits.maxPendingRequests, this.clientId);
    const logger = checkLogger(options.logger);
    if (logger) logClient(this, logger, { host: this.host, tcpPort: this.tcpPort });
  }

  /** Routes messages of `type` from the server to `handler(payload, client, info)`; its return value answers requests. */
  handle<T = Payload>(type: string, handler: (payload: T, client: Client, info: MessageInfo) => unknown): this {
    this.handlers.set(type, handler);
    return this;
  }

  /**
   * Subscribes to a filter (`+` and `*` match one level, `#` the rest, `$share/GROUP/filter` shares);
   * resolves once the server has confirmed it, to a Subscription: an async iterable of the messages
   * it brings, or, given a handler, calls it with each.
   */
  subscribe(filter: string, options?: SubscribeOptions): Promise<Subscription>;
  subscribe(filter: string, handler: (message: PubsubMessage) => void, options?: SubscribeOptions): Promise<Subscription>;
  subscribe(filter: string, handlerOrOptions?: SubscribeOptions | ((message: PubsubMessage) => void), options?: SubscribeOptions): Promise<Subscription> {
    if (typeof handlerOrOptions === 'function') return this.pubsub.subscribe(filter, handlerOrOptions, options);
    return this.pubsub.subscribe(filter, undefined, handlerOrOptions);
  }

  /** Ends this client's subscriptions of `filter`. */
  unsubscribe(filter: string): Promise<void> {
    return this.pubsub.unsubscribe(filter);
  }

  /**
   * Publishes; resolves once the server has taken the message as its QoS requires (0: written,
   * 1: acknowledged, 2: the exactly-once exchange complete).
   */
  publish(topic: string, payload?: Payload, options?: PublishOptions): Promise<void> {
    return this.pubsub.publish(topic, payload, options);
  }

  /** Round trip of the built-in `ping`, in milliseconds. */
  async ping(options: { timeoutMs?: number; signal?: AbortSignal } = {}): Promise<number> {
    const started = performance.now();
    await this.request('ping', undefined, options);
    return performance.now() - started;
  }

  /** Closes gracefully: CLOSE, in-flight work finished (up to closeTimeoutMs), sockets closed. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    this.setState('closing');
    this.pubsub.closing();
    await this.connection?.close('client closing');
    this.pubsub.ended(undefined);
    this.closeUdp();
    this.setState('closed');
    this.emit('close');
  }

  /** @internal Opens the first session; rejects on failure. */
  async start(): Promise<this> {
    await this.establish();
    try {
      await this.pubsub.sessionOpened();
    } catch (error) {
      this.closed = true;
      this.connection?.destroy(error as Error);
      throw error;
    }
    this.setState('connected');
    this.emit('connect');
    this.pubsub.release();
    return this;
  }

  protected override notConnected(): string {
    return `client is ${this.state}`;
  }

  private setState(state: ClientState): void {
    if (this.state === state) return;
    this.state = state;
    this.emit('state', state);
  }

  private establish(): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const stream = dial(this.host, this.tcpPort, this.tls);
      const socket = stream.socket;
      const connection = new Connection(socket, this.handlers, this, this.limits);
      let settled = false;
      const timer = setTimeout(() => {
        fail(new HybridwireError('HW_ERR_CONNECT_TIMEOUT', `no session with ${this.host}:${this.tcpPort} within ${this.connectTimeoutMs} ms`));
      }, this.connectTimeoutMs);
      const fail = (error: Error) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        if (this.connection === connection) this.connection = undefined;
        connection.destroy(error);
        reject(error);
      };
      stream.onReady((certificate) => {
        this.certificate = certificate;
        const hello = {
          version: PROTOCOL_SEMVER,
          features: OFFERED_FEATURES,
          mode: this.mode,
          maxPacketSize: this.limits.maxFrameSize,
          windowSize: this.mode === 'step' ? 1 : this.limits.windowSize,
          udp: udpOffer(this.limits),
          ...(this.clientId === undefined ? {} : { clientId: this.clientId }),
          ...(this.auth === undefined ? {} : { auth: this.auth }),
        };
        connection.sendControl(FrameType.HELLO, encodeJson(hello));
      }, fail);
      connection.on('handshake', (type, payload) => {
        if (type !== FrameType.HELLO_ACK || settled) {
          throw new HybridwireError('HW_ERR_HANDSHAKE_ORDER', `unexpected handshake frame 0x${type.toString(16)} from the server`);
        }
        const ack = parseHelloAck(payload);
        if (!ack.accepted) {
          const code = REFUSAL_CODES.has(ack.code) ? (ack.code as ErrorCode) : 'HW_ERR_HANDSHAKE_REFUSED';
          fail(new HybridwireError(code, `server refused the session: ${ack.reason}`));
          return;
        }
        connection.open(ack.windowSize, ack.windowSize, ack.features);
        connection.awaitingReady = true;
        connection.sendControl(FrameType.HELLO_DONE, encodeJson({ sessionId: ack.sessionId }));
        connection.flush();
        connection.startHeartbeat(ack.heartbeatIntervalMs, ack.heartbeatTimeoutMs);
        this.sessionId = ack.sessionId;
        this.connection = connection;
        this.bindUdp(connection, ack);
        connection.once('ready', () => {
          if (settled) return;
          settled = true;
          clearTimeout(timer);
          resolve();
        });
      });
      connection.on('message', (type, value, info) => this.emit('message', type, value, info));
      connection.on('drain', () => this.emit('drain'));
      connection.on('error', (error) => {
        if (this.listenerCount('error') > 0) this.emit('error', error);
      });
      connection.on('close', (error) => {
        if (!settled) {
          if (this.connection === connection) this.connection = undefined;
          const where = `${this.host}:${this.tcpPort}`;
          fail(
            error instanceof HybridwireError
              ? error
              : (error && tlsFailure(error, where)) ??
                  new HybridwireError('HW_ERR_CONNECT_FAILED', `cannot connect to ${this.host}:${this.tcpPort}${error ? `: ${error.message}` : ': the connection closed during the handshake'}`, { cause: error }),
          );
          return;
        }
        if (this.connection === connection) this.onDisconnect(error);
      });
    });
  }

  private bindUdp(connection: Connection, ack: HelloAccepted): void {
    this.closeUdp();
    if (this.udpPortOption === false || !ack.features.includes('udp')) return;
    const port = this.udpPortOption ?? ack.udpPort;
    if (!port) return;
    // The server's address as the TCP connection resolved it: `host` may be a name, and the UDP
    // socket needs an IP address of the family that name resolved to.
    const address = connection.socket.remoteAddress ?? this.host;
    const target = { address, port };
    const token = Buffer.from(ack.token, 'hex');
    // `path` is made below, before the socket can receive anything.
    // Only datagrams from the server's address and port with the session's token are the session's.
    const socket = createUdpSocket(net.isIPv6(address) ? 'udp6' : 'udp4', this.limits, {
      knownSession: (bytes, start, end, remoteAddress, remotePort) =>
        remotePort === target.port && remoteAddress === target.address && end - start >= TOKEN_SIZE && token.compare(bytes, start, start + TOKEN_SIZE) === 0
          ? path
          : undefined,
      otherDatagram: () => {},
    }, ignoreCount);
    this.udpSocket = socket;
    const agreement = { token, step: ack.mode === 'step', negotiated: ack.udp, sealing: udpSealingFor(connection.socket, 'client') };
    const path: UdpSession = attachUdpSession(connection, socket, () => target, this.limits, agreement, undefined, {
      holdUnreliable: true,
      pong: () => {
        if (this.udpPath !== path) return;
        this.udpReady = true;
        path.pathReady();
      },
      // Answered over TCP, which an attacker who sniffed the token cannot write into (4.1).
      challenge: (payload) => {
        connection.sendControl(FrameType.PATH_RESPONSE, payload);
        connection.flush();
      },
    });
    this.udpPath = path;
    // Announce our UDP address to the server: PINGs on the token until the server's PONG says the
    // path is validated (docs/PROTOCOL.md 4.3), each gap 50 ms longer than the one before.
    let probes = 0;
    const probe = () => {
      if (this.udpReady || this.udpPath !== path) return;
      probes++;
      path.sendControl(FrameType.PING, ANNOUNCE_PAYLOAD, probes);
      setTimeout(probe, ANNOUNCE_STEP_MS * probes).unref();
    };
    socket.bind(0).then(
      () => probe(),
      () => {
        // UDP is best effort beside the session; a socket that cannot bind leaves TCP working.
        if (this.udpPath === path) this.closeUdp();
      },
    );
  }

  private closeUdp(): void {
    this.udpPath?.close();
    this.udpPath = undefined;
    this.udpReady = false;
    if (this.udpSocket) {
      this.udpSocket.close();
      this.udpSocket = undefined;
    }
  }

  private onDisconnect(error: Error | undefined): void {
    this.connection = undefined;
    this.certificate = undefined;
    this.closeUdp();
    this.emit('disconnect', error);
    if (this.closed) return;
    // Reconnecting would take the session back from the one that took it over, and so on for ever.
    if (!this.reconnect || (error as { code?: unknown } | undefined)?.code === 'HW_ERR_SESSION_TAKEN_OVER') {
      this.closed = true;
      this.pubsub.ended(error);
      this.setState('closed');
      this.emit('close');
      return;
    }
    this.setState('reconnecting');
    this.scheduleReconnect(1, error);
  }

  private scheduleReconnect(attempt: number, lastError: Error | undefined): void {
    const r = this.reconnect!;
    if (attempt > r.maxAttempts) {
      this.closed = true;
      this.pubsub.ended(lastError);
      this.setState('closed');
      this.emit('reconnect_failed', lastError);
      this.emit('close');
      return;
    }
    const base = Math.min(r.maxDelayMs, r.initialDelayMs * 2 ** (attempt - 1));
    const delayMs = Math.max(1, Math.round(base * (1 + r.jitter * (2 * Math.random() - 1))));
    this.emit('reconnecting', { attempt, delayMs });
    this.reconnectTimer = setTimeout(() => {
      if (this.closed) return;
      this.establish().then(() => this.pubsub.sessionOpened()).then(
        () => {
          this.setState('connected');
          this.emit('reconnect', { attempt });
          this.emit('connect');
        },
        (error: Error) => this.scheduleReconnect(attempt + 1, error),
      );
    }, delayMs);
  }
}

function checkAuth(auth: JsonValue | undefined): JsonValue | undefined {
  if (auth === undefined) return undefined;
  let encoded: string | undefined;
  try {
    encoded = JSON.stringify(auth);
  } catch (error) {
    throw new OptionError(`option auth must be a JSON value: ${(error as Error).message}`);
  }
  if (encoded === undefined) throw new OptionError('option auth must be a JSON value');
  const bytes = Buffer.byteLength(encoded);
  if (bytes > MAX_AUTH_BYTES) throw new OptionError(`option auth encodes to ${bytes} bytes; at most ${MAX_AUTH_BYTES} fit in the HELLO`);
  return auth;
}

/** Connects to a hybridwire server; resolves once the handshake is done. */
export async function connect(options: ClientOptions): Promise<Client> {
  return new Client(options).start();
}
