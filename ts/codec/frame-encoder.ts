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
const MIN_SLAB = 1024;

/**
 * Encodes batches of frames for `socket.writev()` or one datagram.
 *
 * Headers are written in JS into a slab; small payloads are copied beside them so that a batch of
 * small messages becomes one buffer, and the checksums of the whole batch are computed in one
 * native call at `flush()`. Payloads over `copyThreshold` are not copied: the output lists them as
 * they are, between slab segments. Regions of a slab that were handed out are never written again,
 * so the returned buffers stay valid however long a socket holds them.
 */
export class FrameEncoder {
  readonly slabSize: number;
  readonly copyThreshold: number;
  readonly maxFrameSize: number;
  private slab: Buffer;
  /** Little-endian stores into the slab: a DataView store costs a third of Buffer#writeUInt32LE. */
  private view: DataView;
  private segmentStart = 0;
  private position = 0;
  private offsets = new Uint32Array(16);
  private unsealed = 0;
  private output: Buffer[] = [];
  private queuedBytes = 0;
  private nextSlabSize: number;
  private readonly wordScratch = Buffer.allocUnsafe(4);
  /** Offset of the open BATCH frame's header, or -1; and where its payload may extend to. */
  private batchAt = -1;
  private batchLimit = 0;

  constructor(options: FrameEncoderOptions = {}) {
    this.slabSize = checkInteger('slabSize', options.slabSize ?? 64 * 1024, 256, 64 * 1024 * 1024);
    this.copyThreshold = checkInteger('copyThreshold', options.copyThreshold ?? 1024, 0, this.slabSize - HEADER_SIZE);
    this.maxFrameSize = checkInteger('maxFrameSize', options.maxFrameSize ?? DEFAULT_MAX_FRAME_SIZE, 0, MAX_MAX_FRAME_SIZE);
    // No memory until the first frame: an idle connection should cost next to nothing.
    this.slab = EMPTY_SLAB;
    this.view = new DataView(EMPTY_SLAB.buffer, EMPTY_SLAB.byteOffset, 0);
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
    if (this.position + HEADER_SIZE + maxBytes > this.slab.length) this.nextSlab(HEADER_SIZE + maxBytes);
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
      this.wordScratch.writeUInt32LE(word >>> 0, 0);
      this.addPrefixed(type, this.wordScratch, 4, body, flags, channel, sequence);
      return;
    }
    if (this.position + HEADER_SIZE + length > this.slab.length) this.nextSlab(HEADER_SIZE + length);
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
        if (this.position + room > this.slab.length) this.nextSlab(room);
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
    if (this.position + room > this.slab.length) this.nextSlab(room);
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
    this.output.push(Buffer.isBuffer(body) ? body : Buffer.from(body.buffer, body.byteOffset, body.length));
  }

  /** Seals the queued frames (one native call for the checksums) and returns them as buffers in order. */
  flush(): Buffer[] {
    this.endBatch();
    this.closeSegment();
    const output = this.output;
    this.output = [];
    this.queuedBytes = 0;
    return output;
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
    if (this.unsealed === this.offsets.length) this.growOffsets();
    this.offsets[this.unsealed++] = at;
  }

  private closeSegment(): void {
    if (this.unsealed > 0) {
      native.sealFrames(this.slab, this.offsets, this.unsealed);
      this.unsealed = 0;
    }
    if (this.position > this.segmentStart) {
      const segment = this.slab.subarray(this.segmentStart, this.position);
      // Most flushes return one segment: an array of exactly one costs less than growing an empty one.
      if (this.output.length === 0) this.output = [segment];
      else this.output.push(segment);
      this.segmentStart = this.position;
    }
  }

  /** Slabs start small and double as traffic fills them, up to slabSize. */
  private nextSlab(room: number): void {
    this.closeSegment();
    this.slab = Buffer.allocUnsafe(Math.max(this.nextSlabSize, room));
    this.nextSlabSize = Math.min(this.nextSlabSize * 2, this.slabSize);
    this.view = new DataView(this.slab.buffer, this.slab.byteOffset, this.slab.length);
    this.segmentStart = 0;
    this.position = 0;
  }

  private growOffsets(): void {
    const grown = new Uint32Array(this.offsets.length * 2);
    grown.set(this.offsets);
    this.offsets = grown;
  }
}
