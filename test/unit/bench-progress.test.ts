/**
 * ts/cli/bench-progress.ts: the number formats and table of `hybridwire bench`, and its progress
 * display: plain `progress N% RATE unit` lines, a bar redrawn in a terminal, or nothing.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { Progress, compact, fixed, grouped, table, type ProgressSample } from '../../ts/cli/bench-progress.js';

/** A stream that keeps what is written, `columns` wide. */
function stream(columns: number | undefined = 80): NodeJS.WriteStream & { written: string[] } {
  const written: string[] = [];
  return {
    written,
    columns,
    write(text: string): boolean {
      written.push(text);
      return true;
    },
  } as unknown as NodeJS.WriteStream & { written: string[] };
}

describe('compact', () => {
  it.each([
    [0, '0'],
    [512, '512'],
    [999, '999'],
    [1000, '1.00k'],
    [45_210, '45.2k'],
    [123_456, '123k'],
    [1_234_567, '1.23M'],
    [98_765_432, '98.8M'],
    [1e9, '1.00G'],
    [-1500, '-1.50k'],
    [Number.NaN, '-'],
    [Number.POSITIVE_INFINITY, '-'],
  ])('%d -> %s', (value, text) => {
    expect(compact(value)).toBe(text);
  });
});

describe('grouped and fixed', () => {
  it('group thousands with commas, rounded to an integer', () => {
    expect(grouped(0)).toBe('0');
    expect(grouped(999.4)).toBe('999');
    expect(grouped(999.5)).toBe('1,000');
    expect(grouped(1_234_567)).toBe('1,234,567');
    expect(grouped(-1234)).toBe('-1,234');
    expect(grouped(Number.NaN)).toBe('-');
  });

  it('fixed gives the digits asked for, or - when the value is not finite', () => {
    expect(fixed(1.23456, 2)).toBe('1.23');
    expect(fixed(2, 3)).toBe('2.000');
    expect(fixed(Number.NEGATIVE_INFINITY, 1)).toBe('-');
  });
});

describe('table', () => {
  it('pads each column to its widest cell: text left, numbers right, two spaces apart, no trailing blanks', () => {
    const text = table(
      ['name', 'count', 'note'],
      [
        ['a', '1', 'x'],
        ['longer', '12,345', ''],
      ],
      new Set([1]),
    );
    expect(text.split('\n')).toEqual(['name     count  note', 'a            1  x', 'longer  12,345']);
  });

  it('takes a missing cell as empty', () => {
    expect(table(['a', 'b'], [['1']], new Set([1]))).toBe('a  b\n1');
  });
});

