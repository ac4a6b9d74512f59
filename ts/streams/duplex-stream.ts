/**
 * One stream of a session, as a node:stream Duplex: what is written goes to the other side in
 * data messages, as far as the credit the other side granted allows; what arrives is pushed to
 * the readable side, and credit goes back as the application reads it (HTTP/2's WINDOW_UPDATE).
 * A reader that stops reading stops granting credit, so its sender stops, and nothing else on
 * the session waits for it.
 */
import { Duplex } from 'node:stream';
import { HybridwireError } from '../errors.js';
import { MAX_CODE_BYTES, MAX_WINDOW, type StreamTransport } from './stream-wire.js';

/**
 * `opening`: waiting for the other side's accept (writes wait); `open`; `half-closed-local`: this
 * side has ended; `half-closed-remote`: the other side has ended; `closed`: both have; `reset`:
 * ended by a reset (from either side) or by the session's close.
 */
export type StreamState = 'opening' | 'open' | 'half-closed-local' | 'half-closed-remote' | 'closed' | 'reset';

/** A snapshot of one stream's figures. */
export interface StreamStats {
  id: number;
  name: string;
  transport: StreamTransport;
  state: StreamState;
  /** Data bytes received from the other side, and sent to it. */
  bytesIn: number;
  bytesOut: number;
  /** Bytes this side may still send before the other side grants more. */
  sendCredit: number;
  /** Bytes the other side may still send before this side grants more. */
  receiveCredit: number;
  /** Received bytes the application has not read yet. */
  bufferedBytes: number;
}

/** What a stream asks of the session it belongs to (see ./stream-session.ts). */
export interface StreamHost {
  /** Sends data[start, end); false when the session's send queue is full (drained() follows). */
  sendData(stream: HybridwireStream, data: Uint8Array, start: number, end: number): boolean;
  /** The session's queue is full: this stream waits for drained(). */
  sessionBlocked(stream: HybridwireStream): boolean;
  sendWindow(stream: HybridwireStream, increment: number): void;
  sendEnd(stream: HybridwireStream): void;
  sendReset(stream: HybridwireStream, code: string, message: string): void;
  /** The stream no longer takes messages: forget it. */
  release(stream: HybridwireStream): void;
}

/** The other side reset the stream (or refused to open it), with `resetCode`. */
export class StreamResetError extends HybridwireError {
  /** The code the other side gave: the code of the error it destroyed its stream with, or HW_ERR_STREAM_RESET. */
  readonly resetCode: string;

  constructor(resetCode: string, message: string) {
    // A refusal for the stream limit is that error; any other reset is a reset, carrying its code.
    super(resetCode === 'HW_ERR_STREAM_LIMIT' ? 'HW_ERR_STREAM_LIMIT' : 'HW_ERR_STREAM_RESET', message);
    this.name = 'StreamResetError';
    this.resetCode = resetCode;
  }
}

interface PendingWrite {
  chunk: Buffer;
  offset: number;
  callback: (error?: Error | null) => void;
}

/** Readable buffering below the window, so that a reader reading below it keeps credit flowing. */
const MAX_READABLE_HIGH_WATER = 64 * 1024;

export class HybridwireStream extends Duplex {
  /** The stream's id in its session (odd: opened by the client; even: by the server). */
  readonly id: number;
  /** The name the opener gave (the same on both sides; '' when it gave none). */
  readonly name: string;
  readonly transport: StreamTransport;

  private currentState: StreamState;
  private received = 0;
  private sent = 0;
  private credit: number;
  private granted: number;
  private reset: string | undefined;

  private readonly window: number;
  private readonly maxChunk: number;
  private pending: PendingWrite | undefined;
  private localEnded = false;
  private remoteEnded = false;
  private released = false;
  /** Bytes pushed to the readable side, and of those, the ones credit was given back for. */
  private pushed = 0;
  private credited = 0;

