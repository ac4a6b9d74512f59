import { native } from '../native/addon.js';
import { HybridwireError } from '../errors.js';
import { checkInteger } from '../validate.js';
import { DEFAULT_MAX_FRAME_SIZE, HEADER_SIZE, MAX_MAX_FRAME_SIZE, PROTOCOL_VERSION } from './frame.js';

export interface FrameEncoderOptions {
  /** Size of each slab that headers and small payloads are written into. Default 64 KiB. */
  slabSize?: number;
  /** Payloads up to this size are copied next to their header (one write for many frames); larger ones are passed on as they are. Default 1024. */
  copyThreshold?: number;
  /** Largest payload accepted. Default 16 MiB. */
  maxFrameSize?: number;
  /**
   * Write into one slab shared by all encoders that set this, rather than into slabs of their own:
   * for encoders that write a few small frames now and then (control frames), which would
   * otherwise each keep a slab for their lifetime. Default false.
   */
  sharedSlab?: boolean;
  /**
   * Keep the full slabs this encoder moves past, and give them to the process's spare slabs when
   * recycle() says that nothing it handed out is referenced any more; new slabs are taken from
   * the spares first. For an encoder whose output goes to a socket that drains (a session's data):
   * a sender faster than its socket otherwise allocates a slab per slab's worth of output.
   * Default false.
   */
  reuseSlabs?: boolean;
}

/** A frame to encode; the fields other than `type` default to 0 / empty. */
export interface FrameSpec {
  type: number;
  payload?: Uint8Array;
  flags?: number;
  channel?: number;
  sequence?: number;
}

const EMPTY = new Uint8Array(0);
const EMPTY_SLAB = Buffer.alloc(0);
const EMPTY_VIEW = new DataView(EMPTY_SLAB.buffer, EMPTY_SLAB.byteOffset, 0);
const NO_OFFSETS = new Uint32Array(0);
/** The output of an encoder with nothing queued; never added to (see emit()). */
const NO_OUTPUT: Buffer[] = [];
const MIN_SLAB = 1024;
const MIN_OFFSETS = 16;
const SHARED_SLAB_SIZE = 16 * 1024;
/**
 * Slabs that were handed out and written entirely (see recycle()), free to be written again by any
 * encoder with `reuseSlabs`. The process keeps at most SPARE_SLABS of them (1 MiB of 64 KiB slabs),
 * and an encoder at most as many retired ones (the rest are left to the garbage collector).
 */
const spareSlabs: Array<typeof EMPTY_SLAB> = [];
export const SPARE_SLABS = 16;

/** How many spare slabs the process holds now (for tests and diagnosis). */
export function spareSlabCount(): number {
  return spareSlabs.length;
}
/** addWithWord's prefix for payloads it does not copy: read at once by addPrefixed, so one serves all encoders. */
const WORD_SCRATCH = Buffer.alloc(4);
/** The one offset of a frame sealed alone (see endCopied()). */
const ONE_OFFSET = new Uint32Array(1);

/**
 * The slab of the encoders with `sharedSlab`, and the first byte of it that no encoder has
 * reserved. Reservations only move forward: a region is written by the one encoder that reserved
 * it and handed out once, so a socket may hold it as long as it likes. A full slab is replaced,
 * and lives on only as long as buffers that view it.
 */
const shared = { slab: EMPTY_SLAB, view: EMPTY_VIEW, free: 0 };

/**
 * Encodes batches of frames for `socket.writev()` or one datagram.
 *
 * Headers are written in JS into a slab; small payloads are copied beside them so that a batch of
 * small messages becomes one buffer, and the checksums of the whole batch are computed in one
 * native call at `flush()`. Payloads over `copyThreshold` are not copied: the output lists them as
 * they are, between slab segments. Regions of a slab that were handed out are never written again,
 * so the returned buffers stay valid however long a socket holds them.
 *
 * An idle encoder holds no memory of its own: its slab, offsets and output come with the first
 * frame (or, with `sharedSlab`, are borrowed from the shared slab until the next flush). An
 * encoder with `sharedSlab` seals each frame as it is finished, so that it needs no offsets either:
 * it writes a few frames per flush (often one), each a native call either way.
 */
