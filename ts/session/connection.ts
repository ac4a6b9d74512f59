/**
 * One hybridwire session over a TCP socket, from either side: framing, the handshake hand-off,
 * message routing, requests, the delivery window, acknowledgements, heartbeats, backpressure and
 * shutdown. The UDP side of the session plugs in through `attachUdp()`.
 *
 * Hot path, per message: no N-API call (headers go into the encoder's slab, checksums are sealed
 * per flush and verified per chunk), no Promise, no closure, no string decoding of the type name
 * (types travel as aliases from a per-connection table).
 */
import { EventEmitter } from 'node:events';
import type { Socket } from 'node:net';
import { lz4Compress, lz4Decompress } from '../codec/lz4.js';
import { FrameDecoder } from '../codec/frame-decoder.js';
import { FrameEncoder } from '../codec/frame-encoder.js';
import { FrameFlag, FrameType, HEADER_SIZE } from '../codec/frame.js';
import { HybridwireError, RemoteError } from '../errors.js';
import { RequestTable } from './requests.js';
import { DeliveryWindow } from './delivery-window.js';
import {
  Encoding,
  MessageKind,
  INLINE_TYPE,
  MAX_ALIASES,
  bodyOf,
  decodeBody,
  decodeTypeDef,
  encodeTypeDef,
  encodingOf,
  newMessageHeader,
  readMessageHeader,
  writeMessagePrefix,
  type Payload,
} from './message.js';
import { encodeJson } from './handshake.js';
import type { ReliableStats } from '../reliable/reliable-endpoint.js';

export type Transport = 'tcp' | 'udp';

/** What a handler may learn about the message it handles (third argument, when declared). */
export interface MessageInfo {
  type: string;
  transport: Transport;
  /** Set when the sender awaits a reply: the handler's return value (or resolved value) is sent back. */
  requestId: number | undefined;
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type Handler<Context = any> = (payload: any, context: Context, info: MessageInfo) => unknown;

export interface Router {
  handlerFor(type: string): Handler | undefined;
  /** Changes whenever a handler is added or replaced, so that cached lookups are refreshed. */
  readonly version: number;
}

export interface ConnectionLimits {
  /** Messages of at least this many bytes go LZ4-compressed when both sides offer lz4; 0 is off. */
  compressThreshold: number;
  maxFrameSize: number;
  highWaterMark: number;
  maxQueueBytes: number;
  maxPendingRequests: number;
  maxPendingHandlers: number;
  closeTimeoutMs: number;
}

export interface TransportStats {
  messagesIn: number;
  messagesOut: number;
  bytesIn: number;
  bytesOut: number;
}

export interface ConnectionStats {
  tcp: TransportStats;
  udp: TransportStats & { dropped: number };
  /** Smoothed heartbeat round-trip time in milliseconds (undefined before the first PONG). */
  rttMs: number | undefined;
  /** Messages sent and received LZ4-compressed. */
  compressedOut: number;
  compressedIn: number;
  pendingRequests: number;
  queuedBytes: number;
}

/** The UDP side of a session, when there is one. */
export interface UdpPath {
  send(prefix: Buffer, prefixLength: number, body: Uint8Array | string, reliable: boolean, ordered: boolean, channel: number): boolean;
  close(): void;
  stats(): ReliableStats | undefined;
}

export interface SendOptions {
  transport?: Transport;
  /** UDP only: retransmit until acknowledged. */
  reliable?: boolean;
  /** UDP reliable only: false delivers on arrival instead of in order. Default true. */
  ordered?: boolean;
  /** UDP reliable only: the ordering domain, 0..255. */
  channel?: number;
}

interface ConnectionEvents {
  handshake: [type: number, payload: Uint8Array];
  message: [type: string, payload: Payload, info: MessageInfo];
  drain: [];
  error: [error: Error];
  close: [error: Error | undefined];
  pong: [rttMs: number];
  /** The server confirmed the session (client side; see docs/PROTOCOL.md, section 3). */
  ready: [];
}

interface AliasHandler {
  handler: Handler;
  type: string;
  /** Declared a third parameter: gets a MessageInfo object (allocated only for such handlers). */
  wantsInfo: boolean;
}

/** Encoded sequenced frames that the window does not allow out yet: one per flush, not per message. */
interface HeldBatch {
  buffers: Buffer[];
  count: number;
  bytes: number;
}

/** Flush inside a long synchronous burst once this much is encoded, so the encoder stays small. */
const FLUSH_BYTES = 64 * 1024;
/** Largest message body that goes into a BATCH frame, and the most payload one BATCH frame holds. */
const BATCH_ENTRY_MAX = 1024;
const BATCH_BYTES = 32 * 1024;
/** Longest an acknowledgement waits to be coalesced with later ones (or to ride on outgoing data). */
const ACK_DELAY_MS = 1;
/** Buffers totalling at most this much are copied into one write rather than sent by writev. */
const JOIN_BYTES = 4096;
const NO_ALIAS = 0;
const NO_FEATURES: ReadonlySet<string> = new Set();
const SETTLED = Promise.resolve();

/**
 * Whether a request handler's result is a promise (any thenable object) to wait for. A binary
 * reply is tested first: reading the missing `then` of a typed array is a slow generic property
 * lookup, even in optimized code.
 */
function isPending(result: unknown): result is Promise<unknown> {
  if (result instanceof Uint8Array || result === null || typeof result !== 'object') return false;
  return typeof (result as Promise<unknown>).then === 'function';
}

/** The little-endian u32 at source[at, at + 4); the caller has checked the bounds. */
function readWord(source: Uint8Array, at: number): number {
  return (source[at]! | (source[at + 1]! << 8) | (source[at + 2]! << 16) | (source[at + 3]! << 24)) >>> 0;
}

export class Connection extends EventEmitter<ConnectionEvents> {
  state: 'handshake' | 'open' | 'closing' | 'closed' = 'handshake';
  readonly stats: ConnectionStats = {
    tcp: { messagesIn: 0, messagesOut: 0, bytesIn: 0, bytesOut: 0 },
    udp: { messagesIn: 0, messagesOut: 0, bytesIn: 0, bytesOut: 0, dropped: 0 },
    rttMs: undefined,
    compressedOut: 0,
    compressedIn: 0,
    pendingRequests: 0,
    queuedBytes: 0,
  };
  /** Negotiated feature names, once the handshake is done. */
  features: ReadonlySet<string> = NO_FEATURES;
  udp: UdpPath | undefined;

