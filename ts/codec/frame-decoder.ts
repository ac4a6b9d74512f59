import { native } from '../native/addon.js';
import { FrameError } from '../errors.js';
import {
  DECODE_ERRORS,
  DEFAULT_MAX_FRAME_SIZE,
  HEADER_SIZE,
  MAX_MAX_FRAME_SIZE,
  Row,
  ROW_WIDTH,
} from './frame.js';
import { checkInteger } from '../validate.js';
import { FrameRows } from './frame-rows.js';

export interface FrameDecoderOptions {
  /** Largest payload accepted, in bytes. A frame announcing more fails with HW_ERR_FRAME_TOO_LARGE. Default 16 MiB. */
  maxFrameSize?: number;
  /**
   * Decode into a row table shared by every decoder that sets this, rather than into one of its
   * own: then the rows of a push stay valid only until any such decoder pushes, unless keepRows()
   * is called. For decoders whose frames are taken as soon as they are decoded (a session's),
   * which would otherwise each hold a table. Default false.
   */
  sharedRows?: boolean;
}

/** One decoded frame, as returned by {@link FrameDecoder.frames}. */
export interface Frame {
  type: number;
  flags: number;
  channel: number;
  sequence: number;
  /** A view into the chunk the frame arrived in (or into the one buffer a split frame was joined in). */
  payload: Uint8Array;
}

/** Rows grow (doubling) to the most frames a chunk has held: most idle sessions never need more. */
const INITIAL_ROWS = 4;
const RESULT_FRAMES = 0;
const RESULT_CONSUMED = 1;
const RESULT_ERROR = 2;
const RESULT_NEEDED = 3;
/** What the native decoder reports of a call, read at once after it: one serves every decoder. */
const RESULT = new Uint32Array(4);
const NO_CHUNK = new Uint8Array(0);
/** The row table of the decoders with `sharedRows`: it grows (is replaced) as pushes need more rows. */
const shared: { rows: Uint32Array } = { rows: new Uint32Array(16 * ROW_WIDTH) };

/**
 * Decodes a byte stream of hybridwire frames, fed chunk by chunk as a socket delivers them.
 *
 * Each `push()` parses every complete frame of the chunk in one native call, verifying checksums,
 * and records each as a row of (offset, length, type, flags, channel, sequence). Payloads are views
 * into the chunk: nothing is copied but a frame that straddles chunks, which is copied once into a
 * buffer of exactly its size. Rows stay valid until the next `push()`.
 *
 * ```ts
 * const count = decoder.push(chunk);
 * for (let i = 0; i < count; i++) handle(decoder.type(i), decoder.payload(i));
 * ```
 *
 * After a decode error the stream cannot be resynchronised: every later push throws the same error.
 * The push that finds it still leaves the frames before it in `count` and the rows, and the
 * error's `offset` says where the refused frame starts in the chunk.
 */
export class FrameDecoder extends FrameRows {
  /**
   * Largest payload accepted. It may change between pushes: a server holds it at the handshake
   * bound until the handshake completes (docs/PROTOCOL.md, section 3.3).
   */
  maxFrameSize: number;
  /** Frames decoded by the last push. */
  count = 0;
  private chunk: Uint8Array = NO_CHUNK;
  private joined: Uint8Array | undefined;
  private carry: Buffer | undefined;
  private carryFill = 0;
  /** The start of a frame header split across chunks; allocated the first time one is. */
  private header: Uint8Array | undefined;
  private headerFill = 0;
  private failure: FrameError | undefined;
  private readonly sharedRows: boolean;

  constructor(options: FrameDecoderOptions = {}) {
    super(options.sharedRows === true ? 0 : INITIAL_ROWS);
    this.sharedRows = options.sharedRows === true;
    if (this.sharedRows) this.rows = shared.rows;
    this.maxFrameSize = checkInteger(
      'maxFrameSize',
      options.maxFrameSize ?? DEFAULT_MAX_FRAME_SIZE,
      0,
      MAX_MAX_FRAME_SIZE,
    );
  }

  /** The raw row table of the last push: ROW_WIDTH uint32 per frame (offset, length, type, flags, channel, sequence). */
  get rowTable(): Uint32Array {
    return this.rows;
  }

  /** Bytes held back because they belong to a frame that is not complete yet. */
  get bufferedBytes(): number {
    return this.headerFill + this.carryFill;
  }

  /** Decodes every frame that the chunk completes; returns how many. Throws a FrameError on bad input. */
  push(chunk: Uint8Array): number {
    if (this.failure) throw this.failure;
    // Back to the shared table: after keepRows(), or after another decoder grew it.
    if (this.sharedRows) this.rows = shared.rows;
    this.count = 0;
    this.chunk = chunk;
    this.joined = undefined;
    let start = 0;
    if (this.headerFill > 0) {
      start = this.fillHeader(chunk);
      if (this.headerFill < HEADER_SIZE) return 0;
      this.startCarryFromHeader();
    }
    let pending: Uint8Array | undefined;
    if (this.carry) {
      const carry = this.carry;
      const take = Math.min(carry.length - this.carryFill, chunk.length - start);
      carry.set(chunk.subarray(start, start + take), this.carryFill);
      this.carryFill += take;
      start += take;
      if (this.carryFill < carry.length) return 0;
      pending = carry;
      this.carry = undefined;
      this.carryFill = 0;
    }
    let frames = this.decode(chunk, start, pending);
    while (
      frames === this.rows.length / ROW_WIDTH &&
      RESULT[RESULT_ERROR] === 0 &&
      RESULT[RESULT_CONSUMED]! < chunk.length
    ) {
      this.rows = new Uint32Array(this.rows.length * 2);
      if (this.sharedRows) shared.rows = this.rows;
      frames = this.decode(chunk, start, pending);
    }
    this.joined = pending;
    this.count = frames;
    const error = RESULT[RESULT_ERROR]!;
    if (error !== 0) this.fail(error, RESULT[RESULT_CONSUMED]!);
    this.keepRemainder(chunk, RESULT[RESULT_CONSUMED]!, RESULT[RESULT_NEEDED]!);
    return frames;
  }

