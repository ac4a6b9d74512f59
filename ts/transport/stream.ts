/**
 * How a session's byte stream begins, plain TCP or TLS over it (./tls.ts): both go through here,
 * and hand the session a net.Socket (a tls.TLSSocket is one) that carries the frames unchanged.
 *
 * A server with TLS tells the two apart on one port by the first byte a connection sends: a TLS
 * record of type handshake (22) starts TLS; anything else is taken as plaintext hybridwire (a
 * frame starts with its version, 1), which the server may then refuse in the handshake
 * (`requireEncryption`) with a coded error the client can read.
 */
import net from 'node:net';
import tls from 'node:tls';
import { FrameEncoder } from '../codec/frame-encoder.js';
import { FrameType } from '../codec/frame.js';
import { HybridwireError } from '../errors.js';
import { ALPN_PROTOCOL, checkPins, clientCertificateFailure, peerCertificate, tlsFailure, type ClientTls, type PeerCertificate, type ServerTls } from './tls.js';

/** The content type of a TLS handshake record (RFC 8446 §5.1), the first byte of a ClientHello. */
const TLS_HANDSHAKE_RECORD = 22;

export interface AcceptorEvents {
  /** A stream ready for the protocol's handshake; `certificate` is the client's, when it proved one. */
  stream(socket: net.Socket, certificate: PeerCertificate | undefined): void;
  /** A connection that failed before its stream was ready (TLS handshake, verification, silence). */
  failed(error: HybridwireError): void;
}

/**
 * The server's side: turns accepted TCP connections into streams. Without TLS it hands them over
 * as they are; with TLS it bounds the time to the first byte and to the end of the TLS handshake
 * by `timeoutMs` each, and refuses a client certificate that does not verify when one is required.
 */
export class StreamAcceptor {
  /** Connections whose stream is not ready yet, by remote address and port (unique among live ones). */
  private readonly pending = new Map<string, net.Socket>();
  private readonly tlsServer: tls.Server | undefined;
  private closed = false;

  constructor(
    private readonly settings: ServerTls | undefined,
    private readonly timeoutMs: number,
    private readonly events: AcceptorEvents,
  ) {
    if (settings === undefined) return;
    // Never listens: connections are given to it once their first byte says TLS. Verification of
    // a client certificate is decided in onSecure, so that a refused client learns why.
    this.tlsServer = new tls.Server({
      ...settings.contextOptions,
      requestCert: settings.requestCert,
      rejectUnauthorized: false,
      ALPNProtocols: [ALPN_PROTOCOL],
      handshakeTimeout: timeoutMs,
      allowHalfOpen: true,
    });
    this.tlsServer.on('secureConnection', (socket) => this.onSecure(socket));
    this.tlsServer.on('tlsClientError', (error, socket) => {
      const where = `a client at ${socket.remoteAddress}:${socket.remotePort}`;
      // node:tls destroys a connection whose handshake failed, but not one whose handshake timed out.
      socket.destroy();
      this.events.failed(tlsFailure(error, where) ?? new HybridwireError('HW_ERR_TLS_HANDSHAKE_FAILED', `TLS with ${where} failed: ${error.message}`, { cause: error }));
    });
  }

  /**
   * Connections taken but not handed over yet (with TLS: before their first byte and during their
   * TLS handshake). The server counts them under maxPendingHandshakes.
   */
  get pendingCount(): number {
    return this.pending.size;
  }

