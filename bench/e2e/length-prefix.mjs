// The hand-written baseline protocol: each message is a 4-byte little-endian length and the payload.
// The parser hands every complete frame of a chunk to `onMessage` as a Uint8Array view (no copy);
// only a frame that straddles chunks is copied, once. The walker only counts frames, touching
// nothing but their prefixes. Two senders: one socket.write per message, and one that copies
// frames into 64 KiB buffers and writes each buffer once (flushed when full and at the end of the
// current tick).
export const HEADER = 4;
export const MAX_FRAME = 128 * 1024 * 1024;
export const SLAB_SIZE = 64 * 1024;
/** Writers report backpressure once this much is queued in the socket (like hybridwire's default). */
export const HIGH_WATER_MARK = 1024 * 1024;

export class FrameParser {
  constructor(onMessage) {
    this.onMessage = onMessage;
    this.partial = undefined; // Buffer being filled with one straddling frame (header included)
    this.partialFilled = 0;
    this.header = Buffer.alloc(HEADER);
    this.headerFilled = 0;
  }

  push(chunk) {
    let offset = 0;
    const length = chunk.length;
    if (this.headerFilled > 0 || this.partial) {
      offset = this.resume(chunk);
      if (offset < 0) return;
    }
    const onMessage = this.onMessage;
    const buffer = chunk.buffer;
    const base = chunk.byteOffset;
    while (length - offset >= HEADER) {
      const size = chunk[offset] | (chunk[offset + 1] << 8) | (chunk[offset + 2] << 16) | (chunk[offset + 3] << 24);
      if (size < 0 || size > MAX_FRAME) throw new Error(`frame of ${size >>> 0} bytes exceeds the limit`);
      const end = offset + HEADER + size;
      if (end > length) break;
      onMessage(new Uint8Array(buffer, base + offset + HEADER, size));
      offset = end;
    }
    if (offset < length) this.stash(chunk, offset);
  }

  /** Continues a straddling frame; returns where the chunk's own frames start, or -1 if all used. */
  resume(chunk) {
    let offset = 0;
    if (!this.partial) {
      const take = Math.min(HEADER - this.headerFilled, chunk.length);
      chunk.copy(this.header, this.headerFilled, 0, take);
      this.headerFilled += take;
      offset = take;
      if (this.headerFilled < HEADER) return -1;
      const size = this.header.readUInt32LE(0);
      if (size > MAX_FRAME) throw new Error(`frame of ${size} bytes exceeds the limit`);
      this.partial = Buffer.allocUnsafe(HEADER + size);
      this.header.copy(this.partial, 0);
      this.partialFilled = HEADER;
      this.headerFilled = 0;
    }
    const take = Math.min(this.partial.length - this.partialFilled, chunk.length - offset);
    chunk.copy(this.partial, this.partialFilled, offset, offset + take);
    this.partialFilled += take;
    offset += take;
    if (this.partialFilled < this.partial.length) return -1;
    const frame = this.partial;
    this.partial = undefined;
    this.onMessage(new Uint8Array(frame.buffer, frame.byteOffset + HEADER, frame.length - HEADER));
    return offset;
  }

  stash(chunk, offset) {
    const rest = chunk.length - offset;
    if (rest < HEADER) {
      chunk.copy(this.header, 0, offset);
      this.headerFilled = rest;
      return;
    }
    const size = chunk.readUInt32LE(offset);
    this.partial = Buffer.allocUnsafe(HEADER + size);
    chunk.copy(this.partial, 0, offset);
    this.partialFilled = rest;
  }
}

/**
 * Counts the frames of a stream without a call per frame and without copying: it reads each
 * length prefix (even one split across chunks) and skips the payload. The parse-only baseline's
 * receiver.
 */
export class PrefixWalker {
  constructor() {
    this.skip = 0; // payload bytes of the current frame still to come
    this.current = 0; // the current frame's payload size
    this.header = 0; // prefix bytes of the next frame read so far, when it straddles chunks (0..3)
    this.size = 0; // that prefix, as far as it is read
    this.bytes = 0; // payload bytes of the frames completed since takeBytes()
  }