  /** @internal Made by the session: see openStream() and the 'stream' event. */
  constructor(private readonly host: StreamHost, id: number, name: string, transport: StreamTransport, window: number, maxChunk: number, accepted: boolean, sendCredit: number) {
    super({ allowHalfOpen: true, readableHighWaterMark: Math.max(1, Math.min(MAX_READABLE_HIGH_WATER, Math.floor(window / 4))) });
    this.id = id;
    this.name = name;
    this.transport = transport;
    this.window = window;
    this.granted = window;
    this.maxChunk = maxChunk;
    this.currentState = accepted ? 'open' : 'opening';
    this.credit = sendCredit;
  }

  /** See StreamState. */
  get state(): StreamState {
    return this.currentState;
  }

  /** Data bytes received from the other side. */
  get bytesIn(): number {
    return this.received;
  }

  /** Data bytes sent to the other side. */
  get bytesOut(): number {
    return this.sent;
  }

  /** Bytes this side may still send before the other side grants more. */
  get sendCredit(): number {
    return this.credit;
  }

  /** Bytes the other side may still send before this side grants more. */
  get receiveCredit(): number {
    return this.granted;
  }

  /** The code of the reset that ended the stream, from either side. */
  get resetCode(): string | undefined {
    return this.reset;
  }

  /** A snapshot of the stream's figures. */
  stats(): StreamStats {
    return {
      id: this.id,
      name: this.name,
      transport: this.transport,
      state: this.state,
      bytesIn: this.bytesIn,
      bytesOut: this.bytesOut,
      sendCredit: this.sendCredit,
      receiveCredit: this.receiveCredit,
      bufferedBytes: this.readableLength,
    };
  }

  // ---- from the session ----

  /** @internal The other side accepted the stream, granting `window` bytes. */
  accepted(window: number): void {
    if (this.currentState !== 'opening') throw new HybridwireError('HW_ERR_BAD_MESSAGE', `stream ${this.id} accepted twice`);
    this.currentState = this.localEnded ? 'half-closed-local' : 'open';
    this.credit = window;
    this.pump();
  }

  /** @internal Data from the other side (a copy the stream may keep). */
  receiveData(data: Buffer): void {
    if (this.remoteEnded) throw new HybridwireError('HW_ERR_BAD_MESSAGE', `data on stream ${this.id} after its end`);
    if (data.length > this.granted) {
      throw new HybridwireError('HW_ERR_FLOW_CONTROL', `${data.length} bytes on stream ${this.id}, which had ${this.granted} bytes of credit`);
    }
    this.granted -= data.length;
    this.received += data.length;
    this.pushed += data.length;
    this.push(data);
    this.grantCredit();
  }

  /** @internal The other side grants `increment` more bytes. */
  receiveWindow(increment: number): void {
    const credit = this.credit + increment;
    if (credit > MAX_WINDOW) throw new HybridwireError('HW_ERR_FLOW_CONTROL', `stream ${this.id} was granted ${credit} bytes of credit; at most ${MAX_WINDOW} are allowed`);
    this.credit = credit;
    this.pump();
  }

  /** @internal The other side has ended its writing. */
  receiveEnd(): void {
    if (this.remoteEnded) throw new HybridwireError('HW_ERR_BAD_MESSAGE', `stream ${this.id} ended twice`);
    this.remoteEnded = true;
    if (this.currentState === 'open' || this.currentState === 'opening') this.currentState = 'half-closed-remote';
    else if (this.currentState === 'half-closed-local') this.currentState = 'closed';
    this.push(null);
    this.releaseIfDone();
  }

  /** @internal The other side reset the stream (or refused it). */
  receiveReset(code: string, message: string): void {
    this.reset = code;
    this.currentState = 'reset';
    this.releaseOnce();
    this.destroy(new StreamResetError(code, `stream ${this.id} (${JSON.stringify(this.name)}) was reset by the other side with ${code}${message ? `: ${message}` : ''}`));
  }

  /** @internal The stream was refused before it was opened (the local stream limit): the peer never hears of it. */
  refusedLocally(): void {
    this.currentState = 'reset';
    this.released = true;
  }

