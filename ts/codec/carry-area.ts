/**
 * Where the frame decoders of the process join a frame that straddles socket reads: each such
 * frame gets a region of exactly its size, cut after the last one from a slab that every decoder
 * shares, instead of an ArrayBuffer of its own. Node reads a socket 64 KiB at a time, so a 64 KiB
 * message always straddles two reads, and with many connections (short reads) so do 32 KiB BATCH
 * frames: one allocation per slab instead of one per frame.
 *
 * A region is handed out once and never written again by the area. Its frame's payloads are views
 * that the application may keep, and that the send path may still reference in a pending write
 * (an echoed body, a relayed publish), so the area moves on rather than reuse memory; a slab is
 * let go (to the garbage collector, once no view of it is left) when the next region does not fit.
 *
 * Bounds: the area holds one slab, CARRY_SLAB_BYTES, made on first use; a frame larger than
 * MAX_POOLED_CARRY_BYTES gets a buffer of its own, which the area does not keep. A view kept by
 * the application keeps its whole slab alive, as a slice of Node's buffer pool keeps its pool.
 */

/** Size of the shared slab: seven 64 KiB messages, or sixteen full 32 KiB BATCH frames. */
export const CARRY_SLAB_BYTES = 512 * 1024;
/** Larger frames are joined in a buffer of their own. */
export const MAX_POOLED_CARRY_BYTES = 128 * 1024;
/** Regions start at multiples of this, as Node's pool aligns its slices. */
const ALIGN = 8;

let slab: ArrayBuffer | undefined;
let used = 0;

/** A buffer of exactly `size` bytes (contents undefined) that no other caller is given. */
export function takeCarry(size: number): Buffer {
  if (size > MAX_POOLED_CARRY_BYTES) return Buffer.allocUnsafeSlow(size);
  if (slab === undefined || used + size > CARRY_SLAB_BYTES) {
    // Uninitialised, as Buffer.allocUnsafe's would be: every byte of a region is written before it is read.
    slab = Buffer.allocUnsafeSlow(CARRY_SLAB_BYTES).buffer;
    used = 0;
  }
  const region = Buffer.from(slab, used, size);
  used = (used + size + ALIGN - 1) & ~(ALIGN - 1);
  return region;
}

/** Bytes the area holds for regions to come (its slab), for tests and diagnosis. */
export function carryAreaBytes(): number {
  return slab === undefined ? 0 : slab.byteLength;
}
