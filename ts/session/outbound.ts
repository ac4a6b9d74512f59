/**
 * The send path of one session: outgoing type aliases, BATCH frames for small messages,
 * compression (../compression/), the flush that seals and writes what is encoded, and the batches held while the
 * delivery window has no room for them. UDP sends go through here too, for they share the aliases.
 *
 * Hot path, per message: no N-API call (headers go into the encoder's slab, checksums are sealed
 * per flush), no Promise, no closure, and the type name is looked up once, then sent as an alias.
 * Every byte for the peer (replies and control frames too) counts in queuedBytes, which the
 * SendWatch bounds per write and per flush (./send-watch.ts). When flushes happen is
 * ./flush-queue.ts, how their buffers reach the socket ./socket-writes.ts.
 */
import type { Socket } from 'node:net';
import type { SessionCompression } from '../compression/session-compression.js';
import { FrameEncoder } from '../codec/frame-encoder.js';
import { FrameFlag, FrameType, HEADER_SIZE } from '../codec/frame.js';
import { HybridwireError } from '../errors.js';
import { DeliveryWindow } from './delivery-window.js';
import {
  INLINE_TYPE,
  MAX_ALIASES,
  MessageKind,
  bodyOf,
  checkTypeName,
  encodeTypeDef,
  encodingOf,
  writeMessagePrefix,
  type Payload,
} from './message.js';
import type { SessionCounters } from './session-stats.js';
import { SendWatch, checkQueueBound, watchCongestion, type SendWatchHost } from './send-watch.js';
import { flushAtEndOfTurn } from './flush-queue.js';
import { acknowledgeLater, cancelDelayedAck } from './delayed-acks.js';
import { sendDatagram } from './udp-send.js';
import { GATHERED, writeBuffers, writeGathered, writeSizesFor, type WriteSizes } from './socket-writes.js';
import type { HeldBatch, SendLimits, SendOptions, UdpPath } from './send-options.js';
import { SendQueue, type QueueingSendPath } from '../qos/send-queue.js';
import { NORMAL, checkedPriority } from '../qos/priority-scheduler.js';
import { newQosTotals, type QosTotals } from '../qos/qos-settings.js';

/** A socket awaiting 'drain' with less than this is a fast reader's normal state (see `blocked`). */
const FLUSH_BYTES = 64 * 1024;
/** Largest message body that goes into a BATCH frame (how large a BATCH frame and a flush grow: ./socket-writes.ts). */
const BATCH_ENTRY_MAX = 1024;
const NO_ALIAS = 0;
/** The data encoder of a session that has sent no sequenced frame yet (many never do): never written to. */
const NO_ENCODER = new FrameEncoder();
/** What lastType holds before the first send: equal to no argument, whatever its type. */
const NO_TYPE = Symbol('no type');
/** What `held` is until a batch is first held: never added to. */
const NO_HELD: HeldBatch[] = [];
/**
 * Where a message prefix is written just before the encoder or the UDP path copies it: one for
 * every session, since one per session (and the share of Node's buffer pool it pinned) was most
 * of an idle session's send path (bench/RESULTS.md, "Idle sessions"). Nothing may run between its
 * writing and its copying.
 */
const PREFIX = Buffer.allocUnsafeSlow(8 + 1 + 255);

export class Outbound implements QueueingSendPath {
  udpPath: UdpPath | undefined;
  /** Sequenced frames in the encoder's current batch. */
  batchCount = 0;
  /** A send found the queue past the high-water mark: the session owes its sender a 'drain'. */
  needDrain = false;
  /** Watches the socket once it has been congested (see SendWatch), when the session gives a host to tell. */
  watch: SendWatch | undefined;

