/**
 * Latencies in a log-linear histogram (nanoseconds; exact below 256 ns, then 128 buckets per power
 * of two, under 0.8% error), so memory stays fixed however long the run. `hybridwire bench` and
 * bench/e2e both report round trips through it.
 */
export interface LatencySummary {
  count: number;
  minUs: number;
  meanUs: number;
  p50Us: number;
  p99Us: number;
  p999Us: number;
  maxUs: number;
}

/** Buckets: 256 exact ones, then 128 for each power of two from 2^8 to 2^32 ns. */
const EXACT = 256;
const SUB_BUCKETS = 128;
const SUB_BITS = 7;
const MAX_NS = 0xffffffff;

export class Histogram {
  private readonly counts = new Float64Array(EXACT + 25 * SUB_BUCKETS);
  count = 0;
  private sum = 0;
  private min = Infinity;
  private max = 0;

  /** Records one latency, in milliseconds (as performance.now() differences come). */
  recordMs(ms: number): void {
    const ns = Math.min(MAX_NS, Math.max(0, Math.round(ms * 1e6)));
    this.count++;
    this.sum += ns;
    if (ns < this.min) this.min = ns;
    if (ns > this.max) this.max = ns;
    this.counts[Histogram.index(ns)]!++;
  }

  private static index(ns: number): number {
    if (ns < EXACT) return ns;
    const exponent = 31 - Math.clz32(ns);
    const sub = (ns >>> (exponent - SUB_BITS)) & (SUB_BUCKETS - 1);
    return EXACT + (exponent - 8) * SUB_BUCKETS + sub;
  }

  /** The middle of bucket `index`, in ns. */
  private static value(index: number): number {
    if (index < EXACT) return index;
    const exponent = ((index - EXACT) >> SUB_BITS) + 8;
    const sub = (index - EXACT) & (SUB_BUCKETS - 1);
    const width = 2 ** (exponent - SUB_BITS);
    return (SUB_BUCKETS + sub) * width + width / 2;
  }

  /** Nearest-rank percentile in µs (clamped to the exact min and max); NaN when empty. */
  percentileUs(p: number): number {
    if (this.count === 0) return NaN;
    const rank = Math.max(1, Math.ceil(p * this.count));
    let seen = 0;
    for (let i = 0; i < this.counts.length; i++) {
      seen += this.counts[i]!;
      if (seen >= rank) return Math.min(this.max, Math.max(this.min, Histogram.value(i))) / 1000;
    }
    return this.max / 1000;
  }

  get minUs(): number {
    return this.count === 0 ? NaN : this.min / 1000;
  }

  get maxUs(): number {
    return this.count === 0 ? NaN : this.max / 1000;
  }

  get meanUs(): number {
    return this.count === 0 ? NaN : this.sum / this.count / 1000;
  }

  summary(): LatencySummary {
    return {
      count: this.count,
      minUs: this.minUs,
      meanUs: this.meanUs,
      p50Us: this.percentileUs(0.5),
      p99Us: this.percentileUs(0.99),
      p999Us: this.percentileUs(0.999),
      maxUs: this.maxUs,
    };
  }
}
