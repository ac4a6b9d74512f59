/**
 * Gathers the pieces in which a TLS socket hands over what it read, so that the receive path
 * decodes them at once. node:tls emits one 'data' event per TLS record (at most 16 KiB) and runs
 * microtasks between them, where a plain socket hands over up to 64 KiB per read: decoded piece by
 * piece, a TLS session ran the decoder's native call, the acknowledgement policy and an end-of-turn
 * flush four times as often, and copied most BATCH frames (up to 32 KiB) out of the two pieces they
 * straddled. The pieces that arrive in one poll phase of the event loop are handed over together in
 * its check phase (one setImmediate for every gathering socket), or as soon as GATHER_BYTES have
 * arrived, so a burst is decoded in chunks of the size plain TCP gives. A single piece is handed
 * over as it is; several are joined into a new buffer (handlers may keep views into it).
 */

/** Hand over what is gathered once this much has arrived, without waiting for the check phase. */
export const GATHER_BYTES = 64 * 1024;

/** Where gathered chunks go: the session, as a socket's 'data' would. */
export interface GatherTarget {
  socketData(chunk: Buffer): void;
}

/** Gathers one socket's pieces and hands them to its target (see the module's comment). */
export class ReadGather {
  private readonly pieces: Buffer[] = [];
  private bytes = 0;
  private queued = false;

  constructor(private readonly target: GatherTarget) {}

  /** Bytes gathered and not handed over yet. */
  get pendingBytes(): number {
    return this.bytes;
  }

  add(piece: Buffer): void {
    if (piece.length === 0) return;
    this.pieces.push(piece);
    this.bytes += piece.length;
    if (this.bytes >= GATHER_BYTES) {
      this.flush();
    } else if (!this.queued) {
      this.queued = true;
      DUE.push(this);
      if (DUE.length === 1) setImmediate(flushDue);
    }
  }

  /** Hands over what is gathered now (the socket ended, or the check phase came). */
  flush(): void {
    const bytes = this.bytes;
    if (bytes === 0) return;
    const pieces = this.pieces;
    const chunk = pieces.length === 1 ? pieces[0]! : Buffer.concat(pieces, bytes);
    pieces.length = 0;
    this.bytes = 0;
    this.target.socketData(chunk);
  }

  /** Forgets what is gathered (the socket closed). */
  discard(): void {
    this.pieces.length = 0;
    this.bytes = 0;
  }

  /** @internal Called by the check phase's flush. */
  due(): void {
    this.queued = false;
    this.flush();
  }
}

/** Gathers whose pieces wait for the check phase. */
const DUE: ReadGather[] = [];

function flushDue(): void {
  let i = 0;
  try {
    while (i < DUE.length) DUE[i++]!.due();
  } finally {
    // After a delivery that threw, the others still go, in a check phase of their own.
    DUE.splice(0, i);
    if (DUE.length > 0) setImmediate(flushDue);
  }
}