  private readonly decoder: FrameDecoder;
  private readonly encoder: FrameEncoder;
  private readonly requests: RequestTable;
  /** Set when the session opens; until then (handshake) there is no sequenced traffic. */
  private window = new DeliveryWindow(1, 1);
  /** The send window size (negotiated); a batch never holds more sequenced frames than this. */
  private sendWindow = 1;
  /** Sequence number of the next sequenced frame to encode. */
  private nextSequence = 0;
  /** Sequenced frames in the encoder's current batch. */
  private batchCount = 0;
  private readonly held: HeldBatch[] = [];
  private heldHead = 0;
  private heldBytes = 0;
  /** Control frames (ACK, PING, CLOSE, ...) never wait behind the window: they have their own encoder. */
  private readonly control: FrameEncoder;
  private readonly outAliases = new Map<string, number>();
  private lastType: string | undefined;
  private lastAlias = 0;
  private readonly unconfirmedAliases: Array<{ alias: number; sequence: number }> = [];
  /** confirmedAliases[alias] is true once the peer has acknowledged the alias's TYPE_DEF. */
  private readonly confirmedAliases: boolean[] = [];
  private nextAlias = 1;
  private readonly inAliases: Array<string | undefined> = [];
  private readonly aliasHandlers: Array<AliasHandler | null | undefined> = [];
  private handlersVersion = -1;
  private readonly prefix = Buffer.allocUnsafe(8 + 1 + 255);
  private readonly header = newMessageHeader();
  private flushScheduled = false;
  private readonly flushLater = () => this.flush();
  private readonly acknowledgeLater = () => {
    this.ackTimer = undefined;
    this.acknowledge();
  };
  private ackTimer: NodeJS.Timeout | undefined;
  private ackThreshold = 1;
  private ackOwed = false;
  /** Messages at least this large are sent compressed; 0 when off or not negotiated. */
  private compressFrom = 0;
  private needDrain = false;
  private pendingHandlers = 0;
  private pausedForHandlers = false;
  private heartbeat: NodeJS.Timeout | undefined;
  /** When the heartbeat last saw that frames had come (see startHeartbeat). */
  private lastReceivedAt = 0;
  /** Set by every socket chunk, cleared by the heartbeat. */
  private receivedSinceBeat = false;
  private pingSequence = 0;
  private closeTimer: NodeJS.Timeout | undefined;
  private closeError: Error | undefined;
  /** close() or fail() was called here, rather than the peer asking to close. */
  private closingLocally = false;
  private peerEnded = false;
  /** Client side: the server has not yet confirmed (with an ACK) that it opened the session. */
  awaitingReady = false;

  constructor(
    readonly socket: Socket,
    private readonly router: Router,
    readonly context: unknown,
    private readonly limits: ConnectionLimits,
  ) {
    super();
    this.decoder = new FrameDecoder({ maxFrameSize: limits.maxFrameSize });
    this.encoder = new FrameEncoder({ maxFrameSize: limits.maxFrameSize });
    this.control = new FrameEncoder({ slabSize: 4096, copyThreshold: 1024 });
    this.requests = new RequestTable(limits.maxPendingRequests);
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('drain', () => this.maybeDrain());
    socket.on('error', (error) => this.finish(error));
    socket.on('close', () => this.finish(undefined));
    socket.on('end', () => this.onEnd());
  }

  /** Sends a frame that is not sequenced (handshake, PING, ERROR, ...), flushed with the next batch. */
  sendControl(type: number, payload?: Uint8Array, sequence = 0): void {
    if (this.state === 'closed') return;
    this.control.add(type, payload, 0, 0, sequence);
    this.scheduleFlush();
  }

  /** Switches from the handshake to the open session with the negotiated window and features. */
  open(sendWindow: number, receiveWindow: number, features: Iterable<string>): void {
    this.window = new DeliveryWindow(sendWindow, receiveWindow);
    this.ackThreshold = Math.max(1, receiveWindow >>> 2);
    this.sendWindow = sendWindow;
    this.features = new Set(features);
    this.compressFrom = this.limits.compressThreshold > 0 && this.features.has('lz4') ? this.limits.compressThreshold : 0;
    this.state = 'open';
  }

  attachUdp(udp: UdpPath): void {
    this.udp = udp;
  }

  /** Queues a message; returns false once queued bytes pass the high-water mark ('drain' follows). */
  send(type: string, payload: Payload, options?: SendOptions): boolean {
    return this.sendMessage(type, MessageKind.MESSAGE, 0, payload, options);
  }