describe('Progress', () => {
  beforeEach(() => {
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval', 'performance'] });
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  /** Starts `progress` on a counter the test moves; returns the counter. */
  function started(progress: Progress, fraction: () => number): { count: number } {
    const counter = { count: 0 };
    progress.start((): ProgressSample => ({ fraction: fraction(), count: counter.count }));
    return counter;
  }

  it("'lines' prints `progress N% RATE unit` every 500 ms once there is a rate, from the counts of the last second", async () => {
    const out = stream();
    const progress = new Progress('lines', out, 'tput', 'msg/s');
    let fraction = 0;
    const counter = started(progress, () => fraction);
    await vi.advanceTimersByTimeAsync(0);
    // One sample is no rate yet: nothing is printed.
    expect(out.written).toEqual([]);
    counter.count = 1000;
    fraction = 0.25;
    await vi.advanceTimersByTimeAsync(500);
    expect(out.written).toEqual(['progress 25% 2.00k msg/s\n']);
    counter.count = 3000;
    fraction = 0.5;
    await vi.advanceTimersByTimeAsync(500);
    // 3000 over the 1000 ms since the first sample.
    expect(out.written.at(-1)).toBe('progress 50% 3.00k msg/s\n');
    counter.count = 9000;
    fraction = 0.755;
    await vi.advanceTimersByTimeAsync(500);
    // The window keeps the last second: from the sample at 500 ms (1000) to now (9000).
    expect(out.written.at(-1)).toBe('progress 75% 8.00k msg/s\n');
    await progress.stop();
    await vi.advanceTimersByTimeAsync(5000);
    expect(out.written).toHaveLength(3);
  });

  it("'lines' clamps the percentage to 0..100", async () => {
    const out = stream();
    const progress = new Progress('lines', out, 'rtt', 'req/s');
    let fraction = -1;
    const counter = started(progress, () => fraction);
    await vi.advanceTimersByTimeAsync(0);
    counter.count = 10;
    await vi.advanceTimersByTimeAsync(500);
    fraction = 7;
    await vi.advanceTimersByTimeAsync(500);
    await progress.stop();
    expect(out.written).toEqual(['progress 0% 20 req/s\n', 'progress 100% 10 req/s\n']);
  });

  it("finish() prints the final line with the whole run's rate, unless 100% was printed already", async () => {
    const out = stream();
    const progress = new Progress('lines', out, 'tput', 'msg/s');
    progress.finish({ fraction: 0.4, count: 10, rate: 1_500_000 });
    expect(out.written).toEqual(['progress 40% 1.50M msg/s\n']);
    progress.finish({ fraction: 1, count: 10, rate: 1_000 });
    expect(out.written.at(-1)).toBe('progress 100% 1.00k msg/s\n');
    progress.finish({ fraction: 1, count: 10, rate: 1_000 });
    progress.finish(undefined);
    expect(out.written).toHaveLength(2);
  });

  it("'none' writes nothing and samples nothing", async () => {
    const out = stream();
    const progress = new Progress('none', out, 'tput', 'msg/s');
    const sample = vi.fn(() => ({ fraction: 0.5, count: 1 }));
    progress.start(sample);
    progress.status('warming up');
    await vi.advanceTimersByTimeAsync(2000);
    await progress.stop();
    progress.finish({ fraction: 1, count: 1, rate: 1 });
    expect(sample).not.toHaveBeenCalled();
    expect(out.written).toEqual([]);
  });

  it("'bar' redraws one terminal line every 200 ms: label, bar, percent and rate; clear() removes it", async () => {
    const out = stream(80);
    const progress = new Progress('bar', out, 'tput', 'msg/s');
    progress.status('warming up');
    expect(out.written).toEqual(['\r\x1b[2Ktput  warming up']);
    let fraction = 0;
    const counter = started(progress, () => fraction);
    await vi.advanceTimersByTimeAsync(0);
    // Before a rate: a dash, and an empty bar 40 wide (80 columns leave room for the widest).
    expect(out.written.at(-1)).toBe(`\r\x1b[2Ktput  [${'.'.repeat(40)}]    0%  - msg/s`);
    counter.count = 400;
    fraction = 0.5;
    await vi.advanceTimersByTimeAsync(200);
    expect(out.written.at(-1)).toBe(`\r\x1b[2Ktput  [${'#'.repeat(20)}${'.'.repeat(20)}]   50%  2.00k msg/s`);
    await progress.stop();
    // The final sample is not printed in a terminal: the bar goes, the summary follows.
    progress.finish({ fraction: 1, count: 400, rate: 1 });
    expect(out.written.at(-1)).toBe('\r\x1b[2K');
    const writes = out.written.length;
    progress.clear();
    expect(out.written).toHaveLength(writes);
  });

  it("'bar' fits a narrow terminal: the bar shrinks to 10 and the line is cut below the width", async () => {
    const out = stream(30);
    const progress = new Progress('bar', out, 'udp-reliable', 'msg/s');
    progress.finish(undefined);
    progress.start(() => ({ fraction: 0.3, count: 0 }));
    await vi.advanceTimersByTimeAsync(0);
    await progress.stop();
    const line = out.written.at(-1)!;
    expect(line.startsWith('\r\x1b[2Kudp-reliable  [###.......]')).toBe(true);
    expect(line.length - '\r\x1b[2K'.length).toBe(29);
  });

  it('stop() waits for a sample in progress', async () => {
    const out = stream();
    const progress = new Progress('lines', out, 'tput', 'msg/s');
    let release!: () => void;
    let samples = 0;
    progress.start(async () => {
      samples++;
      if (samples === 2) await new Promise<void>((resolve) => (release = resolve));
      return { fraction: 0.5, count: samples * 100 };
    });
    await vi.advanceTimersByTimeAsync(500);
    expect(samples).toBe(2);
    let stopped = false;
    const stopping = progress.stop().then(() => (stopped = true));
    await vi.advanceTimersByTimeAsync(0);
    expect(stopped).toBe(false);
    release();
    await stopping;
    expect(out.written).toEqual(['progress 50% 200 msg/s\n']);
  });
});