  private encoder = NO_ENCODER;
  /** The watch stops reading the peer while the socket is congested past highWaterMark (servers). */
  private pauseReadingWhenCongested = false;
  /** Control frames (ACK, PING, CLOSE, ...) never wait behind the window: they have their own encoder. */
  private readonly control: FrameEncoder;
  /** Set when the session opens; until then (handshake) there is no sequenced traffic. */
  private window = new DeliveryWindow(1, 1);
  /** The send window size (negotiated); a batch never holds more sequenced frames than this. */
  private sendWindow = 1;
  /** Sequence number of the next sequenced frame to encode. */
  private nextSequence = 0;
  private held: HeldBatch[] = NO_HELD;
  private heldHead = 0;
  private heldBytes = 0;
  /** The aliases, and what follows, are made on first use: many sessions never send a message. */
  private aliases: Map<string, number> | undefined;
  private lastType: string | symbol = NO_TYPE;
  private lastAlias = 0;
  private unconfirmedAliases: Array<{ alias: number; sequence: number }> | undefined;
  /** confirmedAliases[alias] is true once the peer has acknowledged the alias's TYPE_DEF. */
  private confirmedAliases: boolean[] | undefined;
  private nextAlias = 1;
  /** @internal Queued for a flush at the end of this turn (./flush-queue.ts). */
  flushScheduled = false;
  private ackOwed = false;
  /** An ACK is owed within ACK_DELAY_MS (./delayed-acks.ts), unless data sent in this turn carries it. */
  private ackSoon = false;
  /** @internal Waiting in ./delayed-acks.ts for its delay to pass. */
  ackPending = false;
  /** Messages at least this large are sent compressed (TCP; reliable UDP); 0 when off or not negotiated. */
  private compressFrom = 0;
  private udpCompressFrom = 0;
  private compression: SessionCompression | undefined;
  /** Messages waiting for room, by priority (ts/qos/send-queue.ts): made by the first send with a priority other than normal, or with a client's rateLimit. */
  private queue: SendQueue | undefined;
  /** A write found the socket's buffer full and no 'drain' has come since (a field: cheaper than socket.writableNeedDrain). */
  private socketFull = false;
  private readonly qosTotals: QosTotals;
  /** How large a BATCH frame grows, and when a burst flushes, on this socket (TLS or not). */
  private readonly sizes: WriteSizes;

  constructor(
    private readonly socket: Socket,
    private readonly limits: SendLimits,
    private readonly counters: SessionCounters,
    /** Told when the queue passes its bounds; without one (tests of the encoding), nothing bounds it. */
    private readonly watchHost?: SendWatchHost,
  ) {
    this.control = new FrameEncoder({ slabSize: 4096, copyThreshold: 1024, sharedSlab: true });
    this.qosTotals = limits.qos?.totals ?? newQosTotals();
    this.sizes = writeSizesFor(socket);
    if (limits.qos?.sendLimit !== undefined) this.queue = new SendQueue(this, limits, this.qosTotals);
  }

  /** Stop reading the peer while the socket is congested past highWaterMark (see SendWatch). */
  stopReadingWhenCongested(): void {
    this.pauseReadingWhenCongested = true;
    if (this.watch !== undefined) this.watch.pauseReading = true;
  }

  /** Starts sequenced traffic: the session's window, its compression if any, and whether reliable UDP may use it. */
  open(window: DeliveryWindow, compression: SessionCompression | undefined, udpCompression = false): void {
    this.window = window;
    this.sendWindow = window.sendWindow;
    this.compression = compression;
    this.compressFrom = compression?.threshold ?? 0;
    this.udpCompressFrom = udpCompression ? this.compressFrom : 0;
  }

  /** Bytes encoded (control frames included), held behind the window, or in the socket's buffer. */
  get queuedBytes(): number {
    return this.socket.writableLength + this.encoder.pendingBytes + this.control.pendingBytes + this.heldBytes + (this.queue?.bytes ?? 0);
  }

  /** @internal Sends must wait: batches wait for the window, or the socket awaits 'drain' holding FLUSH_BYTES or more (less is a fast reader's normal state). */
  get blocked(): boolean {
    return (this.socketFull && this.socket.writableLength >= FLUSH_BYTES) || this.heldHead < this.held.length;
  }