  /**
   * Resolves once the send queue is below its high-water mark (at once if it is), so that a
   * sender can wait instead of overrunning maxQueueBytes. Rejects if the connection closes.
   */
  waitForRoom(): Promise<void> {
    if (this.queuedBytes < this.limits.highWaterMark) return Promise.resolve();
    this.needDrain = true;
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

  request(type: string, payload: Payload, timeoutMs: number, signal: AbortSignal | undefined, options?: SendOptions): Promise<Payload> {
    this.assertOpen();
    const reply = this.requests.open(type, timeoutMs, signal);
    const id = this.requests.lastId;
    try {
      this.sendMessage(type, MessageKind.REQUEST, id, payload, options);
    } catch (error) {
      this.requests.reject(id, error as Error);
    }
    return reply;
  }

  get queuedBytes(): number {
    return this.socket.writableLength + this.encoder.pendingBytes + this.heldBytes;
  }

  get pendingRequests(): number {
    return this.requests.size;
  }

  supportsFeature(name: string): boolean {
    return this.features.has(name);
  }

  startHeartbeat(intervalMs: number, timeoutMs: number): void {
    // Chunks only raise a flag (a clock read costs about 50 ns, on every chunk of both sides). The
    // heartbeat takes the time when it finds the flag raised, which is no earlier than the data
    // came, so a peer is never declared dead before it has been silent for timeoutMs; it may be
    // declared so up to one interval later than if every chunk read the clock.
    this.lastReceivedAt = Date.now();
    this.receivedSinceBeat = false;
    this.heartbeat = setInterval(() => {
      const now = Date.now();
      if (this.receivedSinceBeat) {
        this.receivedSinceBeat = false;
        this.lastReceivedAt = now;
      } else if (now - this.lastReceivedAt > timeoutMs) {
        this.fail(new HybridwireError('HW_ERR_HEARTBEAT_TIMEOUT', `no frame from the peer for ${timeoutMs} ms`), false);
        return;
      }
      const payload = Buffer.allocUnsafe(8);
      payload.writeDoubleLE(performance.now(), 0);
      this.sendControl(FrameType.PING, payload, ++this.pingSequence);
    }, intervalMs);
    this.heartbeat.unref();
  }

  /**
   * Receives a MESSAGE (at datagram[start, end)) from a datagram authenticated as this session's.
   * `via` says how it came, so that the reply to a request goes back the same way.
   */
  receiveDatagramMessage(datagram: Buffer, start: number, end: number, via: SendOptions): void {
    this.stats.udp.messagesIn++;
    this.stats.udp.bytesIn += end - start;
    try {
      this.receiveMessage(datagram, start, end, 'udp', via);
    } catch {
      this.stats.udp.dropped++;
    }
  }

  /**
   * Closes gracefully: sends CLOSE, waits for the queue to drain and in-flight handlers to finish
   * (up to closeTimeoutMs), then ends the socket.
   */
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
  fail(error: HybridwireError, report = true): void {
    if (this.state === 'closed') return;
    this.closeError = error;
    if (report) {
      this.sendControl(FrameType.ERROR, encodeJson({ code: error.code, message: error.message }));
      this.flush();
    }
    this.state = 'closing';
    this.closingLocally = true;
    this.socket.end();
    this.armCloseTimer();
  }

  destroy(error?: Error): void {
    if (error) this.closeError ??= error;
    this.socket.destroy();
  }

  // ---- sending ----

  private sendMessage(type: string, kind: number, requestId: number, payload: Payload, options: SendOptions | undefined): boolean {
    this.assertOpen();
    const encoding = encodingOf(payload);
    const body = bodyOf(payload, encoding);
    if (options?.transport === 'udp') return this.sendUdp(type, kind, requestId, encoding, body, options);
    const size = HEADER_SIZE + 8 + body.length;
    const queued = this.queuedBytes;
    if (queued + size > this.limits.maxQueueBytes) {
      throw new HybridwireError('HW_ERR_SEND_QUEUE_FULL', `send queue holds ${queued} bytes; maxQueueBytes is ${this.limits.maxQueueBytes}`);
    }
    const alias = kind === MessageKind.RESPONSE || kind === MessageKind.ERROR ? NO_ALIAS : this.aliasFor(type);
    this.encodeSequenced(FrameType.MESSAGE, alias, encoding, kind, requestId, body);
    this.stats.tcp.messagesOut++;
    if (queued + size < this.limits.highWaterMark) return true;
    return this.checkHighWater();
  }

  private sendUdp(type: string, kind: number, requestId: number, encoding: number, body: Uint8Array | string, options: SendOptions): boolean {
    const udp = this.udp;
    if (!udp) throw new HybridwireError('HW_ERR_UDP_UNAVAILABLE', 'this session has no UDP path');
    let alias = kind === MessageKind.RESPONSE || kind === MessageKind.ERROR ? NO_ALIAS : this.aliasFor(type);
    // A UDP datagram may overtake the TCP frame that defines an alias: name the type inline
    // until the peer has acknowledged the definition.
    if (alias !== NO_ALIAS && this.confirmedAliases[alias] !== true) alias = INLINE_TYPE;
    const prefixLength = writeMessagePrefix(this.prefix, alias, encoding, kind, requestId, type);
    const accepted = udp.send(this.prefix, prefixLength, body, options.reliable === true, options.ordered !== false, options.channel ?? 0);
    this.stats.udp.messagesOut++;
    this.stats.udp.bytesOut += prefixLength + body.length;
    return accepted;
  }

  /** The UDP path has room again after a send() that returned false. */
  udpDrained(): void {
    this.emit('drain');
  }

  private aliasFor(type: string): number {
    // Most senders repeat one type: compare with the last before hashing.
    if (type === this.lastType) return this.lastAlias;
    const known = this.outAliases.get(type);
    if (known !== undefined) {
      this.lastType = type;
      this.lastAlias = known;
      return known;
    }
    if (this.nextAlias > MAX_ALIASES) return INLINE_TYPE;
    const alias = this.nextAlias++;
    this.outAliases.set(type, alias);
    const definition = encodeTypeDef(alias, type);
    this.encodeSequenced(FrameType.TYPE_DEF, alias, 0, 0, 0, definition);
    return alias;
  }

  /**
   * Encodes a sequenced frame at once, whatever the window: the window decides when its batch is
   * written, not when it is encoded, so a full window costs no per-message bookkeeping.
   */
  private encodeSequenced(frameType: number, alias: number, encoding: number, kind: number, requestId: number, body: Uint8Array | string): void {
    const encoder = this.encoder;
    if (frameType === FrameType.MESSAGE && this.sendWindow > 1 && body.length <= BATCH_ENTRY_MAX) {
      // Small messages share BATCH frames: one header, one checksum, one sequence number for many.
      if (typeof body !== 'string') {
        // The message prefix as words: alias, encoding and kind, then the request id if any.
        const word = alias | (encoding << 16) | (kind << 24);
        if (kind === MessageKind.MESSAGE) {
          if (encoder.batchOpen && encoder.batchWord(word, body)) return;
          this.openBatch();
          encoder.batchWord(word, body);
          return;
        }
        if (encoder.batchOpen && encoder.batchWords(word, requestId, body)) return;
        this.openBatch();
        encoder.batchWords(word, requestId, body);
        return;
      }
      const prefixLength = writeMessagePrefix(this.prefix, alias, encoding, kind, requestId, undefined);
      if (encoder.batchOpen && encoder.batchPrefixed(this.prefix, prefixLength, body)) return;
      this.openBatch();
      encoder.batchPrefixed(this.prefix, prefixLength, body);
      return;
    }
    if (encoder.batchOpen) encoder.endBatch();
    if (frameType === FrameType.MESSAGE && this.compressFrom > 0 && body.length >= this.compressFrom && this.compressMessage(alias, encoding, kind, requestId, body)) {
      return;
    }
    const sequence = this.startFrame();
    if (frameType === FrameType.TYPE_DEF) {
      encoder.add(FrameType.TYPE_DEF, body as Uint8Array, 0, 0, sequence);
      this.unconfirmedAliases.push({ alias, sequence });
    } else if (kind === MessageKind.MESSAGE && typeof body !== 'string') {
      encoder.addWithWord(FrameType.MESSAGE, alias | (encoding << 16), body, 0, 0, sequence);
    } else {
      const prefixLength = writeMessagePrefix(this.prefix, alias, encoding, kind, requestId, undefined);
      encoder.addPrefixed(FrameType.MESSAGE, this.prefix, prefixLength, body, 0, 0, sequence);
    }
  }

  /**
   * Sends a message LZ4-compressed (docs/PROTOCOL.md, "Compression") when that makes it smaller.
   * Returns false, having sent nothing, when it does not.
   */
  private compressMessage(alias: number, encoding: number, kind: number, requestId: number, body: Uint8Array | string): boolean {
    const prefixLength = writeMessagePrefix(this.prefix, alias, encoding, kind, requestId, undefined);
    const bytes = typeof body === 'string' ? Buffer.from(body, 'utf8') : body;
    const plain = Buffer.allocUnsafe(prefixLength + bytes.length);
    this.prefix.copy(plain, 0, 0, prefixLength);
    plain.set(bytes, prefixLength);
    const compressed = lz4Compress(plain);
    if (compressed.length + 4 >= plain.length) return false;
    const lengthPrefix = Buffer.allocUnsafe(4);
    lengthPrefix.writeUInt32LE(plain.length, 0);
    this.encoder.addPrefixed(FrameType.MESSAGE, lengthPrefix, 4, compressed, FrameFlag.COMPRESSED, 0, this.startFrame());
    this.stats.compressedOut++;
    return true;
  }

  /** Closes the open batch (if any) and opens a new BATCH frame, which takes a sequence number. */
  private openBatch(): void {
    const encoder = this.encoder;
    if (encoder.batchOpen) encoder.endBatch();
    encoder.beginBatch(FrameType.MESSAGE, FrameFlag.BATCH, 0, this.startFrame(), BATCH_BYTES);
  }

  /** Takes the next sequence number for a frame about to be encoded. */
  private startFrame(): number {
    // A flush never holds more frames than the window (or it could never be released), and the
    // encoder stays small.
    if (this.batchCount >= this.sendWindow || this.encoder.pendingBytes >= FLUSH_BYTES) this.flush();
    this.batchCount++;
    this.scheduleFlush();
    const sequence = this.nextSequence;
    this.nextSequence = (sequence + 1) >>> 0;
    return sequence;
  }

  private scheduleFlush(): void {
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    // A reaction on a settled promise is the cheapest microtask: queueMicrotask() allocates an
    // AsyncResource and a bound function per call (150 ns against 45).
    SETTLED.then(this.flushLater);
  }

  /**
   * Writes control frames, then the batch of sequenced frames if the window has room for all of
   * it (one native call seals a batch, one write or writev sends it); otherwise the batch is held.
   */
  flush(): void {
    this.flushScheduled = false;
    if (this.socket.destroyed) return;
    const count = this.batchCount;
    // Outgoing data carries any acknowledgement that is due, for free.
    if (count > 0 && this.window.unacknowledged > 0) this.ackOwed = true;
    const releasable = count > 0 && this.heldHead === this.held.length && count <= this.window.available;
    if (this.ackOwed && !this.isClosed()) {
      // An owed acknowledgement rides inside data that goes out now; else it goes on its own.
      if (releasable) {
        this.encoder.endBatch();
        this.encodeAck(this.encoder);
      } else {
        this.encodeAck(this.control);
      }
    }
    const control = this.control.pendingBytes > 0 ? this.control.flush() : undefined;
    if (count === 0) {
      if (control) this.write(control);
      return;
    }
    this.batchCount = 0;
    const buffers = this.encoder.flush();
    if (releasable) {
      this.window.reserve(count);
      if (control) buffers.unshift(...control);
      this.write(buffers);
      return;
    }
    if (control) this.write(control);
    let bytes = 0;
    for (const buffer of buffers) bytes += buffer.length;
    this.held.push({ buffers, count, bytes });
    this.heldBytes += bytes;
  }

  private write(buffers: Buffer[]): void {
    const socket = this.socket;
    let bytes = 0;
    if (buffers.length > 1 && buffers.length <= 4) {
      for (const buffer of buffers) bytes += buffer.length;
      if (bytes <= JOIN_BYTES) {
        socket.write(Buffer.concat(buffers, bytes));
        this.stats.tcp.bytesOut += bytes;
        return;
      }
      bytes = 0;
    }
    if (buffers.length === 1) {
      bytes = buffers[0]!.length;
      socket.write(buffers[0]!);
    } else {
      socket.cork();
      for (const buffer of buffers) {
        bytes += buffer.length;
        socket.write(buffer);
      }
      socket.uncork();
    }
    this.stats.tcp.bytesOut += bytes;
  }

  private checkHighWater(): boolean {
    if (this.queuedBytes < this.limits.highWaterMark) return true;
    this.needDrain = true;
    return false;
  }

  private maybeDrain(): void {
    if (this.needDrain && this.queuedBytes < this.limits.highWaterMark) {
      this.needDrain = false;
      this.emit('drain');
    }
    if (this.state === 'closing') this.endWhenIdle();
  }

  /** Writes held batches, oldest first, while the window has room for each whole batch. */
  private releaseHeld(): void {
    while (this.heldHead < this.held.length) {
      const batch = this.held[this.heldHead]!;
      if (batch.count > this.window.available) break;
      this.held[this.heldHead++] = undefined as unknown as HeldBatch;
      this.heldBytes -= batch.bytes;
      this.window.reserve(batch.count);
      this.write(batch.buffers);
    }
    if (this.heldHead === this.held.length && this.heldHead > 0) {
      this.held.length = 0;
      this.heldHead = 0;
    }
    this.maybeDrain();
  }

  // ---- receiving ----

  private onData(chunk: Buffer): void {
    if (this.state === 'closed') return;
    this.receivedSinceBeat = true;
    this.stats.tcp.bytesIn += chunk.length;
    let count: number;
    try {
      count = this.decoder.push(chunk);
    } catch (error) {
      this.fail(error as HybridwireError);
      return;
    }
    try {
      this.handleFrames(0, count);
    } catch (error) {
      if (error instanceof HybridwireError) this.fail(error);
      else this.fail(new HybridwireError('HW_ERR_HANDLER_FAILED', (error as Error).message));
    }
  }

  private handleFrames(start: number, count: number): void {
    const decoder = this.decoder;
    let i = start;
    for (; i < count && this.state === 'handshake'; i++) {
      const type = decoder.type(i);
      if (type === FrameType.HELLO || type === FrameType.HELLO_ACK || type === FrameType.HELLO_DONE || type === FrameType.ERROR || type === FrameType.CLOSE) {
        if (type === FrameType.ERROR || type === FrameType.CLOSE) this.handleFrame(i);
        else this.emit('handshake', type, decoder.payload(i));
      } else if (type < 0x80) {
        throw new HybridwireError('HW_ERR_HANDSHAKE_ORDER', `frame type 0x${type.toString(16)} arrived before the handshake completed`);
      }
    }
    if (i >= count || this.state === 'handshake' || this.state === 'closed') return;
    const window = this.window;
    const accepted = window.accept(decoder.rowTable, i, count);
    if (accepted !== count) {
      throw new HybridwireError('HW_ERR_SEQUENCE', `frame ${decoder.sequence(accepted)} arrived out of sequence (expected ${window.nextExpected})`);
    }
    if (window.unacknowledged > window.receiveWindow) {
      throw new HybridwireError('HW_ERR_WINDOW_OVERFLOW', `peer sent ${window.unacknowledged} unacknowledged messages; the window is ${window.receiveWindow}`);
    }
    for (; i < count && !this.isClosed(); i++) this.handleFrame(i);
    const unacknowledged = window.unacknowledged;
    if (unacknowledged === 0 || this.isClosed()) return;
    // Acknowledge at once when a quarter of the window is used (so the sender never stalls),
    // otherwise within ACK_DELAY_MS: one small write per millisecond instead of one per chunk.
    if (unacknowledged >= this.ackThreshold || this.batchCount > 0) this.acknowledge();
    else if (this.ackTimer === undefined) {
      this.ackTimer = setTimeout(this.acknowledgeLater, ACK_DELAY_MS);
    }
  }

  /** Owes the peer an ACK, written with the next flush (inside the data it carries, if any). */
  private acknowledge(): void {
    // The delay timer is left to run out rather than cleared: re-arming it for every message
    // costs more than a wake-up with nothing to do.
    if (this.window.unacknowledged === 0 || this.isClosed()) return;
    this.ackOwed = true;
    this.scheduleFlush();
  }

  /** Encodes the owed ACK into `encoder`; the window then counts those messages as acknowledged. */
  private encodeAck(encoder: FrameEncoder): void {
    this.ackOwed = false;
    encoder.add(FrameType.ACK, undefined, 0, 0, this.window.nextExpected);
    this.window.acked();
  }

  private handleFrame(i: number): void {
    const decoder = this.decoder;
    switch (decoder.type(i)) {
      case FrameType.MESSAGE: {
        // Socket chunks, and the buffers split frames are joined in, are Buffers.
        const source = decoder.payloadSource(i) as Buffer;
        const start = decoder.payloadOffset(i);
        const end = start + decoder.payloadLength(i);
        const flags = decoder.flags(i);
        if ((flags & FrameFlag.BATCH) !== 0) this.receiveBatch(source, start, end);
        else if ((flags & FrameFlag.COMPRESSED) !== 0) {
          this.stats.tcp.messagesIn++;
          const plain = this.decompress(source, start, end);
          this.receiveMessage(plain, 0, plain.length, 'tcp');
        } else {
          this.stats.tcp.messagesIn++;
          this.receiveMessage(source, start, end, 'tcp');
        }
        return;
      }
      case FrameType.TYPE_DEF: {
        const { alias, name } = decodeTypeDef(decoder.payload(i));
        if (this.inAliases[alias] !== undefined) throw new HybridwireError('HW_ERR_BAD_MESSAGE', `alias ${alias} is defined twice`);
        this.inAliases[alias] = name;
        return;
      }
      case FrameType.ACK:
        this.onAck(decoder.sequence(i));
        return;
      case FrameType.PING:
        this.sendControl(FrameType.PONG, Buffer.from(decoder.payload(i)), decoder.sequence(i));
        return;
      case FrameType.PONG:
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
        if (type < 0x80) throw new HybridwireError('HW_ERR_UNKNOWN_FRAME_TYPE', `unknown frame type 0x${type.toString(16)}`);
      }
    }
  }

