/**
 * How a flush is laid out for a TLS socket, so that the receiver finds whole frames in each TLS
 * record (docs/PROTOCOL.md 3.5, *(local)*).
 *
 * node:tls cuts what one SSL_write takes into records of TLS_RECORD_BYTES from its start, and the
 * receiver gets each record's plaintext as one 'data' chunk. A frame that crosses a record boundary
 * arrives in two chunks and is copied whole into the decoder's carry before it can be taken; with
 * BATCH frames of 16 or 32 KiB, nearly every frame does (bench/RESULTS.md, "TLS"). Writes made
 * while one is in flight are joined by node:tls into one SSL_write, so separate writes per record
 * do not help: the layout itself must put a boundary between frames at every multiple of
 * TLS_RECORD_BYTES. Where the next frame would cross one, a PADDING frame (ignorable, skipped by
 * every receiver) fills the rest of the record.
 */
import { native } from '../native/addon.js';
import { FrameType, HEADER_SIZE, PROTOCOL_VERSION } from '../codec/frame.js';

/**
 * The most plaintext node:tls puts into one TLS record (OpenSSL's default max_send_fragment): one
 * write of at most this much is one record; a longer one is cut into records of exactly this size.
 */
export const TLS_RECORD_BYTES = 16384;
/**
 * A write of a record or more whose last record is left with less room than this is padded to
 * that record's end too, so that what node:tls joins behind it in one SSL_write starts on a
 * boundary. (A write shorter than a record, a request or a reply, is never padded at its end.)
 */
const TAIL_PAD_MAX = 1024;
const ZEROS = Buffer.alloc(TLS_RECORD_BYTES);
const NONE: number[] = [];

/**
 * Joins `buffers[0, count)` (whole frames, `bytes` in all) into one buffer in which no frame of at
 * most TLS_RECORD_BYTES crosses a multiple of TLS_RECORD_BYTES, with PADDING frames where needed.
 * A larger frame crosses boundaries anyway and is laid where it comes; a gap of fewer than
 * HEADER_SIZE bytes cannot hold a PADDING frame and is left (the frame after it crosses). Returns
 * buffers[0] itself when it is the only one and needs no padding.
 */
export function joinIntoRecords(buffers: readonly Buffer[], count: number, bytes: number): Buffer {
  const joined = count === 1 ? buffers[0]! : join(buffers, count, bytes);
  const padding = paddingPlan(joined);
  if (padding.length === 0) return joined;
  let padBytes = 0;
  for (let i = 1; i < padding.length; i += 2) padBytes += padding[i]!;
  const out = Buffer.allocUnsafe(joined.length + padBytes);
  let from = 0;
  let to = 0;
  for (let i = 0; i < padding.length; i += 2) {
    const at = padding[i]!;
    to += joined.copy(out, to, from, at);
    from = at;
    to += writePadding(out, to, padding[i + 1]!);
  }
  joined.copy(out, to, from);
  return out;
}

/**
 * Where PADDING goes in `joined`: pairs of (offset in `joined` to pad before, padding size); none
 * when `joined` is not a sequence of whole frames (then it is written as it is).
 */
function paddingPlan(joined: Buffer): number[] {
  const plan: number[] = [];
  let out = 0;
  let at = 0;
  while (at < joined.length) {
    if (at + HEADER_SIZE > joined.length) return NONE;
    const size = HEADER_SIZE + joined.readUInt32LE(at + 8);
    if (size > joined.length - at) return NONE;
    const room = TLS_RECORD_BYTES - (out % TLS_RECORD_BYTES);
    if (size <= TLS_RECORD_BYTES && size > room && room >= HEADER_SIZE) {
      plan.push(at, room);
      out += room;
    }
    out += size;
    at += size;
  }
  const tail = TLS_RECORD_BYTES - (out % TLS_RECORD_BYTES);
  if (out >= TLS_RECORD_BYTES && tail < TAIL_PAD_MAX && tail >= HEADER_SIZE) plan.push(joined.length, tail);
  return plan;
}

/** Writes a PADDING frame of `size` bytes in all (header and zeros) at `at`; returns `size`. */
function writePadding(out: Buffer, at: number, size: number): number {
  out.writeUInt32LE(PROTOCOL_VERSION | (FrameType.PADDING << 8), at);
  out.writeUInt32LE(0, at + 4);
  out.writeUInt32LE(size - HEADER_SIZE, at + 8);
  const zeros = ZEROS.subarray(0, size - HEADER_SIZE);
  out.writeUInt32LE(native.crc32c(zeros, native.crc32c(out.subarray(at, at + 12))), at + 12);
  out.set(zeros, at + HEADER_SIZE);
  return size;
}

function join(buffers: readonly Buffer[], count: number, bytes: number): Buffer {
  const joined = Buffer.allocUnsafe(bytes);
  for (let i = 0, at = 0; i < count; i++) {
    joined.set(buffers[i]!, at);
    at += buffers[i]!.length;
  }
  return joined;
}