  /** Whether sequenced frames wait to be encoded into a write or for room in the window. */
  get hasUnsent(): boolean {
    return this.batchCount > 0 || this.heldHead < this.held.length || (this.queue !== undefined && this.queue.length > 0);
  }

  /** Queues a frame that is not sequenced (handshake, PING, ERROR, ...), written with the next flush. */
  sendControl(type: number, payload: Uint8Array | undefined, sequence: number): void {
    this.control.add(type, payload, 0, 0, sequence);
    this.scheduleFlush();
  }

  /**
   * Queues a message (or a request, with its id); returns false once queued bytes pass the
   * high-water mark. Throws, having sent nothing, for a bad type name or a full queue.
   */
  send(type: string, kind: number, requestId: number, payload: Payload, options: SendOptions | undefined): boolean {
    const encoding = encodingOf(payload);
    return this.sendBody(type, kind, requestId, encoding, bodyOf(payload, encoding), options);
  }

  /** send() of a payload already encoded (see encodingOf and bodyOf), e.g. once for many sessions. */
  sendBody(type: string, kind: number, requestId: number, encoding: number, body: Uint8Array | string, options: SendOptions | undefined): boolean {
    if (options?.transport === 'udp') return this.sendUdp(type, kind, requestId, encoding, body, options);
    const priority = options === undefined ? NORMAL : checkedPriority(options.priority);
    const size = HEADER_SIZE + 8 + body.length;
    const queued = this.queuedBytes;
    if (queued + size > this.limits.maxQueueBytes) {
      throw new HybridwireError('HW_ERR_SEND_QUEUE_FULL', `send queue holds ${queued} bytes; maxQueueBytes is ${this.limits.maxQueueBytes}`);
    }
    const alias = this.aliasFor(type);
    // Until a send asks for a priority other than normal (or a rateLimit shapes the client's
    // sends), there is no queue: every message is encoded at once, in the order sent, which is
    // the order the queue would give them. So a session that uses neither pays for neither.
    const queue = this.queue ?? (priority === NORMAL ? undefined : (this.queue = new SendQueue(this, this.limits, this.qosTotals)));
    if (queue !== undefined && queue.mustWait(size)) {
      // It waits (ts/qos/send-queue.ts); a congested socket is watched as a write to it would be.
      queue.enqueue(priority, alias, encoding, kind, requestId, body, size);
      if (this.socketFull) this.congested();
    } else {
      this.encodeSequenced(FrameType.MESSAGE, alias, encoding, kind, requestId, body);
      this.counters.tcp.messagesOut++;
      this.qosTotals.sent[priority]!++;
    }
    if (queued + size < this.limits.highWaterMark) return true;
    return this.checkHighWater();
  }

  /**
   * Queues the answer to a request: it travels the way the request came, over TCP or over UDP with
   * the same delivery (`via`). A UDP reply that cannot go out is lost as a datagram could be, and
   * counted; any other failure is thrown.
   */
  sendReply(kind: number, requestId: number, value: Payload, via: SendOptions | undefined): void {
    const encoding = encodingOf(value);
    const body = bodyOf(value, encoding);
    if (via !== undefined && this.udpPath !== undefined) {
      try {
        this.sendUdp('', kind, requestId, encoding, body, via);
      } catch (error) {
        if (!(error instanceof HybridwireError)) throw error;
        this.counters.udp.dropped++;
      }
      return;
    }
    // Behind messages that wait, a reply waits too (as a normal one) rather than overtake them.
    if (this.queue !== undefined && this.queue.length > 0) this.queue.enqueue(NORMAL, NO_ALIAS, encoding, kind, requestId, body, HEADER_SIZE + 8 + body.length);
    else this.encodeQueued(NO_ALIAS, encoding, kind, requestId, body);
  }