  /** A COMPRESSED payload: the u32 size of the message, then the message as one LZ4 block. */
  private decompress(source: Buffer, start: number, end: number): Buffer {
    if (!this.features.has('lz4')) throw new HybridwireError('HW_ERR_BAD_MESSAGE', 'compressed frame on a session that did not negotiate lz4');
    if (end - start < 4) throw new HybridwireError('HW_ERR_BAD_MESSAGE', 'compressed frame shorter than its size prefix');
    const size = source.readUInt32LE(start);
    // The stated size is only a claim: it is checked against the frame limit before anything is
    // allocated, and the decoder never writes past it.
    if (size > this.limits.maxFrameSize) {
      throw new HybridwireError('HW_ERR_FRAME_TOO_LARGE', `compressed message claims ${size} bytes; maxFrameSize is ${this.limits.maxFrameSize}`);
    }
    const plain = lz4Decompress(source.subarray(start + 4, end), size);
    if (plain.length !== size) throw new HybridwireError('HW_ERR_LZ4_CORRUPT', `compressed message is ${plain.length} bytes, not the ${size} it claims`);
    this.stats.compressedIn++;
    return plain;
  }

  /** A BATCH frame's payload: entries of a u32 length and a message, back to back. */
  private receiveBatch(source: Buffer, start: number, end: number): void {
    let at = start;
    let entries = 0;
    // Read once per frame, not per entry: `buffer` is an accessor that optimized code still calls.
    const memory = source.buffer;
    const base = source.byteOffset;
    try {
      while (at < end && this.state !== 'closed') {
        if (end - at < 4) throw new HybridwireError('HW_ERR_BAD_MESSAGE', 'batch entry length truncated');
        // Byte loads: cheaper here than Buffer#readUInt32LE and its checks, which the bound below makes redundant.
        const length = (source[at]! | (source[at + 1]! << 8) | (source[at + 2]! << 16) | (source[at + 3]! << 24)) >>> 0;
        if (length > end - at - 4) throw new HybridwireError('HW_ERR_BAD_MESSAGE', `batch entry of ${length} bytes overruns its frame`);
        entries++;
        this.receiveMessage(source, at + 4, at + 4 + length, 'tcp', undefined, memory, base);
        at += 4 + length;
      }
    } finally {
      this.stats.tcp.messagesIn += entries;
    }
  }

