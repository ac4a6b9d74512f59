import { describe, expect, it } from 'vitest';
import { Histogram } from '../../ts/cli/bench-histogram.js';

describe('Histogram', () => {
  it('is empty until something is recorded', () => {
    const histogram = new Histogram();
    expect(histogram.count).toBe(0);
    expect(histogram.percentileUs(0.5)).toBeNaN();
    expect(histogram.summary()).toMatchObject({ count: 0, minUs: NaN, maxUs: NaN, meanUs: NaN });
  });

  it('gives nearest-rank percentiles within 0.8%, the exact min, max and mean', () => {
    const histogram = new Histogram();
    // 1..1000 µs, one each: the p-th percentile is p * 1000 µs.
    for (let us = 1; us <= 1000; us++) histogram.recordMs(us / 1000);
    const summary = histogram.summary();
    expect(summary.count).toBe(1000);
    expect(summary.minUs).toBe(1);
    expect(summary.maxUs).toBe(1000);
    expect(summary.meanUs).toBeCloseTo(500.5, 6);
    for (const [p, expected] of [
      [0.5, 500],
      [0.99, 990],
      [0.999, 999],
    ] as const) {
      expect(Math.abs(histogram.percentileUs(p) - expected) / expected).toBeLessThan(0.008);
    }
  });

  it('keeps latencies below 256 ns exact and clamps percentiles to what was recorded', () => {
    const histogram = new Histogram();
    histogram.recordMs(0.0001); // 100 ns
    histogram.recordMs(0.0002); // 200 ns
    expect(histogram.percentileUs(0.5)).toBe(0.1);
    expect(histogram.percentileUs(1)).toBe(0.2);
    const one = new Histogram();
    one.recordMs(123.456);
    // A single sample: every percentile is that sample, not its bucket's middle.
    expect(one.percentileUs(0.5)).toBe(123456);
    expect(one.percentileUs(0.999)).toBe(123456);
  });

  it('puts a long tail where it belongs', () => {
    const histogram = new Histogram();
    for (let i = 0; i < 998; i++) histogram.recordMs(0.07);
    histogram.recordMs(1.2);
    histogram.recordMs(5);
    expect(Math.abs(histogram.percentileUs(0.99) - 70) / 70).toBeLessThan(0.008);
    expect(Math.abs(histogram.percentileUs(0.999) - 1200) / 1200).toBeLessThan(0.008);
    expect(histogram.maxUs).toBe(5000);
  });
});