  /** @internal The session has closed under the stream. */
  sessionClosed(error: Error | undefined): void {
    this.currentState = 'reset';
    this.releaseOnce();
    // A graceful close (CLOSE from either side) ends the stream without an error, as a socket's
    // destroy() does: a reader still reading sees it close before its end.
    this.destroy(error === undefined ? undefined : new HybridwireError('HW_ERR_CONNECTION_CLOSED', `the session closed under stream ${this.id}: ${error.message}`, { cause: error }));
  }

  /** @internal The session's send queue has room again. */
  drained(): void {
    this.pump();
  }

  // ---- node:stream ----

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    this.pending = { chunk, offset: 0, callback };
    this.pump();
  }

  override _final(callback: (error?: Error | null) => void): void {
    this.localEnded = true;
    if (this.currentState === 'open') this.currentState = 'half-closed-local';
    else if (this.currentState === 'half-closed-remote') this.currentState = 'closed';
    try {
      if (!this.released) this.host.sendEnd(this);
    } catch (error) {
      callback(error as Error);
      return;
    }
    this.releaseIfDone();
    callback();
  }

  override _read(): void {
    this.grantCredit();
  }

  /**
   * Every way of consuming a Readable (flowing mode, pipe, async iteration, 'readable') goes
   * through read(): credit is counted here, where _read alone would miss reads made while a call
   * of it is still outstanding.
   */
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  override read(size?: number): any {
    const chunk: unknown = super.read(size);
    this.grantCredit();
    return chunk;
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    this.pending = undefined;
    if (!this.released && this.remoteEnded && this.writableLength === 0 && isQuiet(error)) {
      // Everything the other side sent has come and nothing of ours is lost: a destroy without an
      // error of its own (a for-await loop that read to the end does one) ends our half quietly.
      this.localEnded = true;
      this.currentState = 'closed';
      this.releaseOnce();
      try {
        this.host.sendEnd(this);
      } catch {
        // The session is gone, and the stream with it.
      }
    } else if (!this.released) {
      // Not ended both ways: the other side learns it is over, with the error's code if it has one.
      const code = resetCodeOf(error);
      this.reset = code;
      this.currentState = 'reset';
      this.releaseOnce();
      try {
        this.host.sendReset(this, code, error?.message ?? 'stream destroyed');
      } catch {
        // The session is gone: so is the stream at the other side.
      }
    }
    callback(error);
  }

  /** Sends what is pending as far as credit and the session's queue allow. */
  private pump(): void {
    for (;;) {
      const pending = this.pending;
      if (pending === undefined || this.credit === 0 || this.released || this.host.sessionBlocked(this)) return;
      const { chunk, offset } = pending;
      const end = offset + Math.min(chunk.length - offset, this.credit, this.maxChunk);
      let room: boolean;
      try {
        room = this.host.sendData(this, chunk, offset, end);
      } catch (error) {
        this.destroy(error as Error);
        return;
      }
      this.credit -= end - offset;
      this.sent += end - offset;
      pending.offset = end;
      if (end === chunk.length) {
        this.pending = undefined;
        pending.callback();
      }
      if (!room) return;
    }
  }

  /** Gives back credit for what the application has read, once that is half the window. */
  private grantCredit(): void {
    if (this.remoteEnded || this.released) return;
    const owed = this.pushed - this.readableLength - this.credited;
    if (owed < this.window / 2) return;
    this.credited += owed;
    this.granted += owed;
    try {
      this.host.sendWindow(this, owed);
    } catch (error) {
      this.destroy(error as Error);
    }
  }

  private releaseIfDone(): void {
    if (this.localEnded && this.remoteEnded) this.releaseOnce();
  }

  private releaseOnce(): void {
    if (this.released) return;
    this.released = true;
    this.host.release(this);
  }
}

/** No error, or the AbortError of a reader that stopped (an async iterator's). */
function isQuiet(error: Error | null): boolean {
  return error === null || (error as { code?: unknown }).code === 'ABORT_ERR';
}

/** The code a destroy(error) sends: the error's own when it has a short string one. */
function resetCodeOf(error: Error | null): string {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' && code.length > 0 && Buffer.byteLength(code) <= MAX_CODE_BYTES ? code : 'HW_ERR_STREAM_RESET';
}