  /** `memory` and `base` are source's buffer and byteOffset, when the caller has them already. */
  private receiveMessage(
    source: Buffer,
    start: number,
    end: number,
    transport: Transport,
    via?: SendOptions,
    memory: ArrayBufferLike = source.buffer,
    base: number = source.byteOffset,
  ): void {
    // Fast paths for the shapes of nearly all traffic, binary bodies: a message or request of a
    // known alias to a handler that takes no info, and a response. They read the prefix with byte
    // loads and skip the general parse; anything else (JSON, inline names, errors) takes it.
    if (end - start >= 8 && source[start + 2] === Encoding.BINARY) {
      const kind = source[start + 3];
      const alias = source[start]! | (source[start + 1]! << 8);
      if (kind === MessageKind.RESPONSE && alias !== INLINE_TYPE) {
        this.requests.resolve(readWord(source, start + 4), new Uint8Array(memory, base + start + 8, end - start - 8));
        return;
      }
      if (kind === MessageKind.REQUEST) {
        const entry = alias === INLINE_TYPE || this.handlersVersion !== this.router.version ? undefined : this.aliasHandlers[alias];
        if (entry != null && !entry.wantsInfo) {
          this.answerRequest(entry, readWord(source, start + 4), new Uint8Array(memory, base + start + 8, end - start - 8), via);
          return;
        }
      }
    }
    if (end - start >= 4 && source[start + 3] === MessageKind.MESSAGE && source[start + 2] === Encoding.BINARY) {
      const alias = source[start]! | (source[start + 1]! << 8);
      const entry = alias === INLINE_TYPE || this.handlersVersion !== this.router.version ? undefined : this.aliasHandlers[alias];
      if (entry != null && !entry.wantsInfo) {
        let result: unknown;
        try {
          result = entry.handler(new Uint8Array(memory, base + start + 4, end - start - 4), this.context, undefined as never);
        } catch (error) {
          this.handlerFailed(undefined, entry.type, error);
          return;
        }
        if (result !== undefined && result !== null && typeof (result as Promise<unknown>).then === 'function') {
          this.awaitHandler(result as Promise<unknown>, undefined, entry.type);
        }
        return;
      }
    }
    this.receiveGeneral(source, start, end, transport, via);
  }

