import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { HistogramSeries, PlainHistogram } from '../../ts/features/metrics/histogram.js';
import { Exposition } from '../support/prometheus.js';

describe('HistogramSeries', () => {
  it('counts each value in the first bucket whose bound it does not exceed, the rest in +Inf', () => {
    const series = new HistogramSeries([1, 2, 5]);
    for (const value of [0.5, 1, 1.5, 2, 4.9, 5, 7, 100]) series.observe(value);
    expect([...series.counts]).toEqual([2, 2, 2, 2]);
    expect(series.count).toBe(8);
    expect(series.sum).toBeCloseTo(121.9);
  });
});

describe('PlainHistogram in a prom-client Registry', () => {
  it('prints cumulative buckets, sum and count in the exposition format', async () => {
    const registry = new Registry();
    const histogram = new PlainHistogram('test_seconds', 'A test.', [0.1, 1]);
    histogram.register(registry);
    const series = histogram.seriesFor();
    for (const value of [0.05, 0.5, 0.7, 3]) series.observe(value);
    const text = await registry.metrics();
    expect(text).toContain('# TYPE test_seconds histogram');
    expect(text).toContain('test_seconds_bucket{le="0.1"} 1\ntest_seconds_bucket{le="1"} 3\ntest_seconds_bucket{le="+Inf"} 4\ntest_seconds_sum 4.25\ntest_seconds_count 4');
    expect(new Exposition(text).histogram('test_seconds')).toEqual({ count: 4, buckets: { '0.1': 1, '1': 3, '+Inf': 4 } });
  });

  it('keeps one series per label value, and an empty histogram without labels prints zeros', async () => {
    const registry = new Registry();
    const labelled = new PlainHistogram('by_type_seconds', 'By type.', [1], 'type');
    labelled.register(registry);
    labelled.seriesFor('a').observe(0.5);
    labelled.seriesFor('b').observe(2);
    const empty = new PlainHistogram('empty_seconds', 'Nothing yet.', [1]);
    empty.register(registry);
    const text = await registry.metrics();
    expect(text).toContain('by_type_seconds_bucket{le="1",type="a"} 1');
    expect(text).toContain('by_type_seconds_bucket{le="+Inf",type="b"} 1');
    expect(text).toContain('by_type_seconds_count{type="b"} 1');
    expect(text).toContain('empty_seconds_count 0');
    registry.resetMetrics();
    expect(await registry.getSingleMetricAsString('by_type_seconds')).toContain('by_type_seconds_count{type="a"} 0');
  });
});
