/** How the send path hands buffers to the socket: as few write calls, and as little copying, as it can. */
import type { Socket } from 'node:net';

/** Buffers totalling at most this much are copied into one write rather than sent by writev. */
const JOIN_BYTES = 4096;

/**
 * Writes buffers[0, count), added to `counts.bytesOut`: one buffer as it is, a few small ones
 * joined, more with writev. Returns false when the socket's buffer is full (as socket.write() does).
 */
export function writeBuffers(socket: Socket, buffers: Buffer[], count: number, counts: { bytesOut: number }): boolean {
  let bytes = 0;
  for (let i = 0; i < count; i++) bytes += buffers[i]!.length;
  counts.bytesOut += bytes;
  if (count === 1) return socket.write(buffers[0]!);
  if (count <= 4 && bytes <= JOIN_BYTES) {
    const joined = Buffer.allocUnsafe(bytes);
    for (let i = 0, at = 0; i < count; i++) {
      joined.set(buffers[i]!, at);
      at += buffers[i]!.length;
    }
    return socket.write(joined);
  }
  let room = true;
  socket.cork();
  for (let i = 0; i < count; i++) room = socket.write(buffers[i]!);
  socket.uncork();
  return room;
}