  /** Runs a request's handler (one that takes no info) and replies with what it returns or resolves to. */
  private answerRequest(entry: AliasHandler, requestId: number, value: Payload, via: SendOptions | undefined): void {
    let result: unknown;
    try {
      result = entry.handler(value, this.context, undefined as never);
    } catch (error) {
      this.handlerFailed(requestId, entry.type, error, via);
      return;
    }
    if (isPending(result)) this.awaitHandler(result, requestId, entry.type, via);
    else this.reply(requestId, result as Payload, via);
  }

  private receiveGeneral(source: Buffer, start: number, end: number, transport: Transport, via: SendOptions | undefined): void {
    const header = readMessageHeader(source, start, end, this.header);
    const kind = header.kind;
    if (kind === MessageKind.RESPONSE) {
      this.requests.resolve(header.requestId, decodeBody(source, end, header));
      return;
    }
    if (kind === MessageKind.ERROR) {
      const body = decodeBody(source, end, header) as { code?: unknown; message?: unknown } | undefined;
      const code = typeof body?.code === 'string' ? body.code : 'HW_ERR_REMOTE';
      const message = typeof body?.message === 'string' ? body.message : 'the peer reported an error';
      this.requests.reject(header.requestId, new RemoteError(code, message));
      return;
    }
    const alias = header.alias;
    const type = alias === INLINE_TYPE ? header.inlineName! : this.inAliases[alias];
    if (type === undefined) throw new HybridwireError('HW_ERR_UNKNOWN_ALIAS', `message uses alias ${alias}, which was never defined`);
    const requestId = kind === MessageKind.REQUEST ? header.requestId : undefined;
    const value = decodeBody(source, end, header);
    const entry = alias === INLINE_TYPE ? undefined : this.handlerForAlias(alias, type);
    const handler = alias === INLINE_TYPE ? this.router.handlerFor(type) : entry?.handler;
    if (handler === undefined) {
      if (requestId !== undefined) {
        this.replyError(requestId, new HybridwireError('HW_ERR_NO_HANDLER', `no handler for message type '${type}'`), via);
      } else {
        this.emit('message', type, value, { type, transport, requestId });
      }
      return;
    }
    let result: unknown;
    try {
      // A function's length is a slow property read: use the cached answer when there is one.
      const wantsInfo = entry !== undefined ? entry.wantsInfo : handler.length > 2;
      result = wantsInfo ? handler(value, this.context, { type, transport, requestId }) : handler(value, this.context, undefined as never);
    } catch (error) {
      this.handlerFailed(requestId, type, error, via);
      return;
    }
    if (isPending(result)) {
      this.awaitHandler(result, requestId, type, via);
    } else if (requestId !== undefined) {
      this.reply(requestId, result as Payload, via);
    }
  }