  /** Walks one chunk; returns how many frames it completed. */
  push(chunk) {
    const length = chunk.length;
    let offset = 0;
    let frames = 0;
    let bytes = 0;
    for (;;) {
      if (this.skip > 0) {
        const take = Math.min(this.skip, length - offset);
        this.skip -= take;
        offset += take;
        if (this.skip > 0) break;
        frames++;
        bytes += this.current;
      }
      let size;
      if (this.header === 0 && length - offset >= HEADER) {
        size = chunk[offset] | (chunk[offset + 1] << 8) | (chunk[offset + 2] << 16) | (chunk[offset + 3] << 24);
        offset += HEADER;
      } else {
        while (this.header < HEADER && offset < length) this.size |= chunk[offset++] << (8 * this.header++);
        if (this.header < HEADER) break;
        size = this.size;
        this.header = 0;
        this.size = 0;
      }
      if (size < 0 || size > MAX_FRAME) throw new Error(`frame of ${size >>> 0} bytes exceeds the limit`);
      if (size === 0) frames++;
      this.skip = size;
      this.current = size;
    }
    this.bytes += bytes;
    return frames;
  }

  /** Payload bytes of the frames completed since the last call. */
  takeBytes() {
    const bytes = this.bytes;
    this.bytes = 0;
    return bytes;
  }
}

/** Payloads from this size on are not copied: header and payload go out in one writev. */
export const WRITEV_FROM = 16 * 1024;

/** Writes one frame in one syscall: copied into one buffer when small, header + payload writev when large. */
function writeFrame(socket, payload) {
  const size = payload.length;
  if (size < WRITEV_FROM) {
    const frame = Buffer.allocUnsafe(HEADER + size);
    frame.writeUInt32LE(size, 0);
    frame.set(payload, HEADER);
    return socket.write(frame) || socket.writableLength < HIGH_WATER_MARK;
  }
  const header = Buffer.allocUnsafe(HEADER);
  header.writeUInt32LE(size, 0);
  socket.cork();
  socket.write(header);
  const ok = socket.write(payload);
  socket.uncork();
  return ok || socket.writableLength < HIGH_WATER_MARK;
}

/** Baseline (a): one socket.write per message. */
export class OneWriteSender {
  constructor(socket) {
    this.socket = socket;
  }

  /** Returns false once the socket has HIGH_WATER_MARK queued: wait for 'drain'. */
  write(payload) {
    return writeFrame(this.socket, payload);
  }

  flush() {}
}

/**
 * Baseline (b): frames are copied into a 64 KiB buffer and written at the end of the tick (or when
 * it fills), one write per flush; the next frames go into the rest of the same buffer, so a buffer
 * is allocated per 64 KiB, not per flush. Large payloads go out on their own, uncopied.
 */
export class CoalescingSender {
  constructor(socket) {
    this.socket = socket;
    this.slab = Buffer.allocUnsafe(SLAB_SIZE);
    this.start = 0; // bytes before this belong to the socket already
    this.used = 0;
    this.flushScheduled = false;
    this.flushLater = () => {
      this.flushScheduled = false;
      this.flush();
    };
  }

  write(payload) {
    const size = payload.length;
    if (size >= WRITEV_FROM) {
      this.flush(); // keep the order
      return writeFrame(this.socket, payload);
    }
    if (this.used + HEADER + size > SLAB_SIZE) {
      this.flush();
      this.slab = Buffer.allocUnsafe(SLAB_SIZE);
      this.start = 0;
      this.used = 0;
    }
    const slab = this.slab;
    let at = this.used;
    slab[at] = size;
    slab[at + 1] = size >>> 8;
    slab[at + 2] = size >>> 16;
    slab[at + 3] = size >>> 24;
    at += HEADER;
    if (size <= 64) for (let i = 0; i < size; i++) slab[at + i] = payload[i];
    else slab.set(payload, at);
    this.used = at + size;
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      process.nextTick(this.flushLater);
    }
    return this.socket.writableLength < HIGH_WATER_MARK;
  }

  flush() {
    if (this.used === this.start) return;
    this.socket.write(this.slab.subarray(this.start, this.used));
    this.start = this.used;
  }
}
