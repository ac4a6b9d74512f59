/**
 * How the send paths of all sessions write a flush to their sockets: with as few writes as their
 * buffers allow, gathered into one shared array rather than into arrays of their own. When a flush
 * happens is ./flush-queue.ts.
 */
import type { Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';

/** Buffers totalling at most this much are copied into one write rather than sent by writev. */
const JOIN_BYTES = 4096;
const NO_BUFFER = Buffer.alloc(0);
/**
 * Where a flush gathers what it writes, GATHERED[0, count), written at once by writeGathered()
 * (socket.write() takes the buffers before it returns, and nothing it calls flushes): one array
 * for every session, whose entries are cleared after each write but not its storage.
 */
export const GATHERED: Buffer[] = [];

/** Counts what is written. */
export interface WriteCounters {
  bytesOut: number;
}

/** writeBuffers() of GATHERED[0, count), whose entries it then clears. */
export function writeGathered(socket: Socket, count: number, counters: WriteCounters): boolean {
  if (count === 0) return true;
  try {
    return writeBuffers(socket, GATHERED, count, counters);
  } finally {
    for (let i = 0; i < count; i++) GATHERED[i] = NO_BUFFER;
  }
}

/**
 * Writes buffers[0, count): one buffer as it is, a few small ones joined, more with writev. On a
 * TLS socket they are always joined into one write: node:tls copies the buffers of a writev into
 * one before encrypting them anyway, after a write() call and its bookkeeping for each.
 * Returns what the socket's last write() returned: false when its buffer is full.
 */
export function writeBuffers(socket: Socket, buffers: Buffer[], count: number, counters: WriteCounters): boolean {
  let bytes = 0;
  for (let i = 0; i < count; i++) bytes += buffers[i]!.length;
  let room = true;
  if (count === 1) {
    room = socket.write(buffers[0]!);
  } else if ((count <= 4 && bytes <= JOIN_BYTES) || (socket as TLSSocket).encrypted === true) {
    const joined = Buffer.allocUnsafe(bytes);
    for (let i = 0, at = 0; i < count; i++) {
      joined.set(buffers[i]!, at);
      at += buffers[i]!.length;
    }
    room = socket.write(joined);
  } else {
    socket.cork();
    for (let i = 0; i < count; i++) room = socket.write(buffers[i]!);
    socket.uncork();
  }
  counters.bytesOut += bytes;
  return room;
}