  /** Handlers cached per incoming alias, dropped whenever the router's handlers change. */
  private handlerForAlias(alias: number, type: string): AliasHandler | undefined {
    if (this.handlersVersion !== this.router.version) {
      this.handlersVersion = this.router.version;
      this.aliasHandlers.length = 0;
    }
    let entry = this.aliasHandlers[alias];
    if (entry === undefined) {
      const handler = this.router.handlerFor(type);
      entry = handler === undefined ? null : { handler, type, wantsInfo: handler.length > 2 };
      this.aliasHandlers[alias] = entry;
    }
    return entry ?? undefined;
  }

  private awaitHandler(result: Promise<unknown>, requestId: number | undefined, type: string, via?: SendOptions): void {
    this.pendingHandlers++;
    if (this.pendingHandlers >= this.limits.maxPendingHandlers && !this.pausedForHandlers) {
      this.pausedForHandlers = true;
      this.socket.pause();
    }
    result.then(
      (value) => {
        if (requestId !== undefined) this.reply(requestId, value as Payload, via);
      },
      (error: unknown) => this.handlerFailed(requestId, type, error, via),
    ).finally(() => {
      this.pendingHandlers--;
      if (this.pausedForHandlers && this.pendingHandlers <= this.limits.maxPendingHandlers / 2) {
        this.pausedForHandlers = false;
        this.socket.resume();
      }
      if (this.state === 'closing') this.endWhenIdle();
    });
  }

