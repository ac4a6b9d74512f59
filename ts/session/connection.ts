/**
 * One hybridwire session over a TCP socket, from either side: its states from the handshake
 * hand-off to shutdown, backpressure, and the control frames. The send path is ./outbound.ts, the
 * receive path ./inbound.ts (decoding, the window and the ACK policy) then ./dispatch.ts, the
 * heartbeat ./heartbeat.ts; the UDP side of the session plugs in through `attachUdp()`.
 */
import { EventEmitter } from 'node:events';
import type { Socket } from 'node:net';
import type { FrameDecoder } from '../codec/frame-decoder.js';
import { FrameType } from '../codec/frame.js';
import { HybridwireError } from '../errors.js';
import { DeliveryWindow } from './delivery-window.js';
import { MessageKind, type Payload } from './message.js';
import { encodeJson, negotiatedFeatures, remoteErrorOf } from './handshake.js';
import { Outbound } from './outbound.js';
import type { SendLimits, SendOptions, UdpPath } from './send-options.js';
import { Dispatcher, type DispatchHost, type DispatchLimits, type MessageInfo, type Router } from './dispatch.js';
import { Heartbeat, checkPingPayload, sharedHeartbeatWheel, type HeartbeatHost } from './heartbeat.js';
import type { ReceiveLimiter } from '../qos/receive-limiter.js';
import type { SendWatchHost } from './send-watch.js';
import { Inbound } from './inbound.js';
import { newSessionCounters, snapshotStats, type ConnectionStats, type SessionCounters } from './session-stats.js';
import { listenToSocket, type SocketSession } from './socket-events.js';
import { sessionCompression, type CompressionSettings } from '../compression/session-compression.js';
import { deferListenerTable, type ConnectionEvents, type HandshakeHandler, type SessionOwner } from './session-events.js';

export type { SendOptions, Transport, UdpPath } from './send-options.js';
export type { Handler, MessageInfo, Router } from './dispatch.js';
export type { ConnectionStats, TransportStats } from './session-stats.js';
export type { HandshakeHandler, SessionOwner } from './session-events.js';

export type SessionState = 'handshake' | 'open' | 'closing' | 'closed';

export interface ConnectionLimits extends SendLimits, DispatchLimits {
  /** Default timeout of request() when the caller names none; 0 waits for ever. */
  requestTimeoutMs: number;
  closeTimeoutMs: number;
  /** This side's algorithms, level and threshold; absent, the defaults (ts/compression/settings.ts). */
  compression?: CompressionSettings;
}

const NO_FEATURES: ReadonlySet<string> = new Set();
/** Why reading from the peer is paused: bits of Connection.pausedBy. */
const PAUSED_FOR_HANDLERS = 1;
const PAUSED_FOR_QUEUE = 2;
/** Frames already read wait for handlers to finish. */
const PAUSED_FOR_FRAMES = 4;

export class Connection extends EventEmitter<ConnectionEvents> implements DispatchHost, HeartbeatHost, SendWatchHost, SocketSession {
  state: SessionState = 'handshake';
  /** Negotiated feature names, once the handshake is done. */
  features: ReadonlySet<string> = NO_FEATURES;
  /** Client side: the server has not yet confirmed (with an ACK) that it opened the session. */
  awaitingReady = false;
  /** Counted as traffic goes; read them with stats(). */
  readonly counters: SessionCounters = newSessionCounters();
  /** A server's answer to PATH_RESPONSE (docs/PROTOCOL.md 4.1); a client, which gets none, has none. */
  pathResponse: { pathResponded(payload: Uint8Array): void } | undefined;
  /** Given every heartbeat round trip in ms (metrics): a field, not a listener, so that sessions keep one shape. */
  rttObserver: ((rttMs: number) => void) | undefined;
  /** While set, handshake frames go to it rather than to 'handshake' listeners. */
  handshakeHandler: HandshakeHandler | undefined;

