// A mergeable latency histogram: buckets 1% wide on a log scale (nanoseconds), so that the
// subscriber processes' latencies add up into one distribution and its percentiles.
const GROWTH = Math.log(1.01);

export class Latencies {
  constructor(counts = {}) {
    this.counts = counts; // bucket index -> deliveries
  }

  record(ns) {
    const index = ns <= 1 ? 0 : Math.floor(Math.log(ns) / GROWTH);
    this.counts[index] = (this.counts[index] ?? 0) + 1;
  }

  add(other) {
    for (const [index, n] of Object.entries(other.counts)) this.counts[index] = (this.counts[index] ?? 0) + n;
    return this;
  }

  get count() {
    return Object.values(this.counts).reduce((a, b) => a + b, 0);
  }

  /** Nearest-rank percentile in µs (the middle of its bucket); NaN when empty. */
  percentileUs(p) {
    const total = this.count;
    if (total === 0) return NaN;
    const rank = Math.max(1, Math.ceil(p * total));
    let seen = 0;
    for (const index of Object.keys(this.counts).map(Number).sort((a, b) => a - b)) {
      seen += this.counts[index];
      if (seen >= rank) return Math.exp((index + 0.5) * GROWTH) / 1000;
    }
    return NaN;
  }
}
