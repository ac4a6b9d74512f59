/**
 * The heartbeat of one TCP session (docs/PROTOCOL.md, section 6): a PING every interval, and the
 * peer found dead once nothing has come from it for the timeout, unless this side has itself
 * stopped reading it.
 *
 * The beats of many sessions are driven by one HeartbeatWheel (a server has one for all its
 * sessions) rather than by a timer each: an idle session then holds no timer, and the wheel's
 * slots spread the PINGs of sessions over the interval instead of sending them all in one turn.
 */
import { HybridwireError } from '../errors.js';

/** What the heartbeat needs of its session. */
/** PING and PONG payloads are at most this long (docs/PROTOCOL.md, section 1). */
const MAX_PING_PAYLOAD = 64;

/** Refuses a PING or PONG payload over MAX_PING_PAYLOAD bytes (HW_ERR_FRAME_TOO_LARGE). */
export function checkPingPayload(length: number): void {
  if (length > MAX_PING_PAYLOAD) {
    throw new HybridwireError('HW_ERR_FRAME_TOO_LARGE', `PING or PONG payload of ${length} bytes; at most ${MAX_PING_PAYLOAD} are allowed`);
  }
}

export interface HeartbeatHost {
  /** This side has stopped reading the peer (backpressure, the handler limit): the quiet is its own. */
  readingPaused(): boolean;
  sendPing(payload: Buffer, sequence: number): void;
  /** Nothing came from the peer for `timeoutMs`. */
  timedOut(timeoutMs: number): void;
}

/** A wheel turns through this many slots per interval (fewer for intervals under 10 ms a slot). */
const WHEEL_SLOTS = 16;
const MIN_SLOT_MS = 10;

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
  private timeoutMs = 0;
  /** The wheel that beats this heartbeat while it runs, and its place there (see HeartbeatWheel). */
  private wheel: HeartbeatWheel | undefined;
  /** @internal */
  slot = 0;
  /** @internal */
  index = 0;

  constructor(private readonly host: HeartbeatHost) {}

  /**
   * Beats every `intervalMs`, driven by `wheel` when it turns at that interval (shared by many
   * sessions), else by a wheel of its own. The first PING goes out about one interval from now.
   */
  start(intervalMs: number, timeoutMs: number, wheel?: HeartbeatWheel): void {
    this.stop();
    this.timeoutMs = timeoutMs;
    this.lastReceivedAt = Date.now();
    this.received = false;
    this.wheel = wheel !== undefined && wheel.intervalMs === intervalMs ? wheel : new HeartbeatWheel(intervalMs);
    this.wheel.add(this);
  }

  stop(): void {
    const wheel = this.wheel;
    if (wheel === undefined) return;
    this.wheel = undefined;
    wheel.remove(this);
  }

  /** @internal One beat, at `now` (Date.now()); called by the wheel once per interval. */
  beat(now: number): void {
    // While reading is paused nothing can arrive: the silence starts counting when it resumes.
    if (this.received || this.host.readingPaused()) {
      this.received = false;
      this.lastReceivedAt = now;
    } else if (now - this.lastReceivedAt > this.timeoutMs) {
      this.stop();
      this.host.timedOut(this.timeoutMs);
      return;
    }
    const payload = Buffer.allocUnsafe(8);
    payload.writeDoubleLE(performance.now(), 0);
    this.host.sendPing(payload, ++this.pingSequence);
  }
}

/**
 * Beats heartbeats of one interval with one timer: the interval is cut into slots, and each
 * heartbeat beats when its slot comes round, once per interval. The timer runs only for slots that
 * hold heartbeats (a wheel of one heartbeat wakes once per interval, not once per slot) and only
 * while the wheel has any. A heartbeat joins the slot now passing, so its first beat comes between
 * one slot and one interval from its start (exactly one interval for the first of a wheel).
 */
