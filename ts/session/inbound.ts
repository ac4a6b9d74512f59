/**
 * The receive path of one TCP session up to dispatch: socket chunks through the frame decoder, the
 * frames that come before the session opens, the sequence and window checks and the
 * acknowledgement policy (docs/PROTOCOL.md, section 6). MESSAGE frames go to ./dispatch.ts, every
 * other frame back to the session.
 *
 * While maxPendingHandlers handlers are in progress nothing more is dispatched, even in the middle
 * of a chunk or of a BATCH frame: the place is kept (the socket is paused meanwhile, so the
 * decoder's rows stay valid) and dispatch goes on from it once handlers finish. The check costs
 * one comparison per frame and per BATCH entry. A rate limit with action 'delay' stops dispatch the
 * same way (Dispatcher.handlerLimit, ts/qos/receive-limiter.ts).
 */
import { FrameDecoder } from '../codec/frame-decoder.js';
import { FrameType, HEADER_SIZE } from '../codec/frame.js';
import { HybridwireError, type FrameError } from '../errors.js';
import { DeliveryWindow } from './delivery-window.js';
import type { Dispatcher } from './dispatch.js';
import type { Outbound } from './outbound.js';
import type { SessionState } from './connection.js';

/** What the receive path needs of its session. */
export interface InboundHost {
  readonly state: SessionState;
  /** fail() was called: nothing more is taken from the peer. */
  readonly failed: boolean;
  /** HELLO, HELLO_ACK or HELLO_DONE, before the session opened. */
  handshakeFrame(type: number, payload: Uint8Array): void;
  /** Any frame but a MESSAGE: row `i` of `decoder`'s last push. */
  controlFrame(decoder: FrameDecoder, i: number): void;
  /** The peer broke the protocol (or a handler failed in a way that ends the session). */
  fail(error: HybridwireError): void;
  /** Frames of the last chunk wait for handlers to finish (true), or no longer (false). */
  holdReading(held: boolean): void;
}

export interface InboundLimits {
  maxFrameSize: number;
  maxPendingHandlers: number;
}

export class Inbound {
  /** Set when the session opens; until then (handshake) there is no sequenced traffic. */
  window = new DeliveryWindow(1, 1);
  private decoder: FrameDecoder;
  private ackThreshold = 1;
  private readonly maxFrameSize: number;
  /** Where dispatch stopped at the handler limit: a row of the decoder's last push, or -1. */
  private resumeRow = -1;
  /** In that row, a BATCH frame's next entry, or -1 to start the frame from its beginning. */
  private resumeOffset = -1;

  constructor(
    private readonly host: InboundHost,
    private readonly dispatch: Dispatcher,
    private readonly outbound: Outbound,
    limits: InboundLimits,
  ) {
    this.maxFrameSize = limits.maxFrameSize;
    this.decoder = new FrameDecoder({ maxFrameSize: limits.maxFrameSize, sharedRows: true });
  }

  /** Frames wait for handlers to finish (see resume()). */
  get waiting(): boolean {
    return this.resumeRow >= 0;
  }

  /**
   * Until the session opens, frames are refused (HW_ERR_FRAME_TOO_LARGE) as soon as a header
   * announces more than `maxPayload` bytes (docs/PROTOCOL.md, section 3.3).
   */
  limitFramesUntilOpen(maxPayload: number): void {
    this.decoder.maxFrameSize = Math.min(maxPayload, this.maxFrameSize);
  }

  /** The session opened with this window: sequenced traffic starts, frames up to maxFrameSize. */
  open(window: DeliveryWindow): void {
    this.decoder.maxFrameSize = this.maxFrameSize;
    this.window = window;
    this.ackThreshold = Math.max(1, window.receiveWindow >>> 2);
  }

  /** Decodes a chunk and takes every frame it completes. */
  push(chunk: Buffer): void {
    let count: number;
    try {
      count = this.decoder.push(chunk);
    } catch (error) {
      this.decodeFailed(chunk, error as FrameError);
      return;
    }
    try {
      this.takeFrames(0, count);
    } catch (error) {
      this.failWith(error);
    }
    if (this.resumeRow >= 0) {
      // The rows wait for handlers to finish, past other sessions' pushes.
      this.decoder.keepRows();
      this.host.holdReading(true);
    } else {
      this.decoder.release();
    }
  }

  /** Handlers have finished: dispatch goes on from where it stopped, if it did. */
  resume(): void {
    const row = this.resumeRow;
    if (row < 0) return;
    this.resumeRow = -1;
    try {
      this.takeFrames(row, this.decoder.count, this.resumeOffset);
    } catch (error) {
      this.failWith(error);
    }
    if (this.resumeRow < 0) {
      this.decoder.release();
      this.host.holdReading(false);
    }
  }

