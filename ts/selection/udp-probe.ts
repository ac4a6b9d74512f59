/**
 * Measures a session's UDP path for automatic transport selection: a PING (docs/PROTOCOL.md 4.2)
 * every `intervalMs` on the path, each with a sequence number of its own, answered by the peer's
 * PONG with the same sequence. From the answers: the round-trip time (smoothed as TCP's SRTT,
 * RFC 6298) and the loss rate over the last WINDOW probes judged. A probe is judged lost once it
 * has waited max(2 intervals, 4 RTTs) without its PONG.
 *
 * Bounded: one probe per interval, the interval doubling with each probe lost in a row past the
 * second, up to MAX_BACKOFF times (reset by an answer), and at most WINDOW probes remembered.
 */

/** What the probe needs of a UDP path (ts/transport/udp-session.ts). */
export interface ProbePath {
  /** The path is validated (server) or the server answered (client). */
  readonly ready: boolean;
  /** Sends a PING with `sequence` outside the session's reliable endpoint. */
  sendProbe(sequence: number): void;
  /** Called with the sequence of each PONG that arrives. */
  probeAnswered: ((sequence: number) => void) | undefined;
}

/** Probes judged for the loss rate, and the fewest before a rate is given. */
const WINDOW = 20;
const MIN_JUDGED = 5;
const MAX_BACKOFF = 16;
/** Probes lost in a row before the interval starts doubling. */
const BACKOFF_AFTER = 2;
/** Probe sequences start here, apart from the small numbers of a client's address announcement. */
const FIRST_SEQUENCE = 0x8000_0000;

interface Outstanding {
  sequence: number;
  sentAt: number;
}

export class UdpProbe {
  sent = 0;
  answered = 0;
  /** Smoothed round-trip time of the answered probes; undefined before the first answer. */
  rttMs: number | undefined;
  private nextSequence = FIRST_SEQUENCE;
  private readonly outstanding: Outstanding[] = [];
  /** Outcomes of the last judged probes, true for lost. */
  private readonly judged: boolean[] = [];
  private lostInARow = 0;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;

  constructor(
    private readonly path: ProbePath,
    private readonly intervalMs: number,
    /** Whether the session is still open: the probe stops by itself once it is not. */
    private readonly alive: () => boolean,
  ) {
    path.probeAnswered = (sequence) => this.onAnswer(sequence);
    this.tick();
  }

  /** The fraction of recent probes lost, 0..1; undefined until enough were judged. */
  get loss(): number | undefined {
    this.judgeOverdue(performance.now());
    if (this.judged.length < MIN_JUDGED) return undefined;
    let lost = 0;
    for (const outcome of this.judged) if (outcome) lost++;
    return lost / this.judged.length;
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
    if (this.path.probeAnswered !== undefined) this.path.probeAnswered = undefined;
  }

  private tick(): void {
    if (this.stopped) return;
    if (!this.alive()) {
      this.stop();
      return;
    }
    const now = performance.now();
    this.judgeOverdue(now);
    // A path that is not ready yet is announcing itself already (the client) or waiting to be
    // validated (the server): probing it would measure nothing.
    if (this.path.ready) {
      const sequence = this.nextSequence;
      this.nextSequence = sequence === 0xffff_ffff ? FIRST_SEQUENCE : sequence + 1;
      this.outstanding.push({ sequence, sentAt: now });
      if (this.outstanding.length > WINDOW) {
        // Bounded even when RTTs are very long: the oldest counts as lost.
        this.outstanding.shift();
        this.record(true);
      }
      this.sent++;
      this.path.sendProbe(sequence);
    }
    // Scattered losses keep the pace (they are what is measured); a run of them backs off.
    const delay = this.intervalMs * Math.min(MAX_BACKOFF, 2 ** Math.max(0, this.lostInARow - BACKOFF_AFTER));
    this.timer = setTimeout(() => this.tick(), delay);
    this.timer.unref();
  }

  private onAnswer(sequence: number): void {
    const index = this.outstanding.findIndex((probe) => probe.sequence === sequence);
    // Not ours (an announcement's PONG), or already judged lost.
    if (index < 0) return;
    const [probe] = this.outstanding.splice(index, 1);
    const sample = performance.now() - probe!.sentAt;
    this.rttMs = this.rttMs === undefined ? sample : 0.875 * this.rttMs + 0.125 * sample;
    this.answered++;
    const backedOff = this.lostInARow > BACKOFF_AFTER;
    this.lostInARow = 0;
    this.record(false);
    // The path answers again: back to the normal pace at once, not after the long wait.
    if (backedOff && !this.stopped) {
      clearTimeout(this.timer);
      this.timer = setTimeout(() => this.tick(), this.intervalMs);
      this.timer.unref();
    }
  }

  /** Probes unanswered past their wait are lost. */
  private judgeOverdue(now: number): void {
    const wait = Math.max(2 * this.intervalMs, 4 * (this.rttMs ?? 0));
    while (this.outstanding.length > 0 && now - this.outstanding[0]!.sentAt >= wait) {
      this.outstanding.shift();
      this.lostInARow++;
      this.record(true);
    }
  }

  private record(lost: boolean): void {
    this.judged.push(lost);
    if (this.judged.length > WINDOW) this.judged.shift();
  }
}
