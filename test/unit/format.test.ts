import { describe, expect, it } from 'vitest';
import { formatBytes, formatCount, formatDuration, formatMs } from '../../ts/features/metrics/format.js';

describe('formatting for people', () => {
  it('counts', () => expect([formatCount(0), formatCount(1234567.4)]).toEqual(['0', '1,234,567']));
  it('bytes', () => expect([formatBytes(999), formatBytes(1000), formatBytes(56_700), formatBytes(123_456_789)]).toEqual(['999 B', '1.00 kB', '56.7 kB', '123 MB']));
  it('durations', () => expect([formatDuration(5.9), formatDuration(65), formatDuration(3 * 3600 + 60), formatDuration(2 * 86_400 + 3600)]).toEqual(['5s', '1m 05s', '3h 01m', '2d 1h 0m']));
  it('milliseconds', () => expect([formatMs(undefined), formatMs(0.25), formatMs(12.345), formatMs(250)]).toEqual(['n/a', '250 µs', '12.35 ms', '250 ms']));
});
