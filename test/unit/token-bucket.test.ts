/** ts/qos/token-bucket.ts: refill, capacity, debt and the wait it implies, on an injected clock. */
import { describe, expect, it } from 'vitest';
import { TokenBucket } from '../../ts/qos/token-bucket.js';

function clock() {
  let now = 1000;
  return { now: () => now, advance: (ms: number) => void (now += ms) };
}

describe('TokenBucket', () => {
  it('starts full, gives out its capacity, then refuses until time refills it', () => {
    const time = clock();
    const bucket = new TokenBucket(10, 3, time.now);
    expect([bucket.tryTake(1), bucket.tryTake(1), bucket.tryTake(1), bucket.tryTake(1)]).toEqual([true, true, true, false]);
    time.advance(99);
    expect(bucket.tryTake(1)).toBe(false);
    time.advance(1);
    expect(bucket.tryTake(1)).toBe(true);
  });

  it('never holds more than its capacity, however long it waits', () => {
    const time = clock();
    const bucket = new TokenBucket(1000, 5, time.now);
    time.advance(60_000);
    expect(bucket.available).toBe(5);
  });

  it('a cost above the capacity counts as the capacity: it passes once the bucket is full', () => {
    const time = clock();
    const bucket = new TokenBucket(100, 50, time.now);
    expect(bucket.tryTake(10_000)).toBe(true);
    expect(bucket.available).toBe(0);
    expect(bucket.tryTake(10_000)).toBe(false);
    expect(bucket.msUntil(10_000)).toBe(500);
  });

  it('take() goes into debt, bounded by one capacity, and msUntil() says how long paying it back takes', () => {
    const time = clock();
    const bucket = new TokenBucket(10, 2, time.now);
    bucket.take(2);
    bucket.take(2);
    bucket.take(2);
    expect(bucket.available).toBe(-2);
    expect(bucket.msUntil(1)).toBe(300);
    time.advance(300);
    expect(bucket.msUntil(1)).toBe(0);
    expect(bucket.tryTake(1)).toBe(true);
  });

  it('a clock that goes backwards refills nothing', () => {
    const time = clock();
    const bucket = new TokenBucket(10, 1, time.now);
    bucket.take(1);
    time.advance(-500);
    expect(bucket.available).toBe(0);
  });
});