export class FrameEncoder {
  readonly slabSize: number;
  readonly copyThreshold: number;
  readonly maxFrameSize: number;
  readonly sharedSlab: boolean;
  private slab = EMPTY_SLAB;
  /** Little-endian stores into the slab: a DataView store costs a third of Buffer#writeUInt32LE. */
  private view = EMPTY_VIEW;
  private segmentStart = 0;
  private position = 0;
  /** End of the slab region this encoder may write: the slab's end, or of its reservation in the shared one. */
  private end = 0;
  private offsets = NO_OFFSETS;
  private unsealed = 0;
  /** The output's first buffer; with more than one, all of them are in `output`. */
  private first: Buffer | undefined;
  private output = NO_OUTPUT;
  private queuedBytes = 0;
  private nextSlabSize: number;
  /** Offset of the open BATCH frame's header, or -1; and where its payload may extend to. */
  private batchAt = -1;
  private batchLimit = 0;
  private readonly reuseSlabs: boolean;
  /** Full slabs this encoder moved past since its last recycle() (with `reuseSlabs`). */
  private retired: Array<typeof EMPTY_SLAB> | undefined;

  constructor(options: FrameEncoderOptions = {}) {
    this.slabSize = checkInteger('slabSize', options.slabSize ?? 64 * 1024, 256, 64 * 1024 * 1024);
    this.copyThreshold = checkInteger('copyThreshold', options.copyThreshold ?? 1024, 0, this.slabSize - HEADER_SIZE);
    this.maxFrameSize = checkInteger('maxFrameSize', options.maxFrameSize ?? DEFAULT_MAX_FRAME_SIZE, 0, MAX_MAX_FRAME_SIZE);
    this.sharedSlab = options.sharedSlab === true;
    this.reuseSlabs = options.reuseSlabs === true && !this.sharedSlab;
    this.nextSlabSize = Math.min(MIN_SLAB, this.slabSize);
  }

  /** Bytes added since the last flush. */
  get pendingBytes(): number {
    return this.batchAt < 0 ? this.queuedBytes : this.queuedBytes + this.position - this.batchAt;
  }

  /** Queues one frame. Throws HW_ERR_FRAME_TOO_LARGE if the payload exceeds maxFrameSize. */
  add(type: number, payload: Uint8Array = EMPTY, flags = 0, channel = 0, sequence = 0): void {
    this.addPrefixed(type, EMPTY, 0, payload, flags, channel, sequence);
  }

  /** True while a frame opened by beginBatch() is open. */
  get batchOpen(): boolean {
    return this.batchAt >= 0;
  }

  /**
   * Opens a frame whose payload is a sequence of entries, each a u32 length and that many bytes
   * (docs/PROTOCOL.md, "Batches"): many small messages under one header and one checksum.
   * `maxBytes` bounds the payload. Call endBatch() before anything else is added.
   */
  beginBatch(type: number, flags: number, channel: number, sequence: number, maxBytes: number): void {
    if (this.position + HEADER_SIZE + maxBytes > this.end) this.nextSlab(HEADER_SIZE + maxBytes);
    this.batchAt = this.beginHeader(type, flags, channel, sequence);
    this.position = this.batchAt + HEADER_SIZE;
    this.batchLimit = this.position + maxBytes;
  }

  /** Appends an entry `word` + `body` to the open batch; false (nothing written) when it does not fit. */
  batchWord(word: number, body: Uint8Array): boolean {
    const at = this.position;
    const length = 4 + body.length;
    if (at + 4 + length > this.batchLimit) return false;
    const view = this.view;
    view.setUint32(at, length, true);
    view.setUint32(at + 4, word >>> 0, true);
    if (body.length > 0) this.slab.set(body, at + 8);
    this.position = at + 4 + length;
    return true;
  }

