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
import { MAX_HANDSHAKE_BYTES, answerHello, encodeJson, parseHello, parseHelloDone, refuse, type Hello, type HelloAccepted, type ServerLimits } from '../session/handshake.js';
import { Peer, type Address } from './peer.js';

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
  /** A HELLO was refused (counted). */
  refused(): void;
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
  private readonly timer: NodeJS.Timeout;

  constructor(
    private readonly connection: Connection,
    private readonly host: HandshakeHost,
    private readonly tcpAddress: Address,
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
    if (type === FrameType.HELLO && this.answer === undefined) {
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
    const { connection, host } = this;
    if (host.sessionCount >= host.maxConnections) {
      host.refused();
      connection.sendControl(FrameType.HELLO_ACK, encodeJson(refuse('HW_ERR_SERVER_FULL', `server is at maxConnections (${host.maxConnections})`)));
      connection.close('refused');
      return;
    }
    const token = host.newToken();
    const answer = answerHello(hello, host.handshakeLimits(), randomUUID(), token.toString('hex'));
    connection.sendControl(FrameType.HELLO_ACK, encodeJson(answer));
    if (!answer.accepted) {
      host.refused();
      connection.close('refused');
      return;
    }
    this.answer = answer;
    const peer = new Peer(answer.sessionId, hello.clientId, this.tcpAddress, connection);
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
    connection.open(answer.windowSize, answer.windowSize, answer.features);
    connection.startHeartbeat(this.host.heartbeatIntervalMs, this.host.heartbeatTimeoutMs);
    // Tells the client the session is registered: connect() resolves on it.
    connection.sendControl(FrameType.ACK, undefined, 0);
    this.host.opened(peer);
  }
}
