/**
 * A histogram kept in plain numbers where it is observed (a typed array of bucket counts per label
 * value, no allocation, no hashing per observation) and turned into prom-client's shape only when
 * scraped. prom-client's own Histogram validates and hashes its labels on every observe(), which
 * costs more than the handler calls it would time.
 */
import type { Registry } from 'prom-client';

/** One series: the counts of the buckets (each bound, then +Inf), their sum and count. */
export class HistogramSeries {
  readonly counts: Float64Array;
  sum = 0;
  count = 0;

  constructor(private readonly bounds: readonly number[]) {
    this.counts = new Float64Array(bounds.length + 1);
  }

  observe(value: number): void {
    const bounds = this.bounds;
    let i = 0;
    while (i < bounds.length && value > bounds[i]!) i++;
    this.counts[i]!++;
    this.sum += value;
    this.count++;
  }
}

interface MetricValue {
  value: number;
  labels: Record<string, string | number>;
  metricName: string;
}

/** A histogram metric a prom-client Registry can hold (registerMetric) and print. */
export class PlainHistogram {
  readonly type = 'histogram';
  readonly aggregator = 'sum';
  private readonly series = new Map<string, HistogramSeries>();

  constructor(
    readonly name: string,
    readonly help: string,
    private readonly bounds: readonly number[],
    /** The label that tells series apart (`type`), if any. */
    private readonly labelName?: string,
  ) {}

  /** The series of one label value (or the only one): observe through it. */
  seriesFor(labelValue = ''): HistogramSeries {
    let series = this.series.get(labelValue);
    if (series === undefined) {
      series = new HistogramSeries(this.bounds);
      this.series.set(labelValue, series);
    }
    return series;
  }

  /** Zeroes every series in place (Registry#resetMetrics); the observers keep their series. */
  reset(): void {
    for (const series of this.series.values()) {
      series.counts.fill(0);
      series.sum = 0;
      series.count = 0;
    }
  }

  register(registry: Registry): void {
    registry.registerMetric(this as never);
  }

  /** What prom-client's Registry reads to print the metric. */
  async get(): Promise<{ name: string; help: string; type: string; aggregator: string; values: MetricValue[] }> {
    const values: MetricValue[] = [];
    const all = this.series.size === 0 && this.labelName === undefined ? new Map([['', new HistogramSeries(this.bounds)]]) : this.series;
    for (const [labelValue, series] of all) {
      const labels = this.labelName === undefined ? {} : { [this.labelName]: labelValue };
      let cumulative = 0;
      this.bounds.forEach((bound, i) => {
        cumulative += series.counts[i]!;
        values.push({ metricName: `${this.name}_bucket`, labels: { le: bound, ...labels }, value: cumulative });
      });
      values.push({ metricName: `${this.name}_bucket`, labels: { le: '+Inf', ...labels }, value: series.count });
      values.push({ metricName: `${this.name}_sum`, labels, value: series.sum });
      values.push({ metricName: `${this.name}_count`, labels, value: series.count });
    }
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values };
  }
}