  /**
   * Appends an entry `word` + `second` (4-byte little-endian words) + `body` to the open batch —
   * the shape of a request or response message; false (nothing written) when it does not fit.
   */
  batchWords(word: number, second: number, body: Uint8Array): boolean {
    const at = this.position;
    const length = 8 + body.length;
    if (at + 4 + length > this.batchLimit) return false;
    const view = this.view;
    view.setUint32(at, length, true);
    view.setUint32(at + 4, word >>> 0, true);
    view.setUint32(at + 8, second >>> 0, true);
    if (body.length > 0) this.slab.set(body, at + 12);
    this.position = at + 4 + length;
    return true;
  }

  /** Appends an entry `prefix[0, prefixLength)` + `body` to the open batch; false when it does not fit. */
  batchPrefixed(prefix: Uint8Array, prefixLength: number, body: Uint8Array | string): boolean {
    const at = this.position;
    const room = this.batchLimit - at - 4 - prefixLength;
    const slab = this.slab;
    if (typeof body === 'string') {
      if (body.length * 3 > room) return false;
    } else if (body.length > room) {
      return false;
    }
    for (let i = 0; i < prefixLength; i++) slab[at + 4 + i] = prefix[i]!;
    let bodyLength: number;
    if (typeof body === 'string') {
      bodyLength = slab.write(body, at + 4 + prefixLength);
    } else {
      bodyLength = body.length;
      if (bodyLength > 0) slab.set(body, at + 4 + prefixLength);
    }
    this.view.setUint32(at, prefixLength + bodyLength, true);
    this.position = at + 4 + prefixLength + bodyLength;
    return true;
  }

  /** Closes the open batch frame; it is sealed at the next flush. */
  endBatch(): void {
    const at = this.batchAt;
    if (at < 0) return;
    this.batchAt = -1;
    const length = this.position - at - HEADER_SIZE;
    this.position = at;
    this.endCopied(at, length);
  }

  /**
   * Queues one frame whose payload is the 4-byte little-endian `word` followed by a small `body`
   * (at most copyThreshold bytes) — the shape of most messages, written with the fewest stores.
   */
  addWithWord(type: number, word: number, body: Uint8Array, flags: number, channel: number, sequence: number): void {
    const length = 4 + body.length;
    if (body.length > this.copyThreshold || length > this.maxFrameSize) {
      WORD_SCRATCH.writeUInt32LE(word >>> 0, 0);
      this.addPrefixed(type, WORD_SCRATCH, 4, body, flags, channel, sequence);
      return;
    }
    if (this.position + HEADER_SIZE + length > this.end) this.nextSlab(HEADER_SIZE + length);
    const at = this.beginHeader(type, flags, channel, sequence);
    this.view.setUint32(at + HEADER_SIZE, word >>> 0, true);
    if (body.length > 0) this.slab.set(body, at + HEADER_SIZE + 4);
    this.endCopied(at, length);
  }

  /**
   * Queues one frame whose payload is `prefix[0, prefixLength)` followed by `body`, without
   * joining them first. A string body is written as UTF-8 straight into the slab when it fits.
   */
  addPrefixed(
    type: number,
    prefix: Uint8Array,
    prefixLength: number,
    body: Uint8Array | string,
    flags = 0,
    channel = 0,
    sequence = 0,
  ): void {
    if (typeof body === 'string') {
      // Worst case three bytes per UTF-16 unit; otherwise measure, then encode once.
      const room = HEADER_SIZE + prefixLength + body.length * 3;
      if (body.length * 3 > this.copyThreshold || room > this.slabSize) {
        body = Buffer.from(body, 'utf8');
      } else {
        if (this.position + room > this.end) this.nextSlab(room);
        const at = this.beginHeader(type, flags, channel, sequence);
        const slab = this.slab;
        for (let i = 0; i < prefixLength; i++) slab[at + HEADER_SIZE + i] = prefix[i]!;
        const written = slab.write(body, at + HEADER_SIZE + prefixLength);
        this.endCopied(at, prefixLength + written);
        return;
      }
    }
    const length = prefixLength + body.length;
    if (length > this.maxFrameSize) {
      throw new HybridwireError(
        'HW_ERR_FRAME_TOO_LARGE',
        `payload of ${length} bytes exceeds maxFrameSize (${this.maxFrameSize})`,
      );
    }
    const copy = body.length <= this.copyThreshold;
    const room = HEADER_SIZE + prefixLength + (copy ? body.length : 0);
    if (this.position + room > this.end) this.nextSlab(room);
    const at = this.beginHeader(type, flags, channel, sequence);
    const slab = this.slab;
    const payloadAt = at + HEADER_SIZE;
    for (let i = 0; i < prefixLength; i++) slab[payloadAt + i] = prefix[i]!;
    if (copy) {
      if (body.length > 0) slab.set(body, payloadAt + prefixLength);
      this.endCopied(at, length);
      return;
    }
    slab.writeUInt32LE(length, at + 8);
    let crc = native.crc32c(slab.subarray(at, at + 12));
    if (prefixLength > 0) crc = native.crc32c(slab.subarray(payloadAt, payloadAt + prefixLength), crc);
    slab.writeUInt32LE(native.crc32c(body, crc), at + 12);
    this.position = payloadAt + prefixLength;
    this.queuedBytes += HEADER_SIZE + length;
    this.closeSegment();
    this.emit(Buffer.isBuffer(body) ? body : Buffer.from(body.buffer, body.byteOffset, body.length));
  }