  /** @internal Encodes a reply, or a message that waited in the queue. */
  encodeQueued(alias: number, encoding: number, kind: number, requestId: number, body: Uint8Array | string): void {
    this.encodeSequenced(FrameType.MESSAGE, alias, encoding, kind, requestId, body);
    this.counters.tcp.messagesOut++;
  }

  /** The session owes the peer an ACK: written with the next flush (inside the data it carries, if any). */
  oweAck(): void {
    this.ackOwed = true;
    this.scheduleFlush();
  }

  /**
   * The session owes the peer an ACK that may wait ACK_DELAY_MS. Whether data will carry it is
   * known at the end of the turn, once the application has reacted to what came (a client's next
   * request, typically): the flush decides then, and only an ACK that no data carried waits for
   * the timer. (A timer armed at once nearly always woke up with nothing left to do.)
   */
  oweAckSoon(): void {
    this.ackSoon = true;
    this.scheduleFlush();
  }

  /** The session has closed: no acknowledgement waits any more. */
  stop(): void {
    cancelDelayedAck(this);
    this.queue?.stop();
  }

  /**
   * The socket wrote out all it held ('drain'): nothing references what the data encoder handed
   * out any more, unless batches wait for the window, and its slab may be written from the start.
   */
  socketDrained(): void {
    this.socketFull = false;
    this.watch?.drained();
    if (this.heldHead === this.held.length) this.encoder.recycle();
    this.queue?.pump();
  }

  /** The peer acknowledged every frame below `nextExpected` (the window has been told). */
  acknowledged(nextExpected: number): void {
    const unconfirmed = this.unconfirmedAliases;
    while (unconfirmed !== undefined && unconfirmed.length > 0) {
      const { alias, sequence } = unconfirmed[0]!;
      // Acknowledged when the ack has moved past it, modulo 2^32 within the window.
      if (((nextExpected - sequence - 1) >>> 0) >= 0x80000000) break;
      (this.confirmedAliases ??= [])[alias] = true;
      unconfirmed.shift();
    }
    this.releaseHeld();
    this.queue?.pump();
  }

  /**
   * Writes control frames, then the batch of sequenced frames if the window has room for all of
   * it (one native call seals a batch, one write or writev sends it); otherwise the batch is held.
   */
  flush(): void {
    this.flushScheduled = false;
    const socket = this.socket;
    if (socket.destroyed || socket.writableEnded) {
      this.discard();
      return;
    }
    this.writeOut();
    // Everything written has left (the write completed at once) and nothing waits for the window:
    // the data encoder's slab is free to be written again from its start.
    if (this.socket.writableLength === 0 && this.heldHead === this.held.length) this.encoder.recycle();
    if (this.ackSoon) this.delayAck();
    if (this.watchHost !== undefined) checkQueueBound(this.queuedBytes, this.limits, this.watchHost);
  }

  /** An owed ACK that the data just written did not carry goes within ACK_DELAY_MS. */
  private delayAck(): void {
    this.ackSoon = false;
    if (this.window.unacknowledged > 0) acknowledgeLater(this);
  }

  /** @internal The delay of an owed ACK has passed (./delayed-acks.ts). */
  ackDue(): void {
    if (this.window.unacknowledged > 0) this.oweAck();
  }

  private writeOut(): void {
    const count = this.batchCount;
    // Outgoing data carries any acknowledgement that is due, for free.
    if (count > 0 && this.window.unacknowledged > 0) this.ackOwed = true;
    const releasable = count > 0 && this.heldHead === this.held.length && count <= this.window.available;
    if (this.ackOwed) {
      // An owed acknowledgement rides inside data that goes out now; else it goes on its own.
      if (releasable) {
        this.encoder.endBatch();
        this.encodeAck(this.encoder);
      } else {
        this.encodeAck(this.control);
      }
    }
    let gathered = this.control.pendingBytes > 0 ? this.control.flushInto(GATHERED, 0) : 0;
    if (count === 0) {
      this.writeGathered(gathered);
      return;
    }
    this.batchCount = 0;
    if (releasable) {
      this.window.reserve(count);
      gathered = this.encoder.flushInto(GATHERED, gathered);
      this.writeGathered(gathered);
      return;
    }
    this.writeGathered(gathered);
    const buffers = this.encoder.flush();
    let bytes = 0;
    for (const buffer of buffers) bytes += buffer.length;
    if (this.held === NO_HELD) this.held = [];
    this.held.push({ buffers, count, bytes });
    this.heldBytes += bytes;
  }