  private readonly inbound: Inbound;
  private readonly outbound: Outbound;
  private readonly dispatch: Dispatcher;
  /** Set when the session opens; until then (handshake) there is no sequenced traffic. */
  private window = new DeliveryWindow(1, 1);
  private readonly heartbeat: Heartbeat;
  private closeTimer: NodeJS.Timeout | undefined;
  private closeError: Error | undefined;
  /** close() or fail() was called here, rather than the peer asking to close. */
  private closingLocally = false;
  private peerEnded = false;
  /** fail() was called: what the peer still sends is discarded. */
  private failedAlready = false;
  /** Why this side has stopped reading the peer (PAUSED_* bits); 0 while it reads. */
  private pausedBy = 0;

  constructor(
    readonly socket: Socket,
    router: Router,
    context: unknown,
    private readonly limits: ConnectionLimits,
    private readonly owner?: SessionOwner,
  ) {
    super();
    deferListenerTable(this);
    this.outbound = new Outbound(socket, limits, this.counters, this);
    this.dispatch = new Dispatcher(this, router, this.outbound, this.counters, limits, context);
    this.inbound = new Inbound(this, this.dispatch, this.outbound, limits);
    this.heartbeat = new Heartbeat(this);
    socket.setNoDelay(true);
    listenToSocket(socket, this);
  }

  /** The second argument of every handler of this session (the Peer or Client it belongs to). */
  get context(): unknown {
    return this.dispatch.context;
  }

  set context(context: unknown) {
    this.dispatch.context = context;
  }

  /** A server's rate limits on this peer (ts/qos): pub/sub checks a publish's topic with its admitTopic(). */
  get rateLimiter(): ReceiveLimiter | undefined {
    return this.dispatch.limiter;
  }

  /** The UDP side of the session, once attached. */
  get udpPath(): UdpPath | undefined {
    return this.outbound.udpPath;
  }

  attachUdp(path: UdpPath): void {
    this.outbound.udpPath = path;
  }

  /** Sends a frame that is not sequenced (handshake, PING, ERROR, ...), flushed with the next batch. */
  sendControl(type: number, payload?: Uint8Array, sequence = 0): void {
    if (this.state === 'closed') return;
    this.outbound.sendControl(type, payload, sequence);
  }

  /** Writes what is queued now rather than at the end of the turn. */
  flush(): void {
    this.outbound.flush();
  }

  /**
   * Server side: until the session opens, frames are refused (HW_ERR_FRAME_TOO_LARGE) as soon as
   * a header announces more than `maxPayload` bytes, so that a connection that has not completed
   * its handshake cannot make the server buffer more than that (docs/PROTOCOL.md, section 3.3).
   */
  limitFramesUntilOpen(maxPayload: number): void {
    this.inbound.limitFramesUntilOpen(maxPayload);
  }

  /**
   * Server side: stop reading the peer while the socket is congested and more than highWaterMark
   * bytes wait for it, so that what it sends cannot queue more for it. (A client does not: two
   * sides that both stopped reading with data queued each way would wait for each other.)
   */
  pauseReadingWhenCongested(): void {
    this.outbound.stopReadingWhenCongested();
  }

  /** Opens the session with the negotiated window, features and compression algorithm (HELLO_ACK's). */
  open(sendWindow: number, receiveWindow: number, features: Iterable<string>, algorithm?: string): void {
    this.window = new DeliveryWindow(sendWindow, receiveWindow);
    this.inbound.open(this.window);
    this.features = negotiatedFeatures(features);
    this.dispatch.compression = sessionCompression(this.limits.compression, this.features, algorithm);
    this.outbound.open(this.window, this.dispatch.compression, this.features.has('udp-compression'));
    this.state = 'open';
  }

  /** Queues a message; returns false once queued bytes pass the high-water mark ('drain' follows). */
  send(type: string, payload: Payload, options?: SendOptions): boolean {
    this.assertOpen();
    return this.outbound.send(type, MessageKind.MESSAGE, 0, payload, options);
  }

  /** send() of a payload already encoded (see encodingOf and bodyOf in message.ts). */
  sendEncoded(type: string, encoding: number, body: Uint8Array | string, options?: SendOptions): boolean {
    this.assertOpen();
    return this.outbound.sendBody(type, MessageKind.MESSAGE, 0, encoding, body, options);
  }