  /**
   * Writes the next frames from the start of the slab again, when nothing is queued: the caller
   * knows that no buffer this encoder handed out is still referenced (a socket that has written
   * them all, none held back). The slab then stays in cache, and no new one is allocated for each
   * slab's worth of output; with `reuseSlabs`, the full slabs it moved past become spares. Without
   * `sharedSlab` only; otherwise nothing happens.
   */
  recycle(): void {
    if (this.sharedSlab || this.batchAt >= 0 || this.position !== this.segmentStart || this.unsealed !== 0 || this.first !== undefined) return;
    this.segmentStart = this.position = 0;
    const retired = this.retired;
    if (retired === undefined || retired.length === 0) return;
    for (let i = 0; i < retired.length && spareSlabs.length < SPARE_SLABS; i++) spareSlabs.push(retired[i]!);
    retired.length = 0;
  }

  /** Seals the queued frames (one native call for the checksums) and returns them as buffers in order. */
  flush(): Buffer[] {
    const first = this.seal();
    const output = this.output;
    this.output = NO_OUTPUT;
    if (output !== NO_OUTPUT) return output;
    return first === undefined ? [] : [first];
  }

  /**
   * flush(), storing the buffers into out[at...] rather than into an array of its own (which a
   * flush of one segment does not need); returns the index after the last.
   */
  flushInto(out: Buffer[], at: number): number {
    const first = this.seal();
    const output = this.output;
    if (output === NO_OUTPUT) {
      if (first !== undefined) out[at++] = first;
      return at;
    }
    this.output = NO_OUTPUT;
    for (let i = 0; i < output.length; i++) out[at++] = output[i]!;
    return at;
  }

  /** Seals what is queued and returns the output's first buffer (see `first`), leaving none. */
  private seal(): Buffer | undefined {
    this.endBatch();
    this.closeSegment();
    if (this.sharedSlab) this.releaseShared();
    this.queuedBytes = 0;
    const first = this.first;
    this.first = undefined;
    return first;
  }

  /** Encodes a whole batch: add() for each, then flush(). */
  encode(frames: readonly FrameSpec[]): Buffer[] {
    for (const frame of frames) {
      this.add(frame.type, frame.payload, frame.flags, frame.channel, frame.sequence);
    }
    return this.flush();
  }

  /** Encodes a batch into one contiguous buffer (for a datagram). */
  encodeToBuffer(frames: readonly FrameSpec[]): Buffer {
    const parts = this.encode(frames);
    return parts.length === 1 ? parts[0]! : Buffer.concat(parts);
  }

  private beginHeader(type: number, flags: number, channel: number, sequence: number): number {
    const at = this.position;
    this.view.setUint32(at, PROTOCOL_VERSION | (type << 8) | (flags << 16) | (channel << 24), true);
    this.view.setUint32(at + 4, sequence >>> 0, true);
    return at;
  }