  private sendUdp(type: string, kind: number, requestId: number, encoding: number, body: Uint8Array | string, options: SendOptions): boolean {
    const path = this.udpPath;
    if (!path) throw new HybridwireError('HW_ERR_UDP_UNAVAILABLE', 'this session has no UDP path');
    let alias = kind === MessageKind.RESPONSE || kind === MessageKind.ERROR ? NO_ALIAS : this.aliasFor(type);
    // A UDP datagram may overtake the TCP frame that defines an alias: name the type inline
    // until the peer has acknowledged the definition.
    if (alias !== NO_ALIAS && this.confirmedAliases?.[alias] !== true) alias = INLINE_TYPE;
    return sendDatagram(path, PREFIX, alias, type, encoding, kind, requestId, body, options, this.counters, this.compression, this.udpCompressFrom);
  }

  /** The alias of a type, defined with a TYPE_DEF on first use. */
  private aliasFor(type: string): number {
    // Most senders repeat one type: compare with the last before hashing.
    if (type === this.lastType) return this.lastAlias;
    const known = this.aliases?.get(type);
    if (known !== undefined) {
      this.lastType = type;
      this.lastAlias = known;
      return known;
    }
    // Checked here, where a name is first seen: a bad one is refused before anything is encoded,
    // and a known one costs nothing more.
    checkTypeName(type);
    if (this.nextAlias > MAX_ALIASES) return INLINE_TYPE;
    const alias = this.nextAlias++;
    (this.aliases ??= new Map()).set(type, alias);
    this.encodeSequenced(FrameType.TYPE_DEF, alias, 0, 0, 0, encodeTypeDef(alias, type));
    return alias;
  }

