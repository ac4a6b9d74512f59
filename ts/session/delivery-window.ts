/**
 * Sequence numbers, acknowledgements and the window of one TCP session (docs/PROTOCOL.md, section
 * 6): step mode is a window of one frame, burst mode a window of N.
 *
 * The stream below is reliable and ordered, so nothing is retransmitted: the send side bounds how
 * far this end runs ahead of what the peer has acknowledged, and the receive side checks that
 * sequenced frames arrive without gaps and within the window. Sequence numbers are u32 and wrap.
 *
 * Kept in JS, not in the addon: a round trip makes four window operations on each side (accept,
 * acknowledge, reserve, acked), each a few integer updates, far cheaper than the N-API call that
 * a native window costs per chunk; the addon would only win on chunks of many more sequenced
 * frames than a chunk holds (a few BATCH frames, or at most a few dozen larger ones).
 */
import { FrameType, Row, ROW_WIDTH } from '../codec/frame.js';

export class DeliveryWindow {
  readonly sendWindow: number;
  readonly receiveWindow: number;
  /** Sequence numbers below this one have been sent (reserved). */
  private sent = 0;
  /** Sequence numbers below this one have been acknowledged by the peer. */
  private sentAcknowledged = 0;
  /** The next sequence number expected from the peer: what an ACK carries. */
  nextExpected = 0;
  /** nextExpected as of the last ACK sent. */
  private receivedAcknowledged = 0;

  constructor(sendWindow: number, receiveWindow: number) {
    this.sendWindow = Math.max(1, sendWindow >>> 0);
    this.receiveWindow = Math.max(1, receiveWindow >>> 0);
  }

  /** Frames sent and not yet acknowledged. */
  get inFlight(): number {
    return (this.sent - this.sentAcknowledged) >>> 0;
  }

  /** How many more frames may be sent now. */
  get available(): number {
    return this.sendWindow - this.inFlight;
  }

  /** Frames received and accepted that no ACK has covered yet. */
  get unacknowledged(): number {
    return (this.nextExpected - this.receivedAcknowledged) >>> 0;
  }

  /** Takes up to `wanted` sequence numbers; returns how many were granted (maybe 0). */
  reserve(wanted: number): number {
    const granted = Math.min(wanted, this.available);
    this.sent = (this.sent + granted) >>> 0;
    return granted;
  }

  /**
   * Applies the peer's cumulative ACK ("every frame below `nextExpected` was processed").
   * Returns how many frames it newly acknowledges, or -1 if it covers frames never sent.
   */
  acknowledge(nextExpected: number): number {
    const newly = (nextExpected - this.sentAcknowledged) >>> 0;
    if (newly > this.inFlight) return -1;
    this.sentAcknowledged = nextExpected >>> 0;
    return newly;
  }

  /**
   * Checks the sequence numbers of the sequenced frames (MESSAGE, TYPE_DEF) among the decoded
   * frame rows [first, end) and advances the stream past them. Returns the index of the first row
   * out of sequence, or `end` if all follow on.
   */
  accept(rows: Uint32Array, first: number, end: number): number {
    let expected = this.nextExpected;
    let i = first;
    for (; i < end; i++) {
      const base = i * ROW_WIDTH;
      const type = rows[base + Row.TYPE];
      if (type !== FrameType.MESSAGE && type !== FrameType.TYPE_DEF) continue;
      if (rows[base + Row.SEQUENCE] !== expected) break;
      expected = (expected + 1) >>> 0;
    }
    this.nextExpected = expected;
    return i;
  }

  /**
   * Rows [first, end) were accepted but are not processed yet (dispatch stopped at its handler
   * limit): the stream goes back to the first sequenced frame among them, so that no ACK covers
   * them (an ACK says every lower number is processed), and accept() takes them again later.
   */
  unaccept(rows: Uint32Array, first: number, end: number): void {
    for (let i = first; i < end; i++) {
      const base = i * ROW_WIDTH;
      const type = rows[base + Row.TYPE];
      if (type !== FrameType.MESSAGE && type !== FrameType.TYPE_DEF) continue;
      this.nextExpected = rows[base + Row.SEQUENCE]!;
      return;
    }
  }

  /** An ACK carrying nextExpected is going out: everything received so far counts as acknowledged. */
  acked(): void {
    this.receivedAcknowledged = this.nextExpected;
  }
}
