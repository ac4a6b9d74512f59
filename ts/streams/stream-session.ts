/**
 * The streams of one session: ids, the stream limit, the messages of each stream to and from the
 * session, and waiting for the session's send queue when it is full. Every message a peer could
 * get wrong is checked here or in ./wire.ts; a wrong one ends the session with an ERROR frame.
 */
import { HybridwireError } from '../errors.js';
import type { Connection, SendOptions } from '../session/connection.js';
import type { Payload } from '../session/message.js';
import { HybridwireStream, type StreamHost } from './duplex-stream.js';
import type { StreamLimits } from './stream-options.js';
import { newStreamTotals, type StreamSessionStats, type StreamTotals } from './stream-stats.js';
import {
  MAX_STREAM_ID,
  STREAM_ACCEPT,
  STREAM_DATA,
  STREAM_END,
  STREAM_OPEN,
  STREAM_RESET,
  STREAM_WINDOW,
  dataStreamId,
  decodeAccept,
  decodeEnd,
  decodeOpen,
  decodeReset,
  decodeWindow,
  encodeData,
  acceptBody,
  endBody,
  openBody,
  resetBody,
  windowBody,
  type StreamTransport,
} from './stream-wire.js';

const OVER_UDP: SendOptions = { transport: 'udp', reliable: true };

/** What the session tells the feature that owns it (see ./stream-feature.ts). */
export interface StreamSessionOwner {
  readonly totals: StreamTotals;
  /** Whether anybody listens for 'stream' events (else the peer's streams are refused). */
  listening(): boolean;
  /** A stream the peer opened: emits 'stream'. */
  announce(stream: HybridwireStream, context: unknown): void;
  /** Streams open in all sessions went up (+1) or down (-1). */
  openChanged(delta: number): void;
}

export class StreamSession implements StreamHost {
  private readonly streams = new Map<number, HybridwireStream>();
  /** The next id this side opens: odd on the client, even on the server. */
  private nextLocalId: number;
  /** The highest id the peer has opened so far (ids only grow). */
  private highestRemoteId = 0;
  private readonly counters = newStreamTotals();
  /** Streams waiting for the session's send queue to drain, and whether it is full. */
  private readonly waiting = new Set<HybridwireStream>();
  private blocked = false;
  private closed = false;

  constructor(
    private readonly connection: Connection,
    private readonly context: unknown,
    private readonly limits: StreamLimits,
    private readonly owner: StreamSessionOwner,
    private readonly initiator: boolean,
  ) {
    this.nextLocalId = initiator ? 1 : 2;
    connection.on('drain', () => this.drained());
    connection.on('close', (error) => this.sessionClosed(error));
  }

  /** Opens a stream to the peer: returned at once, its writes wait for the peer's accept. */
  open(name: string, transport: StreamTransport): HybridwireStream {
    if (this.closed) throw new HybridwireError('HW_ERR_NOT_CONNECTED', 'the session is closed');
    if (transport === 'udp' && this.connection.udpPath === undefined) throw new HybridwireError('HW_ERR_UDP_UNAVAILABLE', 'this session has no UDP path for a stream');
    const id = this.nextLocalId;
    const stream = new HybridwireStream(this, id, name, transport, this.limits.streamWindowBytes, this.limits.maxStreamChunkBytes, false, 0);
    if (this.streams.size >= this.limits.maxStreams || id > MAX_STREAM_ID) {
      const error = new HybridwireError('HW_ERR_STREAM_LIMIT', `${this.streams.size} streams are open in this session; maxStreams is ${this.limits.maxStreams}`);
      // Never opened, so never told to the peer: it fails here alone.
      stream.refusedLocally();
      process.nextTick(() => stream.destroy(error));
      return stream;
    }
    this.nextLocalId += 2;
    this.send(transport, STREAM_OPEN, openBody(id, name, this.limits.streamWindowBytes, transport));
    this.register(stream);
    this.counters.opened++;
    this.owner.totals.opened++;
    return stream;
  }

  stats(): StreamSessionStats {
    return { open: this.streams.size, ...this.counters };
  }

  // ---- messages from the peer (see ./stream-feature.ts, which routes them here) ----

  receive(type: string, payload: Payload): void {
    if (this.closed) return;
    try {
      switch (type) {
        case STREAM_DATA:
          return this.onData(payload as Uint8Array);
        case STREAM_WINDOW: {
          const { id, increment } = decodeWindow(payload);
          this.known(id)?.receiveWindow(increment);
          return;
        }
        case STREAM_OPEN:
          return this.onOpen(payload);
        case STREAM_ACCEPT: {
          const { id, window } = decodeAccept(payload);
          if (!this.isLocal(id)) throw new HybridwireError('HW_ERR_BAD_MESSAGE', `accept for stream ${id}, which the peer opened`);
          this.known(id)?.accepted(window);
          return;
        }
        case STREAM_END:
          this.known(decodeEnd(payload))?.receiveEnd();
          return;
        case STREAM_RESET: {
          const { id, code, message } = decodeReset(payload);
          const stream = this.known(id);
          if (stream === undefined) return;
          this.counters.resetsReceived++;
          this.owner.totals.resetsReceived++;
          stream.receiveReset(code, message);
          return;
        }
      }
    } catch (error) {
      if (!(error instanceof HybridwireError)) throw error;
      if (error.code === 'HW_ERR_FLOW_CONTROL') {
        this.counters.flowControlErrors++;
        this.owner.totals.flowControlErrors++;
      }
      this.connection.fail(error);
    }
  }