  accept(socket: net.Socket): void {
    if (this.tlsServer === undefined) {
      this.events.stream(socket, undefined);
      return;
    }
    const key = `${socket.remoteAddress}|${socket.remotePort}`;
    this.pending.set(key, socket);
    const timer = setTimeout(() => {
      socket.destroy();
      this.events.failed(new HybridwireError('HW_ERR_HANDSHAKE_TIMEOUT', `a connection from ${key.replace('|', ':')} sent nothing within ${this.timeoutMs} ms`));
    }, this.timeoutMs);
    timer.unref();
    // Errors of the raw socket (a reset) end it; 'close' does the bookkeeping.
    socket.on('error', () => {});
    socket.once('close', () => {
      clearTimeout(timer);
      if (this.pending.get(key) === socket) this.pending.delete(key);
    });
    socket.once('data', (chunk: Buffer) => {
      clearTimeout(timer);
      // The first chunk goes back to be read again by whoever takes the stream.
      socket.pause();
      socket.unshift(chunk);
      if (chunk[0] === TLS_HANDSHAKE_RECORD) {
        this.tlsServer!.emit('connection', socket);
        return;
      }
      this.pending.delete(key);
      this.events.stream(socket, undefined);
      socket.resume();
    });
  }

  /** Destroys the connections whose stream is not ready yet; later ones are destroyed on arrival. */
  close(): void {
    this.closed = true;
    for (const socket of this.pending.values()) socket.destroy();
    this.pending.clear();
  }

  private onSecure(socket: tls.TLSSocket): void {
    this.pending.delete(`${socket.remoteAddress}|${socket.remotePort}`);
    if (this.closed) {
      socket.destroy();
      return;
    }
    const settings = this.settings!;
    if (settings.requestCert && settings.rejectUnauthorized && !socket.authorized) {
      const error = clientCertificateFailure(socket);
      this.events.failed(error);
      refuse(socket, error, this.timeoutMs);
      return;
    }
    this.events.stream(socket, socket.authorized ? peerCertificate(socket) : undefined);
  }
}

/**
 * Tells a client over its TLS stream why it is refused, with an ERROR frame (docs/PROTOCOL.md 8),
 * then ends the stream; destroyed after `timeoutMs` if the client does not close.
 */
function refuse(socket: tls.TLSSocket, error: HybridwireError, timeoutMs: number): void {
  const payload = Buffer.from(JSON.stringify({ code: error.code, message: error.message }), 'utf8');
  socket.on('error', () => {});
  socket.resume();
  for (const buffer of new FrameEncoder().encode([{ type: FrameType.ERROR, payload }])) socket.write(buffer);
  socket.end();
  setTimeout(() => socket.destroy(), timeoutMs).unref();
}

/** A client's stream: the socket, and when it is ready to carry the handshake. */
export interface DialedStream {
  socket: net.Socket;
  /**
   * Calls `ready` once the stream can carry the handshake (TCP connected; with TLS, the handshake
   * done and the server's key among the pins) with the server's certificate if it was verified or
   * pinned, or `failed` with the coded error that stops it.
   */
  onReady(ready: (certificate: PeerCertificate | undefined) => void, failed: (error: HybridwireError) => void): void;
}

/** Opens a stream to host:port, over TLS with `settings`. */
export function dial(host: string, port: number, settings: ClientTls | undefined): DialedStream {
  if (settings === undefined) {
    const socket = net.connect({ host, port, noDelay: true, allowHalfOpen: true });
    return { socket, onReady: (ready) => socket.once('connect', () => ready(undefined)) };
  }
  const options: tls.ConnectionOptions & { allowHalfOpen: boolean } = {
    host,
    port,
    // The graceful close half-closes (docs/PROTOCOL.md 8). tls.connect passes allowHalfOpen on to
    // the TLSSocket, though its types omit it; a TCP socket of our own under it would work over
    // a slower JavaScript stream.
    allowHalfOpen: true,
    secureContext: settings.context,
    // SNI carries names only (RFC 6066 §3); the certificate is then checked against the address.
    servername: settings.servername ?? (net.isIP(host) === 0 ? host : undefined),
    rejectUnauthorized: settings.rejectUnauthorized,
    ALPNProtocols: [ALPN_PROTOCOL],
  };
  const socket = tls.connect(options);
  return {
    socket,
    onReady: (ready, failed) =>
      socket.once('secureConnect', () => {
        const mismatch = checkPins(socket, settings);
        if (mismatch) failed(mismatch);
        else ready(socket.authorized || settings.pins !== undefined ? peerCertificate(socket) : undefined);
      }),
  };
}