  /**
   * Encodes a sequenced frame at once, whatever the window: the window decides when its batch is
   * written, not when it is encoded, so a full window costs no per-message bookkeeping.
   */
  private encodeSequenced(frameType: number, alias: number, encoding: number, kind: number, requestId: number, body: Uint8Array | string): void {
    let encoder = this.encoder;
    if (encoder === NO_ENCODER) encoder = this.encoder = new FrameEncoder({ maxFrameSize: this.limits.maxFrameSize, reuseSlabs: true });
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
      if (encoder.batchOpen && encoder.batchPrefixed(PREFIX, writeMessagePrefix(PREFIX, alias, encoding, kind, requestId, undefined), body)) return;
      // Written again after openBatch(), which may flush (and a flush may run other code).
      this.openBatch();
      encoder.batchPrefixed(PREFIX, writeMessagePrefix(PREFIX, alias, encoding, kind, requestId, undefined), body);
      return;
    }
    if (encoder.batchOpen) encoder.endBatch();
    if (frameType === FrameType.MESSAGE && this.compressFrom > 0 && body.length >= this.compressFrom && this.compressMessage(alias, encoding, kind, requestId, body)) {
      return;
    }
    const sequence = this.startFrame();
    if (frameType === FrameType.TYPE_DEF) {
      encoder.add(FrameType.TYPE_DEF, body as Uint8Array, 0, 0, sequence);
      (this.unconfirmedAliases ??= []).push({ alias, sequence });
    } else if (kind === MessageKind.MESSAGE && typeof body !== 'string') {
      encoder.addWithWord(FrameType.MESSAGE, alias | (encoding << 16), body, 0, 0, sequence);
    } else {
      const prefixLength = writeMessagePrefix(PREFIX, alias, encoding, kind, requestId, undefined);
      encoder.addPrefixed(FrameType.MESSAGE, PREFIX, prefixLength, body, 0, 0, sequence);
    }
  }

  /**
   * Sends a message compressed (docs/PROTOCOL.md, section 12) when that makes it smaller.
   * Returns false, having sent nothing, when it does not.
   */
  private compressMessage(alias: number, encoding: number, kind: number, requestId: number, body: Uint8Array | string): boolean {
    const payload = this.compression!.compress(PREFIX, writeMessagePrefix(PREFIX, alias, encoding, kind, requestId, undefined), body);
    if (payload === undefined) return false;
    this.encoder.add(FrameType.MESSAGE, payload, FrameFlag.COMPRESSED, 0, this.startFrame());
    this.counters.compressedOut++;
    return true;
  }

  /** Closes the open batch (if any) and opens a new BATCH frame, which takes a sequence number. */
  private openBatch(): void {
    const encoder = this.encoder;
    if (encoder.batchOpen) encoder.endBatch();
    encoder.beginBatch(FrameType.MESSAGE, FrameFlag.BATCH, 0, this.startFrame(), this.sizes.batchBytes);
  }

  /** Takes the next sequence number for a frame about to be encoded. */
  private startFrame(): number {
    // A flush never holds more frames than the window (or it could never be released), and the
    // encoder stays small.
    if (this.batchCount >= this.sendWindow || this.encoder.pendingBytes >= this.sizes.flushBytes) this.flush();
    this.batchCount++;
    this.scheduleFlush();
    const sequence = this.nextSequence;
    this.nextSequence = (sequence + 1) >>> 0;
    return sequence;
  }

  private scheduleFlush(): void {
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    flushAtEndOfTurn(this);
  }

  /** Encodes the owed ACK into `encoder`; the window then counts those messages as acknowledged. */
  private encodeAck(encoder: FrameEncoder): void {
    this.ackOwed = false;
    encoder.add(FrameType.ACK, undefined, 0, 0, this.window.nextExpected);
    this.window.acked();
  }

  private writeGathered(count: number): void {
    if (!writeGathered(this.socket, count, this.counters.tcp)) this.congested();
  }

  /** The socket's buffer is full: sends wait until 'drain', and the watch (made the first time) follows its progress. */
  private congested(): void {
    this.socketFull = true;
    if (this.watchHost !== undefined) this.watch = watchCongestion(this.watch, this.socket, this.limits, this.counters, this.watchHost, this.pauseReadingWhenCongested, this.queuedBytes);
  }

  /** The socket is ending or gone: what is encoded or held can never be written. */
  private discard(): void {
    if (this.encoder.pendingBytes > 0) this.encoder.flush();
    if (this.control.pendingBytes > 0) this.control.flush();
    this.batchCount = 0;
    this.ackOwed = false;
    this.held.length = 0;
    this.heldHead = 0;
    this.heldBytes = 0;
    this.queue?.stop();
  }

  private checkHighWater(): boolean {
    if (this.queuedBytes < this.limits.highWaterMark) return true;
    this.needDrain = true;
    return false;
  }

  /** Writes held batches, oldest first, while the window has room for each whole batch. */
  private releaseHeld(): void {
    while (this.heldHead < this.held.length) {
      const batch = this.held[this.heldHead]!;
      if (batch.count > this.window.available) break;
      this.held[this.heldHead++] = undefined as unknown as HeldBatch;
      this.heldBytes -= batch.bytes;
      this.window.reserve(batch.count);
      if (!writeBuffers(this.socket, batch.buffers, batch.buffers.length, this.counters.tcp)) this.congested();
    }
    if (this.heldHead === this.held.length && this.heldHead > 0) {
      this.held.length = 0;
      this.heldHead = 0;
    }
  }
}