  /** Resolves once the send queue is below highWaterMark (at once if it is); rejects if the connection closes. */
  waitForRoom(): Promise<void> {
    if (this.queuedBytes < this.limits.highWaterMark) return Promise.resolve();
    this.outbound.needDrain = true;
    return new Promise<void>((resolve, reject) => {
      const onDrain = () => {
        this.off('close', onClose);
        resolve();
      };
      const onClose = (error: Error | undefined) => {
        this.off('drain', onDrain);
        reject(new HybridwireError('HW_ERR_CONNECTION_CLOSED', 'connection closed while waiting for room in the send queue', { cause: error }));
      };
      this.once('drain', onDrain);
      this.once('close', onClose);
    });
  }

  /** Sends a request; resolves with the reply. `timeoutMs` undefined means the requestTimeoutMs limit. */
  request(type: string, payload: Payload, timeoutMs: number | undefined, signal: AbortSignal | undefined, options?: SendOptions, sent?: () => void): Promise<Payload> {
    this.assertOpen();
    const requests = this.dispatch.requests;
    const reply = requests.open(type, timeoutMs ?? this.limits.requestTimeoutMs, signal);
    const id = requests.lastId;
    try {
      this.outbound.send(type, MessageKind.REQUEST, id, payload, options);
      sent?.();
    } catch (error) {
      requests.reject(id, error as Error);
    }
    return reply;
  }

  /** Bytes waiting to be written (send queue, unacknowledged backlog and socket buffer). */
  get queuedBytes(): number {
    return this.outbound.queuedBytes;
  }

  /** A snapshot of the session's counters and queues. */
  stats(): ConnectionStats {
    return snapshotStats(this.counters, this.dispatch.pendingRequests, this.queuedBytes, this.dispatch.compression?.algorithm);
  }

  /** Beats on the server's wheel, or (a client's session) on the process's wheel for the interval. */
  startHeartbeat(intervalMs: number, timeoutMs: number): void {
    this.heartbeat.start(intervalMs, timeoutMs, this.owner?.heartbeats ?? sharedHeartbeatWheel(intervalMs));
  }

  /** A MESSAGE (at datagram[start, end)) from a datagram authenticated as this session's; see Dispatcher. */
  receiveDatagramMessage(datagram: Buffer, start: number, end: number, via: SendOptions, flags = 0): void {
    this.dispatch.receiveDatagramMessage(datagram, start, end, via, flags);
  }

  /** The UDP path has room again after a send() that returned false. */
  udpDrained(): void {
    this.owner?.sessionDrain(this);
    this.emit('drain');
  }

  /** Closes gracefully: sends CLOSE, waits (up to closeTimeoutMs) for the queue and the handlers, then ends the socket. */
  close(reason = 'closing'): Promise<void> {
    if (this.state === 'closed') return Promise.resolve();
    const closed = new Promise<void>((resolve) => this.once('close', () => resolve()));
    if (this.state !== 'closing' || !this.closingLocally) {
      this.state = 'closing';
      this.closingLocally = true;
      this.sendControl(FrameType.CLOSE, encodeJson({ code: 'HW_OK', reason }));
      this.flush();
      this.armCloseTimer();
      this.endWhenIdle();
    }
    return closed;
  }

  /** Closes at once after telling the peer why, with an ERROR frame carrying the code. */
  fail(error: HybridwireError): void {
    if (this.state === 'closed' || this.failedAlready) return;
    this.failedAlready = true;
    this.closeError = error;
    this.sendControl(FrameType.ERROR, encodeJson({ code: error.code, message: error.message }));
    this.flush();
    this.state = 'closing';
    this.closingLocally = true;
    this.socket.end();
    this.armCloseTimer();
    this.heartbeat.stop();
    this.outbound.watch?.stop();
    // What the peer still sends is read and discarded, so that its FIN (or its reset) is seen.
    this.pausedBy = 0;
    this.socket.resume();
  }

  destroy(error?: Error): void {
    if (error) this.closeError ??= error;
    this.socket.destroy();
  }

  // ---- what the receive path, the heartbeat and the send watch ask of the session ----

  /** @internal */
  get failed(): boolean {
    return this.failedAlready;
  }

  /** @internal */
  handshakeFrame(type: number, payload: Uint8Array): void {
    if (this.handshakeHandler !== undefined) this.handshakeHandler.handshakeFrame(type, payload);
    else this.emit('handshake', type, payload);
  }

