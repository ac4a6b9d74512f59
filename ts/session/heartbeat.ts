/**
 * The heartbeat of one TCP session (docs/PROTOCOL.md, section 6): a PING every interval, and the
 * peer found dead once nothing has come from it for the timeout, unless this side has itself
 * stopped reading it.
 */

/** What the heartbeat needs of its session. */
export interface HeartbeatHost {
  /** This side has stopped reading the peer (backpressure, the handler limit): the quiet is its own. */
  readingPaused(): boolean;
  sendPing(payload: Buffer, sequence: number): void;
  /** Nothing came from the peer for `timeoutMs`. */
  timedOut(timeoutMs: number): void;
}

export class Heartbeat {
  /**
   * Set by every socket chunk, cleared by the beat. Chunks only raise this flag (a clock read on
   * every chunk of both sides would cost more than the rest of the chunk's bookkeeping); the beat
   * takes the time when it finds the flag raised, which is no earlier than the data came, so a
   * peer is never declared dead before it has been silent for the timeout, and at most one
   * interval after.
   */
  received = false;
  /** When the beat last saw that frames had come, or that reading was paused. */
  private lastReceivedAt = 0;
  private pingSequence = 0;
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly host: HeartbeatHost) {}

  start(intervalMs: number, timeoutMs: number): void {
    this.lastReceivedAt = Date.now();
    this.received = false;
    this.timer = setInterval(() => this.beat(timeoutMs), intervalMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  private beat(timeoutMs: number): void {
    const now = Date.now();
    // While reading is paused nothing can arrive: the silence starts counting when it resumes.
    if (this.received || this.host.readingPaused()) {
      this.received = false;
      this.lastReceivedAt = now;
    } else if (now - this.lastReceivedAt > timeoutMs) {
      this.stop();
      this.host.timedOut(timeoutMs);
      return;
    }
    const payload = Buffer.allocUnsafe(8);
    payload.writeDoubleLE(performance.now(), 0);
    this.host.sendPing(payload, ++this.pingSequence);
  }
}
