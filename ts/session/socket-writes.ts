/**
 * How the send paths of all sessions write a flush to their sockets: with as few writes as their
 * buffers allow, gathered into one shared array rather than into arrays of their own. When a flush
 * happens is ./flush-queue.ts.
 */
import type { Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { HEADER_SIZE } from '../codec/frame.js';
import { TLS_RECORD_BYTES, joinIntoRecords } from './tls-records.js';

/** Buffers totalling at most this much are copied into one write rather than sent by writev. */
const JOIN_BYTES = 4096;
const NO_BUFFER = Buffer.alloc(0);
/**
 * Where a flush gathers what it writes, GATHERED[0, count), written at once by writeGathered()
 * (socket.write() takes the buffers before it returns, and nothing it calls flushes): one array
 * for every session, whose entries are cleared after each write but not its storage.
 */
export const GATHERED: Buffer[] = [];

/** How a send path sizes its BATCH frames and when a long burst flushes. */
export interface WriteSizes {
  /** The most payload one BATCH frame holds. */
  batchBytes: number;
  /** A burst flushes before it starts a frame once this much is encoded. */
  flushBytes: number;
}

const PLAIN_SIZES: WriteSizes = { batchBytes: 32 * 1024, flushBytes: 64 * 1024 };
/**
 * On TLS: a BATCH frame fits one record with room to spare for the small frames a flush may start
 * with (an ACK, a TYPE_DEF) and a PADDING frame's header, so that ./tls-records.ts can lay every
 * frame inside a record; a burst's flush is about four records (it flushes once the next such
 * frame could pass them).
 */
const TLS_SIZES: WriteSizes = { batchBytes: TLS_RECORD_BYTES - 4 * HEADER_SIZE, flushBytes: 3 * TLS_RECORD_BYTES + 1 };

/** The sizes for a send path writing to `socket`. */
export function writeSizesFor(socket: Socket): WriteSizes {
  return (socket as TLSSocket).encrypted === true ? TLS_SIZES : PLAIN_SIZES;
}

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
 * TLS socket they are always joined into one write, laid out in whole TLS records
 * (./tls-records.ts): node:tls copies the buffers of a writev into one before encrypting them
 * anyway, after a write() call and its bookkeeping for each.
 * Returns what the socket's last write() returned: false when its buffer is full.
 */
export function writeBuffers(socket: Socket, buffers: Buffer[], count: number, counters: WriteCounters): boolean {
  let bytes = 0;
  for (let i = 0; i < count; i++) bytes += buffers[i]!.length;
  let room = true;
  if ((socket as TLSSocket).encrypted === true) {
    const records = joinIntoRecords(buffers, count, bytes);
    room = socket.write(records);
    bytes = records.length;
  } else if (count === 1) {
    room = socket.write(buffers[0]!);
  } else if (count <= 4 && bytes <= JOIN_BYTES) {
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