  /**
   * With `sharedRows`, copies the rows of the last push into a table of this decoder's own, for
   * when they must stay valid past other decoders' pushes (frames that wait to be taken).
   */
  keepRows(): void {
    if (this.sharedRows && this.rows === shared.rows) this.rows = this.rows.slice(0, Math.max(1, this.count) * ROW_WIDTH);
  }

  /**
   * Lets go of the last chunk (and of the buffer a split frame was joined in) once its frames have
   * been taken, so that an idle stream holds none: the rows of the last push are gone with it.
   */
  release(): void {
    this.chunk = NO_CHUNK;
    this.joined = undefined;
    this.count = 0;
  }

  /** Signals the end of the stream: throws HW_ERR_TRUNCATED if a frame was left incomplete. */
  end(): void {
    if (this.failure) throw this.failure;
    if (this.bufferedBytes > 0) {
      this.failure = new FrameError('HW_ERR_TRUNCATED', `stream ended inside a frame (${this.bufferedBytes} bytes buffered)`, 0);
      throw this.failure;
    }
  }

  /**
   * The payload of frame `index` of the last push, as a view (no copy). It is a plain Uint8Array
   * even when the chunk is a Buffer: constructing one directly costs a fraction of Buffer#subarray,
   * which goes through Buffer's species constructor and would be most of the per-frame budget
   * (bench/RESULTS.md, "Costs the code relies on").
   */
  payload(index: number): Uint8Array {
    const base = index * ROW_WIDTH;
    const source = index === 0 && this.joined !== undefined ? this.joined : this.chunk;
    return new Uint8Array(source.buffer, source.byteOffset + this.rows[base + Row.OFFSET]!, this.rows[base + Row.LENGTH]!);
  }

  /** The buffer that holds frame `index`'s payload (the chunk, or the buffer a split frame was joined in). */
  payloadSource(index: number): Uint8Array {
    return index === 0 && this.joined !== undefined ? this.joined : this.chunk;
  }

  /** The frames of the last push as objects; convenient, but allocates one object per frame. */
  *frames(): IterableIterator<Frame> {
    for (let i = 0; i < this.count; i++) {
      yield {
        type: this.type(i),
        flags: this.flags(i),
        channel: this.channel(i),
        sequence: this.sequence(i),
        payload: this.payload(i),
      };
    }
  }

  private decode(chunk: Uint8Array, start: number, pending: Uint8Array | undefined): number {
    // An explicit undefined costs the addon a type check per call (bench/RESULTS.md): leave it out.
    return pending === undefined
      ? native.decodeFrames(chunk, start, this.rows, RESULT, this.maxFrameSize)
      : native.decodeFrames(chunk, start, this.rows, RESULT, this.maxFrameSize, pending);
  }

  private fillHeader(chunk: Uint8Array): number {
    const take = Math.min(HEADER_SIZE - this.headerFill, chunk.length);
    this.header!.set(chunk.subarray(0, take), this.headerFill);
    this.headerFill += take;
    return take;
  }

  /** The split header is complete: validate it natively, then size the carry buffer to its frame. */
  private startCarryFromHeader(): void {
    const header = this.header!;
    native.decodeFrames(header, 0, this.rows, RESULT, this.maxFrameSize);
    const error = RESULT[RESULT_ERROR]!;
    if (error !== 0) this.fail(error, 0);
    const size = RESULT[RESULT_FRAMES] === 1 ? HEADER_SIZE : RESULT[RESULT_NEEDED]!;
    this.carry = Buffer.allocUnsafe(size);
    this.carry.set(header);
    this.carryFill = HEADER_SIZE;
    this.headerFill = 0;
  }

  private keepRemainder(chunk: Uint8Array, consumed: number, needed: number): void {
    const remaining = chunk.length - consumed;
    if (remaining === 0) return;
    if (remaining < HEADER_SIZE) {
      this.header ??= new Uint8Array(HEADER_SIZE);
      this.header.set(chunk.subarray(consumed), 0);
      this.headerFill = remaining;
      return;
    }
    this.carry = Buffer.allocUnsafe(needed);
    this.carry.set(chunk.subarray(consumed));
    this.carryFill = remaining;
  }

  private fail(error: number, offset: number): never {
    const [code, message] = DECODE_ERRORS[error] ?? ['HW_ERR_DECODER_FAILED', `decoder error ${error}`];
    this.failure = new FrameError(code, message, offset);
    throw this.failure;
  }
}