  /** @internal */
  unhandledMessage(type: string, value: Payload, info: MessageInfo): void {
    this.owner?.sessionMessage(this, type, value, info);
    this.emit('message', type, value, info);
  }

  /** @internal */
  reportError(error: Error): void {
    this.owner?.sessionError(this, error);
    if (this.listenerCount('error') > 0) this.emit('error', error);
  }

  /** @internal */
  pauseForHandlers(paused: boolean): void {
    this.pauseReading(PAUSED_FOR_HANDLERS, paused);
    // Frames held for the handler limit come first; the socket is read again once they are done.
    if (!paused) this.inbound.resume();
  }

  /** @internal */
  holdReading(held: boolean): void {
    this.pauseReading(PAUSED_FOR_FRAMES, held);
  }

  /** @internal */
  handlerSettled(): void {
    if (this.state === 'closing') this.endWhenIdle();
  }

  /** @internal */
  readingPaused(): boolean {
    return this.pausedBy !== 0;
  }

  /** @internal */
  sendPing(payload: Buffer, sequence: number): void {
    this.sendControl(FrameType.PING, payload, sequence);
  }

  /** @internal */
  timedOut(timeoutMs: number): void {
    // docs/PROTOCOL.md, sections 6 and 8: the peer is told, in case it is alive but cut off from us.
    this.fail(new HybridwireError('HW_ERR_HEARTBEAT_TIMEOUT', `no frame from the peer for ${timeoutMs} ms`));
  }

  /** @internal */
  pauseForQueue(paused: boolean): void {
    this.pauseReading(PAUSED_FOR_QUEUE, paused);
  }

  /** @internal */
  queueFailed(error: HybridwireError): void {
    this.fail(error);
  }

  /** @internal The socket's events (see ./socket-events.ts): this one, socketDrain, socketEnd and socketClosed. */
  socketData(chunk: Buffer): void {
    if (this.state === 'closed' || this.failedAlready) return;
    this.heartbeat.received = true;
    this.counters.tcp.bytesIn += chunk.length;
    this.inbound.push(chunk);
  }

  /** @internal */
  socketDrain(): void {
    this.outbound.socketDrained();
    this.maybeDrain();
  }

  /** @internal */
  socketEnd(): void {
    // The peer finished writing (sockets are half-open capable); finish ours once our queue is out.
    this.peerEnded = true;
    if (this.state === 'open' || this.state === 'handshake') this.state = 'closing';
    this.armCloseTimer();
    this.endWhenIdle();
  }

  /** @internal A frame other than MESSAGE (those go to dispatch): row `i` of the decoder's last push. */
  controlFrame(decoder: FrameDecoder, i: number): void {
    switch (decoder.type(i)) {
      case FrameType.TYPE_DEF:
        this.dispatch.defineAlias(decoder.payload(i));
        return;
      case FrameType.ACK:
        this.onAck(decoder.sequence(i));
        return;
      case FrameType.PING:
        checkPingPayload(decoder.payloadLength(i));
        this.sendControl(FrameType.PONG, Buffer.from(decoder.payload(i)), decoder.sequence(i));
        return;
      case FrameType.PONG:
        checkPingPayload(decoder.payloadLength(i));
        this.onPong(decoder.payload(i));
        return;
      case FrameType.CLOSE:
        this.onRemoteClose();
        return;
      case FrameType.ERROR:
        this.onRemoteError(decoder.payload(i));
        return;
      case FrameType.HELLO:
      case FrameType.HELLO_ACK:
      case FrameType.HELLO_DONE:
        throw new HybridwireError('HW_ERR_HANDSHAKE_ORDER', 'handshake frame after the handshake completed');
      default: {
        const type = decoder.type(i);
        if (type === FrameType.PATH_RESPONSE && this.pathResponse) this.pathResponse.pathResponded(decoder.payload(i));
        else if (type < 0x80) throw new HybridwireError('HW_ERR_UNKNOWN_FRAME_TYPE', `unknown frame type 0x${type.toString(16)}`);
      }
    }
  }

