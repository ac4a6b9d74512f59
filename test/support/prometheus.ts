/** Reading the Prometheus text format in tests, through a real exposition-format parser. */
import parsePrometheusTextFormat, { type ParsedFamily } from 'parse-prometheus-text-format';

export class Exposition {
  readonly families: Map<string, ParsedFamily>;

  constructor(readonly text: string) {
    this.families = new Map(parsePrometheusTextFormat(text).map((family) => [family.name, family]));
  }

  family(name: string): ParsedFamily {
    const family = this.families.get(name);
    if (family === undefined) throw new Error(`no metric ${name} in:\n${this.text}`);
    return family;
  }

  /** The value of the sample of `name` with exactly these labels. */
  value(name: string, labels: Record<string, string> = {}): number {
    const sample = this.family(name).metrics.find((metric) => sameLabels(metric.labels ?? {}, labels));
    if (sample?.value === undefined) throw new Error(`no sample ${name}${JSON.stringify(labels)} in:\n${this.text}`);
    return Number(sample.value);
  }

  /**
   * A histogram's cumulative buckets by upper bound, and its count (the +Inf bucket). The parser
   * merges the series of a histogram with labels besides `le` into one, keeping the buckets of the
   * last: read such a histogram only where one series of it exists.
   */
  histogram(name: string): { count: number; buckets: Record<string, number> } {
    const family = this.family(name);
    if (family.type !== 'HISTOGRAM' || family.metrics.length !== 1) throw new Error(`${name} is not one histogram in:\n${this.text}`);
    const buckets = Object.fromEntries(Object.entries(family.metrics[0]!.buckets ?? {}).map(([bound, count]) => [bound, Number(count)]));
    if (buckets['+Inf'] === undefined) throw new Error(`histogram ${name} has no +Inf bucket in:\n${this.text}`);
    return { count: buckets['+Inf'], buckets };
  }
}

function sameLabels(a: Record<string, string>, b: Record<string, string>): boolean {
  const keys = Object.keys(a);
  return keys.length === Object.keys(b).length && keys.every((key) => a[key] === b[key]);
}
