/**
 * The server's side of the handshake on one new connection (docs/PROTOCOL.md, "Handshake"):
 * HELLO is answered with HELLO_ACK (or refused), HELLO_DONE opens the session. Past it the
 * session belongs to the server; until then to this object (the connection's handshake handler),
 * which also bounds its duration, and which the connection lets go of once the session is open.
 */
import { randomUUID } from 'node:crypto';
import { FrameType } from '../codec/frame.js';
import { HybridwireError } from '../errors.js';
import type { Connection, HandshakeHandler } from '../session/connection.js';
import { MAX_HANDSHAKE_BYTES, answerHello, encodeJson, parseHello, parseHelloDone, refuse, versionRefusal, type Hello, type HelloAccepted, type HelloRefused, type ServerLimits } from '../session/handshake.js';
import { isEncrypted, type PeerCertificate } from '../transport/tls.js';
import { Peer, type Address } from './peer.js';
import type { SessionOrigin } from './admission.js';

/** What the handshake asks of the server it works for. */
export interface HandshakeHost {
  readonly maxConnections: number;
  readonly handshakeTimeoutMs: number;
  readonly heartbeatIntervalMs: number;
  readonly heartbeatTimeoutMs: number;
  /** Sessions counted against maxConnections: those whose HELLO was accepted and that are not closed. */
  readonly sessionCount: number;
  /** What the server offers in HELLO_ACK. */
  handshakeLimits(): ServerLimits;
  /** A fresh session token (8 bytes), unique among live sessions. */
  newToken(): Buffer;
  /**
   * Whether this HELLO may open a session (TLS required, authentication): undefined to go on, or
   * its refusal; a Promise while the application decides.
   */
  admit(hello: Hello, origin: SessionOrigin): HelloRefused | undefined | Promise<HelloRefused | undefined>;
  /** A HELLO from `address` was refused with `code` (counted, logged). */
  refused(address: Address, code: string, reason: string): void;
  /**
   * A HELLO was accepted: the peer exists and counts in sessionCount from now on (so that HELLOs
   * arriving together cannot overshoot maxConnections); its session is not open yet (its UDP side
   * may be set up).
   */
  accepted(peer: Peer, answer: HelloAccepted, token: Buffer): void;
  /** HELLO_DONE came: the session is open. */
  opened(peer: Peer): void;
}

export class ServerHandshake implements HandshakeHandler {
  /** The session's peer, once HELLO has been accepted. */
  peer: Peer | undefined;
  /** HELLO_DONE came and the session opened. */
  completed = false;
  private answer: HelloAccepted | undefined;
  /** A HELLO came (it may be waiting for the application's authenticate). */
  private helloSeen = false;
  private readonly timer: NodeJS.Timeout;

  constructor(
    private readonly connection: Connection,
    private readonly host: HandshakeHost,
    private readonly tcpAddress: Address,
    /** The client's verified certificate, when it proved one over TLS. */
    private readonly certificate?: PeerCertificate,
  ) {
    this.timer = setTimeout(() => {
      connection.fail(new HybridwireError('HW_ERR_HANDSHAKE_TIMEOUT', `handshake not completed within ${host.handshakeTimeoutMs} ms`));
    }, host.handshakeTimeoutMs);
    this.timer.unref();
    // A connection that has not completed its handshake may make us buffer no more than a HELLO.
    connection.limitFramesUntilOpen(MAX_HANDSHAKE_BYTES);
    connection.pauseReadingWhenCongested();
    connection.handshakeHandler = this;
  }

  /** The connection closed: the handshake, done or not, has nothing more to wait for. */
  end(): void {
    clearTimeout(this.timer);
  }

  /** @internal A handshake frame of the connection (see HandshakeHandler). */
  handshakeFrame(type: number, payload: Uint8Array): void {
    if (type === FrameType.HELLO && !this.helloSeen) {
      this.helloSeen = true;
      this.onHello(parseHello(payload));
      return;
    }
    if (type === FrameType.HELLO_DONE && this.answer !== undefined && this.peer !== undefined && this.connection.state === 'handshake') {
      this.onDone(this.answer, this.peer, payload);
      return;
    }
    throw new HybridwireError('HW_ERR_HANDSHAKE_ORDER', `unexpected handshake frame 0x${type.toString(16)}`);
  }

  private onHello(hello: Hello): void {
    const refusal = versionRefusal(hello) ?? this.fullRefusal();
    if (refusal) {
      this.refuse(refusal);
      return;
    }
    const { address, port } = this.tcpAddress;
    const verdict = this.host.admit(hello, { address, port, certificate: this.certificate, encrypted: isEncrypted(this.connection.socket) });
    if (!(verdict instanceof Promise)) {
      this.decided(hello, verdict);
      return;
    }
    // The handshake's deadline still runs; a connection that closed meanwhile is left alone.
    verdict.then((decision) => {
      if (this.connection.state !== 'handshake') return;
      try {
        this.decided(hello, decision ?? this.fullRefusal());
      } catch (error) {
        this.connection.fail(error instanceof HybridwireError ? error : new HybridwireError('HW_ERR_HANDLER_FAILED', (error as Error).message));
      }
    });
  }

  private fullRefusal(): HelloRefused | undefined {
    const host = this.host;
    return host.sessionCount >= host.maxConnections ? refuse('HW_ERR_SERVER_FULL', `server is at maxConnections (${host.maxConnections})`) : undefined;
  }

  private refuse(refusal: HelloRefused): void {
    this.host.refused(this.tcpAddress, refusal.code, refusal.reason);
    this.connection.sendControl(FrameType.HELLO_ACK, encodeJson(refusal));
    this.connection.close('refused');
  }

  private decided(hello: Hello, refusal: HelloRefused | undefined): void {
    if (refusal) {
      this.refuse(refusal);
      return;
    }
    const { connection, host } = this;
    const token = host.newToken();
    const answer = answerHello(hello, host.handshakeLimits(), randomUUID(), token.toString('hex'));
    if (!answer.accepted) {
      this.refuse(answer);
      return;
    }
    connection.sendControl(FrameType.HELLO_ACK, encodeJson(answer));
    this.answer = answer;
    const peer = new Peer(answer.sessionId, hello.clientId, this.tcpAddress, connection, this.certificate);
    this.peer = peer;
    connection.context = peer;
    host.accepted(peer, answer, token);
  }

  private onDone(answer: HelloAccepted, peer: Peer, payload: Uint8Array): void {
    const done = parseHelloDone(payload);
    if (done.sessionId !== answer.sessionId) throw new HybridwireError('HW_ERR_BAD_HANDSHAKE', 'HELLO_DONE names another session');
    clearTimeout(this.timer);
    this.completed = true;
    const connection = this.connection;
    connection.handshakeHandler = undefined;
    connection.open(answer.windowSize, answer.windowSize, answer.features, answer.compression);
    connection.startHeartbeat(this.host.heartbeatIntervalMs, this.host.heartbeatTimeoutMs);
    // Tells the client the session is registered: connect() resolves on it.
    connection.sendControl(FrameType.ACK, undefined, 0);
    this.host.opened(peer);
  }
}