  private handlerFailed(requestId: number | undefined, type: string, error: unknown, via?: SendOptions): void {
    const failure = error instanceof Error ? error : new Error(String(error));
    if (requestId !== undefined) {
      this.replyError(requestId, failure, via);
      return;
    }
    const wrapped = new HybridwireError('HW_ERR_HANDLER_FAILED', `handler for '${type}' failed: ${failure.message}`, { cause: failure });
    if (this.listenerCount('error') > 0) this.emit('error', wrapped);
  }

  private reply(requestId: number, value: Payload, via: SendOptions | undefined): void {
    if (this.state !== 'open' && this.state !== 'closing') return;
    this.sendReply(MessageKind.RESPONSE, requestId, value, via);
  }

  private replyError(requestId: number, error: Error, via: SendOptions | undefined): void {
    if (this.state !== 'open' && this.state !== 'closing') return;
    const code = (error as { code?: unknown }).code;
    const wireCode = typeof code === 'string' ? code : 'HW_ERR_HANDLER_FAILED';
    this.sendReply(MessageKind.ERROR, requestId, { code: wireCode, message: error.message }, via);
  }

  /** A reply travels the way its request came: over TCP, or over UDP with the same delivery. */
  private sendReply(kind: number, requestId: number, value: Payload, via: SendOptions | undefined): void {
    const encoding = encodingOf(value);
    const body = bodyOf(value, encoding);
    if (via !== undefined && this.udp !== undefined) {
      try {
        this.sendUdp('', kind, requestId, encoding, body, via);
      } catch {
        // A reply that cannot go out over UDP is lost, as the datagram itself could have been.
        this.stats.udp.dropped++;
      }
      return;
    }
    this.encodeSequenced(FrameType.MESSAGE, NO_ALIAS, encoding, kind, requestId, body);
    this.stats.tcp.messagesOut++;
  }

  private onAck(nextExpected: number): void {
    if (this.awaitingReady) {
      this.awaitingReady = false;
      this.emit('ready');
    }
    const newly = this.window.acknowledge(nextExpected);
    if (newly < 0) throw new HybridwireError('HW_ERR_BAD_ACK', `ACK for ${nextExpected} covers messages never sent`);
    while (this.unconfirmedAliases.length > 0) {
      const { alias, sequence } = this.unconfirmedAliases[0]!;
      // Acknowledged when the ack has moved past it, modulo 2^32 within the window.
      if (((nextExpected - sequence - 1) >>> 0) >= 0x80000000) break;
      this.confirmedAliases[alias] = true;
      this.unconfirmedAliases.shift();
    }
    this.releaseHeld();
    if (this.state === 'closing') this.endWhenIdle();
  }

  private onPong(payload: Uint8Array): void {
    if (payload.length !== 8) return;
    const sent = Buffer.from(payload.buffer, payload.byteOffset, 8).readDoubleLE(0);
    const sample = performance.now() - sent;
    if (!(sample >= 0)) return;
    this.stats.rttMs = this.stats.rttMs === undefined ? sample : this.stats.rttMs * 0.875 + sample * 0.125;
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
    let code = 'HW_ERR_REMOTE';
    let message = 'the peer closed the connection with an error';
    try {
      const body = JSON.parse(Buffer.from(payload).toString('utf8')) as { code?: unknown; message?: unknown };
      if (typeof body.code === 'string') code = body.code;
      if (typeof body.message === 'string') message = `peer reported: ${body.message}`;
    } catch {
      // An unreadable ERROR payload still ends the connection; the generic message stands.
    }
    this.closeError = new RemoteError(code, message);
    this.state = 'closing';
    this.closingLocally = true;
    this.socket.end();
    this.armCloseTimer();
  }

  private onEnd(): void {
    // The peer finished writing (sockets are half-open capable); finish ours once our queue is out.
    this.peerEnded = true;
    if (this.state === 'open' || this.state === 'handshake') this.state = 'closing';
    this.armCloseTimer();
    this.endWhenIdle();
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
    const inFlight = !this.peerEnded && (this.window.inFlight > 0 || this.batchCount > 0 || this.heldHead < this.held.length);
    if (this.pendingHandlers > 0 || inFlight) return;
    this.flush();
    if (!this.socket.writableEnded) this.socket.end();
  }

  private finish(error: Error | undefined): void {
    if (this.state === 'closed') return;
    this.state = 'closed';
    if (this.heartbeat) clearInterval(this.heartbeat);
    if (this.ackTimer) clearTimeout(this.ackTimer);
    if (this.closeTimer) clearTimeout(this.closeTimer);
    const reason = this.closeError ?? error;
    this.requests.rejectAll(
      new HybridwireError('HW_ERR_CONNECTION_CLOSED', `connection closed before a reply came${reason ? `: ${reason.message}` : ''}`, { cause: reason }),
    );
    this.udp?.close();
    this.socket.destroy();
    this.emit('close', reason);
  }

  private isClosed(): boolean {
    return this.state === 'closed';
  }

  private assertOpen(): void {
    // While the peer closes, we may still answer it until our own side ends.
    if (this.state === 'closing' && !this.closingLocally && !this.socket.writableEnded) return;
    if (this.state !== 'open') {
      throw new HybridwireError('HW_ERR_NOT_CONNECTED', `cannot send: the connection is ${this.state}`);
    }
  }
}