  private onOpen(payload: Payload): void {
    const open = decodeOpen(payload);
    const { id, transport } = open;
    if (this.isLocal(id) || id <= this.highestRemoteId) throw new HybridwireError('HW_ERR_BAD_MESSAGE', `stream id ${id} is not a new id of the peer's`);
    this.highestRemoteId = id;
    if (transport === 'udp' && this.connection.udpPath === undefined) {
      this.refuse(id, 'tcp', 'HW_ERR_UDP_UNAVAILABLE', 'this session has no UDP path');
      return;
    }
    if (!this.owner.listening()) {
      this.refuse(id, transport, 'HW_ERR_NO_HANDLER', "nobody listens for 'stream' events");
      return;
    }
    if (this.streams.size >= this.limits.maxStreams) {
      this.refuse(id, transport, 'HW_ERR_STREAM_LIMIT', `${this.streams.size} streams are open in this session; maxStreams is ${this.limits.maxStreams}`);
      return;
    }
    const stream = new HybridwireStream(this, id, open.name, transport, this.limits.streamWindowBytes, this.limits.maxStreamChunkBytes, true, open.window);
    // The accept goes before anything the application writes on the stream.
    this.send(transport, STREAM_ACCEPT, acceptBody(id, this.limits.streamWindowBytes));
    this.register(stream);
    this.counters.accepted++;
    this.owner.totals.accepted++;
    try {
      this.owner.announce(stream, this.context);
    } catch (error) {
      // A listener threw: the stream is reset, the session goes on.
      stream.destroy(error as Error);
    }
  }

  private onData(payload: Uint8Array): void {
    const id = dataStreamId(payload);
    const stream = this.known(id);
    if (stream === undefined) return;
    // A copy: the payload is a view of the socket's chunk, and the application may keep what it reads.
    const data = Buffer.from(payload.subarray(4));
    stream.receiveData(data);
    this.counters.bytesIn += data.length;
    this.owner.totals.bytesIn += data.length;
  }

  /**
   * The stream of `id` if it is open; undefined for one that was (its messages still in flight
   * are dropped); an id never opened is the peer's error.
   */
  private known(id: number): HybridwireStream | undefined {
    const stream = this.streams.get(id);
    if (stream !== undefined) return stream;
    const opened = this.isLocal(id) ? id < this.nextLocalId : id <= this.highestRemoteId;
    if (!opened) throw new HybridwireError('HW_ERR_BAD_MESSAGE', `stream ${id} was never opened`);
    return undefined;
  }

  /** Whether `id` is of this side's parity (opened here). */
  private isLocal(id: number): boolean {
    return (id & 1) === (this.initiator ? 1 : 0);
  }

  private refuse(id: number, transport: StreamTransport, code: string, message: string): void {
    this.counters.refused++;
    this.owner.totals.refused++;
    this.send(transport, STREAM_RESET, resetBody(id, code, message));
  }

  // ---- StreamHost ----

  sendData(stream: HybridwireStream, data: Uint8Array, start: number, end: number): boolean {
    const room = this.connection.send(STREAM_DATA, encodeData(stream.id, data, start, end), stream.transport === 'udp' ? OVER_UDP : undefined);
    this.counters.bytesOut += end - start;
    this.owner.totals.bytesOut += end - start;
    if (!room) {
      this.blocked = true;
      this.waiting.add(stream);
    }
    return room;
  }

  sessionBlocked(stream: HybridwireStream): boolean {
    if (!this.blocked) return false;
    this.waiting.add(stream);
    return true;
  }

  sendWindow(stream: HybridwireStream, increment: number): void {
    this.send(stream.transport, STREAM_WINDOW, windowBody(stream.id, increment));
  }

  sendEnd(stream: HybridwireStream): void {
    this.send(stream.transport, STREAM_END, endBody(stream.id));
  }

  sendReset(stream: HybridwireStream, code: string, message: string): void {
    if (this.closed) return;
    this.counters.resetsSent++;
    this.owner.totals.resetsSent++;
    this.send(stream.transport, STREAM_RESET, resetBody(stream.id, code, message));
  }

  release(stream: HybridwireStream): void {
    if (this.streams.delete(stream.id)) this.owner.openChanged(-1);
    this.waiting.delete(stream);
  }

  private register(stream: HybridwireStream): void {
    this.streams.set(stream.id, stream);
    this.owner.openChanged(1);
  }

  /** A stream message travels on its stream's transport: TCP, or UDP's reliable ordered channel. */
  private send(transport: StreamTransport, type: string, body: Payload): void {
    this.connection.send(type, body, transport === 'udp' ? OVER_UDP : undefined);
  }

  private drained(): void {
    if (!this.blocked) return;
    this.blocked = false;
    const waiting = [...this.waiting];
    this.waiting.clear();
    for (const stream of waiting) {
      stream.drained();
      if (this.blocked) {
        // Full again: those not yet served keep their turn.
        for (const next of waiting) if (next !== stream) this.waiting.add(next);
        return;
      }
    }
  }

  private sessionClosed(error: Error | undefined): void {
    this.closed = true;
    for (const stream of [...this.streams.values()]) stream.sessionClosed(error);
    this.streams.clear();
    this.waiting.clear();
  }
}
