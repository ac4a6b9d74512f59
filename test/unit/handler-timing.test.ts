import { describe, expect, it } from 'vitest';
import { HandlerTiming, SAMPLE_EVERY } from '../../ts/features/metrics/handler-timing.js';

function recorder() {
  const observed = new Map<string, number[]>();
  const timing = new HandlerTiming((type) => {
    const list: number[] = [];
    observed.set(type, list);
    return { observe: (seconds) => list.push(seconds) };
  });
  return { timing, observed };
}

describe('HandlerTiming', () => {
  it('keeps the handler\'s arity, arguments, result and `this`-free call', () => {
    const { timing } = recorder();
    const two = timing.wrap('a', (payload: number, context: number) => payload + context);
    const three = timing.wrap('b', (payload: number, _context: unknown, info: { type: string }) => `${payload}${info.type}`);
    expect([two.length, three.length]).toEqual([2, 3]);
    expect(two(1, 2, undefined as never)).toBe(3);
    expect(three(1, undefined, { type: 'b', transport: 'tcp', requestId: undefined })).toBe('1b');
  });

  it('counts every call and times one in SAMPLE_EVERY; types are listed busiest first', () => {
    const { timing, observed } = recorder();
    const a = timing.wrap('a', () => undefined);
    const b = timing.wrap('b', () => undefined);
    for (let i = 0; i < 2 * SAMPLE_EVERY + 1; i++) a(0, 0, undefined as never);
    for (let i = 0; i < 3; i++) b(0, 0, undefined as never);
    expect(timing.types()).toEqual([{ type: 'a', messages: 2 * SAMPLE_EVERY + 1 }, { type: 'b', messages: 3 }]);
    expect(observed.get('a')).toHaveLength(2);
    expect(observed.get('b')).toHaveLength(0);
    for (const seconds of observed.get('a')!) expect(seconds).toBeGreaterThanOrEqual(0);
  });

  it('times a sampled asynchronous handler until its promise settles, and lets a throw through after timing it', async () => {
    const { timing, observed } = recorder();
    let release!: () => void;
    const slow = timing.wrap('slow', () => new Promise<void>((resolve) => (release = resolve)));
    for (let i = 0; i < SAMPLE_EVERY - 1; i++) slow(0, 0, undefined as never);
    const sampled = slow(0, 0, undefined as never) as Promise<void>;
    expect(observed.get('slow')).toHaveLength(0);
    release();
    await sampled;
    await Promise.resolve();
    expect(observed.get('slow')).toHaveLength(1);
    const failing = timing.wrap('fails', () => {
      throw new Error('boom');
    });
    for (let i = 0; i < SAMPLE_EVERY - 1; i++) expect(() => failing(0, 0, undefined as never)).toThrow('boom');
    expect(() => failing(0, 0, undefined as never)).toThrow('boom');
    expect(observed.get('fails')).toHaveLength(1);
  });

  it('shares one count between wrappers of the same type (a handler replaced)', () => {
    const { timing } = recorder();
    timing.wrap('t', () => 1)(0, 0, undefined as never);
    timing.wrap('t', () => 2)(0, 0, undefined as never);
    expect(timing.types()).toEqual([{ type: 't', messages: 2 }]);
  });
});