  private onAck(nextExpected: number): void {
    if (this.awaitingReady) {
      this.awaitingReady = false;
      this.emit('ready');
    }
    const newly = this.window.acknowledge(nextExpected);
    if (newly < 0) throw new HybridwireError('HW_ERR_BAD_ACK', `ACK for ${nextExpected} covers messages never sent`);
    this.outbound.acknowledged(nextExpected);
    this.maybeDrain();
  }

  private onPong(payload: Uint8Array): void {
    if (payload.length !== 8) return;
    const sent = Buffer.from(payload.buffer, payload.byteOffset, 8).readDoubleLE(0);
    const sample = performance.now() - sent;
    if (!(sample >= 0)) return;
    const counters = this.counters;
    counters.rttMs = counters.rttMs === undefined ? sample : counters.rttMs * 0.875 + sample * 0.125;
    this.rttObserver?.(sample);
    this.emit('pong', sample);
  }

  private onRemoteClose(): void {
    // The peer will send nothing new, but what it has in flight still comes, then its FIN:
    // we end our side once that FIN has arrived and our own work is done.
    if (this.state === 'open') this.state = 'closing';
    this.armCloseTimer();
    this.endWhenIdle();
  }

  private onRemoteError(payload: Uint8Array): void {
    this.closeError = remoteErrorOf(payload);
    this.state = 'closing';
    this.closingLocally = true;
    this.socket.end();
    this.armCloseTimer();
  }

  /** Emits 'drain' if a sender waits for room and there is some now; ends a closing session once idle. */
  private maybeDrain(): void {
    const outbound = this.outbound;
    if (outbound.needDrain && outbound.queuedBytes < this.limits.highWaterMark) {
      outbound.needDrain = false;
      this.owner?.sessionDrain(this);
      this.emit('drain');
    }
    if (this.state === 'closing') this.endWhenIdle();
  }

  /** Stops reading the peer for `reason`, or resumes once no reason is left. */
  private pauseReading(reason: number, paused: boolean): void {
    const before = this.pausedBy;
    const after = paused ? before | reason : before & ~reason;
    if (after === before || this.failedAlready || this.state === 'closed') return;
    this.pausedBy = after;
    if (after === 0) {
      // The peer's silence counts again from now, not from before the pause.
      this.heartbeat.received = true;
      this.socket.resume();
    } else if (before === 0) {
      this.socket.pause();
    }
  }

  /** Bounds every way of closing: past closeTimeoutMs the socket is destroyed, work or not. */
  private armCloseTimer(): void {
    if (this.closeTimer) return;
    this.closeTimer = setTimeout(() => this.socket.destroy(), this.limits.closeTimeoutMs);
    this.closeTimer.unref();
  }

  private endWhenIdle(): void {
    if (this.state !== 'closing') return;
    if (!this.closingLocally && !this.peerEnded) return;
    // Once the peer has sent its FIN it can acknowledge nothing more: stop waiting for acks then.
    const inFlight = !this.peerEnded && (this.window.inFlight > 0 || this.outbound.hasUnsent);
    if (this.dispatch.pendingHandlers > 0 || this.inbound.waiting || inFlight) return;
    this.flush();
    if (!this.socket.writableEnded) this.socket.end();
  }

  /** @internal */
  socketClosed(error: Error | undefined): void {
    if (this.state === 'closed') return;
    this.state = 'closed';
    this.heartbeat.stop();
    this.outbound.watch?.stop();
    this.outbound.stop();
    if (this.closeTimer) clearTimeout(this.closeTimer);
    const reason = this.closeError ?? error;
    this.dispatch.rejectRequests(
      new HybridwireError('HW_ERR_CONNECTION_CLOSED', `connection closed before a reply came${reason ? `: ${reason.message}` : ''}`, { cause: reason }),
    );
    this.udpPath?.close();
    this.socket.destroy();
    this.owner?.sessionClosed(this, reason);
    this.emit('close', reason);
  }

  private assertOpen(): void {
    // While the peer closes, we may still answer it until our own side ends.
    if (this.state === 'closing' && !this.closingLocally && !this.socket.writableEnded) return;
    if (this.state !== 'open') {
      throw new HybridwireError('HW_ERR_NOT_CONNECTED', `cannot send: the connection is ${this.state}`);
    }
  }
}