export class HeartbeatWheel {
  private readonly slots: Heartbeat[][] = [];
  private readonly slotMs: number;
  /** The last slot turned, counted since the wheel (re)started, and when it did (Date.now()). */
  private tick = 0;
  private startedAt = 0;
  /** The slot the timer is set for, while it is set. */
  private target = 0;
  private count = 0;
  private timer: NodeJS.Timeout | undefined;
  private turning = false;
  private readonly onTimer = (): void => this.turn();

  /** `emptied` runs when the wheel's last heartbeat leaves it (see sharedHeartbeatWheel). */
  constructor(
    readonly intervalMs: number,
    private readonly emptied?: () => void,
  ) {
    const slots = Math.max(1, Math.min(WHEEL_SLOTS, Math.floor(intervalMs / MIN_SLOT_MS)));
    for (let i = 0; i < slots; i++) this.slots.push([]);
    this.slotMs = intervalMs / slots;
  }

  /** How many heartbeats the wheel beats. */
  get size(): number {
    return this.count;
  }

  /** @internal */
  add(heartbeat: Heartbeat): void {
    const now = Date.now();
    if (this.count++ === 0 && !this.turning) {
      this.tick = 0;
      this.startedAt = now;
    }
    // The slot passing now: the timer may have skipped empty slots since the last turn, but never
    // past the one it is set for.
    let current = this.tick;
    if (this.timer !== undefined) current = Math.max(current, Math.min(this.target - 1, Math.floor((now - this.startedAt) / this.slotMs)));
    const slot = current % this.slots.length;
    const members = this.slots[slot]!;
    heartbeat.slot = slot;
    heartbeat.index = members.length;
    members.push(heartbeat);
    if (this.timer === undefined && !this.turning) this.schedule();
  }

  /** @internal */
  remove(heartbeat: Heartbeat): void {
    const members = this.slots[heartbeat.slot]!;
    const last = members.pop()!;
    if (last !== heartbeat) {
      members[heartbeat.index] = last;
      last.index = heartbeat.index;
    }
    if (--this.count === 0) {
      if (this.timer !== undefined) {
        clearTimeout(this.timer);
        this.timer = undefined;
      }
      this.emptied?.();
    }
  }

  /** Sets the timer for the next slot that holds heartbeats (at most one interval on). */
  private schedule(): void {
    const slots = this.slots.length;
    let step = 1;
    while (step < slots && this.slots[(this.tick + step) % slots]!.length === 0) step++;
    this.target = this.tick + step;
    const now = Date.now();
    let delay = this.startedAt + this.target * this.slotMs - now;
    if (delay < 0) {
      // The process was busy past a slot: go on from now rather than run the missed slots back to back.
      this.startedAt -= delay;
      delay = 0;
    }
    this.timer = setTimeout(this.onTimer, delay);
    this.timer.unref();
  }

  private turn(): void {
    this.timer = undefined;
    this.tick = this.target;
    const members = this.slots[this.tick % this.slots.length]!;
    const now = Date.now();
    this.turning = true;
    try {
      // From the end: a heartbeat that stops while it beats takes the last one's place, already beaten.
      for (let i = members.length - 1; i >= 0; i--) members[i]?.beat(now);
    } finally {
      this.turning = false;
    }
    if (this.count > 0) this.schedule();
  }
}

/** The process's wheels for sessions that have no server to share one (clients), by interval. */
const SHARED_WHEELS = new Map<number, HeartbeatWheel>();

/**
 * The wheel of this process for `intervalMs`, shared by every client session of that interval, so
 * that N clients in one process hold one timer rather than N. A wheel leaves the table when its
 * last heartbeat stops, so the table holds only the intervals in use.
 */
export function sharedHeartbeatWheel(intervalMs: number): HeartbeatWheel {
  let wheel = SHARED_WHEELS.get(intervalMs);
  if (wheel === undefined) {
    const created = new HeartbeatWheel(intervalMs, () => {
      if (SHARED_WHEELS.get(intervalMs) === created) SHARED_WHEELS.delete(intervalMs);
    });
    wheel = created;
    SHARED_WHEELS.set(intervalMs, wheel);
  }
  return wheel;
}