  /** Finishes a frame whose payload was written into the slab; it is sealed at the next flush. */
  private endCopied(at: number, length: number): void {
    this.view.setUint32(at + 8, length, true);
    this.position = at + HEADER_SIZE + length;
    this.queuedBytes += HEADER_SIZE + length;
    if (this.sharedSlab) {
      ONE_OFFSET[0] = at;
      native.sealFrames(this.slab, ONE_OFFSET, 1);
      return;
    }
    if (this.unsealed === this.offsets.length) this.growOffsets();
    this.offsets[this.unsealed++] = at;
  }

  private closeSegment(): void {
    if (this.unsealed > 0) {
      native.sealFrames(this.slab, this.offsets, this.unsealed);
      this.unsealed = 0;
    }
    if (this.position > this.segmentStart) {
      this.emit(this.slab.subarray(this.segmentStart, this.position));
      this.segmentStart = this.position;
    }
  }

  /** Appends a buffer to the output. */
  private emit(buffer: Buffer): void {
    // Most flushes have one segment, which needs no array (see flushTo()).
    if (this.first === undefined) this.first = buffer;
    else if (this.output === NO_OUTPUT) this.output = [this.first, buffer];
    else this.output.push(buffer);
  }

  /** Room for `room` more bytes at `position`. Own slabs start small and double as traffic fills them, up to slabSize. */
  private nextSlab(room: number): void {
    if (this.sharedSlab) {
      this.reserveShared(room);
      return;
    }
    this.closeSegment();
    const size = Math.max(this.nextSlabSize, room);
    if (this.reuseSlabs) this.slab = this.swapSlab(size);
    // Never from Node's pool: a slab lives as long as its encoder, and would pin a pool slab.
    else this.slab = Buffer.allocUnsafeSlow(size);
    this.nextSlabSize = Math.min(this.nextSlabSize * 2, this.slabSize);
    this.view = new DataView(this.slab.buffer, this.slab.byteOffset, this.slab.length);
    this.segmentStart = 0;
    this.position = 0;
    this.end = this.slab.length;
  }

  /** With `reuseSlabs`: retires the full slab (if it has room in the list) and takes a spare one of `size` bytes, or a new one. */
  private swapSlab(size: number): typeof EMPTY_SLAB {
    const old = this.slab;
    if (old.length === this.slabSize) {
      const retired = (this.retired ??= []);
      if (retired.length < SPARE_SLABS) retired.push(old);
    }
    const spare = spareSlabs.length > 0 && size === this.slabSize ? spareSlabs[spareSlabs.length - 1]! : undefined;
    if (spare === undefined || spare.length !== size) return Buffer.allocUnsafeSlow(size);
    spareSlabs.pop();
    return spare;
  }

  /** Reserves `room` bytes of the shared slab: right after ours if nobody reserved since, else where it is free. */
  private reserveShared(room: number): void {
    if (this.slab === shared.slab && this.end === shared.free && this.position + room <= this.slab.length) {
      this.end = shared.free = this.position + room;
      return;
    }
    this.closeSegment();
    if (shared.free + room > shared.slab.length) {
      const slab = Buffer.allocUnsafeSlow(Math.max(SHARED_SLAB_SIZE, room));
      shared.slab = slab;
      shared.view = new DataView(slab.buffer, slab.byteOffset, slab.length);
      shared.free = 0;
    }
    this.slab = shared.slab;
    this.view = shared.view;
    this.segmentStart = this.position = shared.free;
    this.end = shared.free += room;
  }

  /**
   * Gives back what this encoder reserved of the shared slab and did not use, when nobody has
   * reserved after it, and lets go of the slab: an idle encoder holds none.
   */
  private releaseShared(): void {
    if (this.slab === shared.slab && this.end === shared.free) shared.free = this.position;
    this.slab = EMPTY_SLAB;
    this.view = EMPTY_VIEW;
    this.segmentStart = this.position = this.end = 0;
  }

  private growOffsets(): void {
    const grown = new Uint32Array(Math.max(MIN_OFFSETS, this.offsets.length * 2));
    grown.set(this.offsets);
    this.offsets = grown;
  }
}
