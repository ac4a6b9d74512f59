/**
 * How the send paths of all sessions write to their sockets: at the end of the turn, through one
 * microtask for every session whose flush is due, and with as few writes as their buffers allow.
 * Nothing here is per session: a session holds no callback for its flush, and a flush gathers its
 * buffers into one shared array rather than into arrays of its own.
 */
import type { Socket } from 'node:net';

/** A session's send path, whose flush can be due at the end of the turn. */
export interface Flushable {
  /** Called once per flushAtEndOfTurn(); a flush done meanwhile leaves it nothing to do. */
  flushDue(): void;
}

/** Buffers totalling at most this much are copied into one write rather than sent by writev. */
const JOIN_BYTES = 4096;
const SETTLED = Promise.resolve();
const NO_BUFFER = Buffer.alloc(0);
/**
 * Sessions whose flush is due at the end of this turn, DUE[dueHead, dueCount). Entries are
 * cleared, never the array's length (which would give up its storage, to be allocated again next
 * turn).
 */
const DUE: Array<Flushable | undefined> = [];
let dueHead = 0;
let dueCount = 0;

/**
 * Where a flush gathers what it writes, GATHERED[0, count), written at once by writeGathered()
 * (socket.write() takes the buffers before it returns, and nothing it calls flushes): one array
 * for every session, whose entries are cleared after each write but not its storage.
 */
export const GATHERED: Buffer[] = [];

/** Calls `target.flushDue()` at the end of this turn, in one microtask with the others due. */
export function flushAtEndOfTurn(target: Flushable): void {
  DUE[dueCount++] = target;
  // A reaction on a settled promise is the cheapest microtask: queueMicrotask() allocates an
  // AsyncResource and a bound function per call.
  if (dueCount === 1) SETTLED.then(flushDue);
}

function flushDue(): void {
  try {
    while (dueHead < dueCount) {
      const target = DUE[dueHead]!;
      DUE[dueHead++] = undefined;
      target.flushDue();
    }
  } finally {
    // After a flush that threw, the others still go, in a microtask of their own.
    if (dueHead < dueCount) SETTLED.then(flushDue);
    else dueHead = dueCount = 0;
  }
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
 * Writes buffers[0, count): one buffer as it is, a few small ones joined, more with writev.
 * Returns what the socket's last write() returned: false when its buffer is full.
 */
export function writeBuffers(socket: Socket, buffers: Buffer[], count: number, counters: WriteCounters): boolean {
  let bytes = 0;
  for (let i = 0; i < count; i++) bytes += buffers[i]!.length;
  let room = true;
  if (count === 1) {
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
