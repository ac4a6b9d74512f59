// Counts messages at the receiver and times them: from the first message of a phase to the one
// that reaches the target. The hot path is one increment, one add and one compare per message.
// When the target is only known after the sender has finished (or is never reached, as with UDP
// loss), the time of the last change comes from a 2 ms sampler, or from a stamp per message when
// `stampEach` is set (UDP, where rates are low enough for it not to matter). An echo server
// counts nothing, and runs no sampler: its timer would wake the loop the round trips are timed on.
const SAMPLE_MS = 2;

export class Counter {
  constructor({ stampEach = false, sample = true } = {}) {
    this.stampEach = stampEach;
    this.reset();
    this.sampledCount = 0;
    this.lastChangeAt = 0;
    this.sampler = sample
      ? setInterval(() => {
          if (this.count !== this.sampledCount) {
            this.sampledCount = this.count;
            this.lastChangeAt = performance.now();
          }
        }, SAMPLE_MS)
      : undefined;
  }

  reset() {
    this.count = 0;
    this.bytes = 0;
    this.target = Infinity;
    this.firstAt = 0;
    this.lastAt = 0;
    this.doneAt = 0;
    this.onTarget = undefined;
  }

  add(bytes) {
    if (this.count === 0) this.firstAt = performance.now();
    this.bytes += bytes;
    if (++this.count === this.target) {
      this.doneAt = performance.now();
      this.onTarget?.();
    }
    if (this.stampEach) this.lastAt = performance.now();
  }

  /** `messages` at once (a receiver that counts a chunk's messages without a call per message). */
  addMany(messages, bytes) {
    if (this.count === 0) this.firstAt = performance.now();
    this.bytes += bytes;
    const before = this.count;
    this.count += messages;
    if (before < this.target && this.count >= this.target) {
      this.doneAt = performance.now();
      this.onTarget?.();
    }
    if (this.stampEach) this.lastAt = performance.now();
  }

  /**
   * Resolves once `target` messages have arrived, or nothing has arrived for `quietMs`, or after
   * `timeoutMs`, with { count, bytes, elapsedMs, complete }.
   */
  expect(target, { quietMs, timeoutMs }) {
    return new Promise((resolve) => {
      let watch;
      let limit;
      const finish = (complete) => {
        clearInterval(watch);
        clearTimeout(limit);
        this.onTarget = undefined;
        let end = this.doneAt;
        if (!end) end = this.stampEach ? this.lastAt : Math.max(this.lastChangeAt, this.firstAt);
        resolve({ count: this.count, bytes: this.bytes, elapsedMs: this.count > 0 ? end - this.firstAt : 0, complete });
      };
      if (this.count >= target) {
        // Reached before the target was known: let the sampler see the last change first.
        setTimeout(() => finish(true), SAMPLE_MS * 3);
        return;
      }
      this.target = target;
      this.onTarget = () => queueMicrotask(() => finish(true));
      let seen = this.count;
      let seenAt = performance.now();
      watch = setInterval(() => {
        if (this.count !== seen) {
          seen = this.count;
          seenAt = performance.now();
        } else if (performance.now() - seenAt >= quietMs) finish(false);
      }, Math.max(1, Math.min(50, quietMs / 4)));
      limit = setTimeout(() => finish(false), timeoutMs);
    });
  }

  close() {
    clearInterval(this.sampler);
  }
}