  /**
   * A chunk did not decode. Before the handshake completes, the frame refused as too large may
   * follow the HELLO_DONE that completes it, in the same chunk: then the handshake frames before
   * it are taken, and what follows them is decoded afresh under the open session's frame limit.
   */
  private decodeFailed(chunk: Buffer, error: FrameError): void {
    if (this.host.state === 'handshake' && error.code === 'HW_ERR_FRAME_TOO_LARGE') {
      try {
        const decoder = this.decoder;
        const before = decoder.count;
        const next = this.handshakeFrames(0, before);
        if (this.hostIs('open')) {
          const rest = next < before ? decoder.payloadOffset(next) - HEADER_SIZE : error.offset;
          this.decoder = new FrameDecoder({ maxFrameSize: this.maxFrameSize, sharedRows: true });
          this.push(chunk.subarray(rest));
          return;
        }
      } catch (failure) {
        this.failWith(failure);
        return;
      }
    }
    this.host.fail(error);
  }

  private failWith(error: unknown): void {
    if (error instanceof HybridwireError) this.host.fail(error);
    else this.host.fail(new HybridwireError('HW_ERR_HANDLER_FAILED', (error as Error).message));
  }

  /** Takes the frames of rows [start, count) that come before the session opens; returns the row it stopped at. */
  private handshakeFrames(start: number, count: number): number {
    const decoder = this.decoder;
    let i = start;
    for (; i < count && this.host.state === 'handshake'; i++) {
      const type = decoder.type(i);
      if (type === FrameType.HELLO || type === FrameType.HELLO_ACK || type === FrameType.HELLO_DONE) {
        this.host.handshakeFrame(type, decoder.payload(i));
      } else if (type === FrameType.ERROR || type === FrameType.CLOSE) {
        this.host.controlFrame(decoder, i);
      } else if (type < 0x80) {
        throw new HybridwireError('HW_ERR_HANDSHAKE_ORDER', `frame type 0x${type.toString(16)} arrived before the handshake completed`);
      }
    }
    return i;
  }

  /** Takes rows [start, count); `firstOffset` (not -1) is where to go on in the first, a BATCH frame. */
  private takeFrames(start: number, count: number, firstOffset = -1): void {
    const decoder = this.decoder;
    const host = this.host;
    const i = host.state === 'handshake' ? this.handshakeFrames(start, count) : start;
    if (i >= count || host.state === 'handshake' || host.state === 'closed') return;
    const window = this.window;
    const accepted = window.accept(decoder.rowTable, i, count);
    if (accepted !== count) {
      throw new HybridwireError('HW_ERR_SEQUENCE', `frame ${decoder.sequence(accepted)} arrived out of sequence (expected ${window.nextExpected})`);
    }
    if (window.unacknowledged > window.receiveWindow) {
      throw new HybridwireError('HW_ERR_WINDOW_OVERFLOW', `peer sent ${window.unacknowledged} unacknowledged messages; the window is ${window.receiveWindow}`);
    }
    const stopped = this.dispatchFrames(i, count, firstOffset);
    if (stopped < count) {
      window.unaccept(decoder.rowTable, stopped, count);
      this.resumeRow = stopped;
    }
    const unacknowledged = window.unacknowledged;
    if (unacknowledged === 0 || this.hostIs('closed')) return;
    // Acknowledge at once when a quarter of the window is used (so the sender never stalls),
    // otherwise with data sent in this turn, or within a millisecond (see Outbound.oweAckSoon):
    // one small write per millisecond at most instead of one per chunk.
    if (unacknowledged >= this.ackThreshold || this.outbound.batchCount > 0) this.acknowledge();
    else this.outbound.oweAckSoon();
  }

  /**
   * Dispatches rows [start, count), the first from `firstOffset` if that is not -1. Returns
   * `count`, or the row where it stopped at the handler limit (resumeOffset then says where in it).
   */
  private dispatchFrames(start: number, count: number, firstOffset: number): number {
    const decoder = this.decoder;
    const dispatch = this.dispatch;
    const host = this.host;
    let offset = firstOffset;
    for (let row = start; row < count; row++) {
      if (this.hostIs('closed') || host.failed) return count;
      if (dispatch.pendingHandlers >= dispatch.handlerLimit) {
        this.resumeOffset = offset;
        return row;
      }
      if (decoder.type(row) !== FrameType.MESSAGE) {
        host.controlFrame(decoder, row);
        continue;
      }
      const payloadStart = decoder.payloadOffset(row);
      const end = payloadStart + decoder.payloadLength(row);
      // Socket chunks, and the buffers split frames are joined in, are Buffers.
      const reached = dispatch.receiveFrame(decoder.payloadSource(row) as Buffer, offset < 0 ? payloadStart : offset, end, decoder.flags(row));
      offset = -1;
      if (reached !== end) {
        this.resumeOffset = reached;
        return row;
      }
    }
    return count;
  }

  /** Owes the peer an ACK, written with the next flush (inside the data it carries, if any). */
  private acknowledge(): void {
    if (this.window.unacknowledged === 0 || this.host.state === 'closed') return;
    this.outbound.oweAck();
  }

  /** A method rather than a comparison, which TypeScript would narrow across the calls that change the state. */
  private hostIs(state: SessionState): boolean {
    return this.host.state === state;
  }
}
