/**
 * A token bucket: `ratePerSecond` tokens accrue continuously up to `capacity`. The clock is
 * injected (milliseconds, monotonic), so that the bucket is tested without waiting.
 *
 * A message costs 1 token of a message bucket and its size in tokens of a byte bucket; a cost
 * above the capacity counts as the capacity, so that a message larger than the burst passes once
 * the bucket is full instead of never.
 */
export type Clock = () => number;

export const monotonicClock: Clock = () => performance.now();

export class TokenBucket {
  private tokens: number;
  private refilledAt: number;

  constructor(
    readonly ratePerSecond: number,
    readonly capacity: number,
    private readonly now: Clock = monotonicClock,
  ) {
    this.tokens = capacity;
    this.refilledAt = now();
  }

  /** Tokens now (negative while the bucket is in debt). */
  get available(): number {
    this.refill();
    return this.tokens;
  }

  /** Takes `cost` tokens if the bucket holds them; otherwise takes nothing and returns false. */
  tryTake(cost: number): boolean {
    this.refill();
    const due = Math.min(cost, this.capacity);
    if (this.tokens < due) return false;
    this.tokens -= due;
    return true;
  }

  /**
   * Takes `cost` tokens whether or not the bucket holds them (what was already read must be
   * counted): the debt is paid back by waiting. The debt is bounded by one capacity.
   */
  take(cost: number): void {
    this.refill();
    this.tokens = Math.max(this.tokens - Math.min(cost, this.capacity), -this.capacity);
  }

  /** Milliseconds until the bucket holds `cost` tokens (0 if it does now). */
  msUntil(cost: number): number {
    this.refill();
    const missing = Math.min(cost, this.capacity) - this.tokens;
    return missing <= 0 ? 0 : Math.ceil((missing * 1000) / this.ratePerSecond);
  }

  private refill(): void {
    const now = this.now();
    const elapsed = now - this.refilledAt;
    if (elapsed <= 0) return;
    this.refilledAt = now;
    this.tokens = Math.min(this.capacity, this.tokens + (elapsed * this.ratePerSecond) / 1000);
  }
}
