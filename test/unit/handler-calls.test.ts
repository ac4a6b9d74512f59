import { describe, expect, it } from 'vitest';
import { newHandlerCalls, SAMPLE_EVERY, startTiming, timedCall } from '../../ts/session/handler-calls.js';

/** What dispatch does per message: count, and make the sampled call when the count reaches timedAt. */
function dispatch(calls: ReturnType<typeof newHandlerCalls>, handler: (payload: unknown, context: unknown, info: unknown) => unknown, payload: unknown = 0): unknown {
  return ++calls.calls !== calls.timedAt ? handler(payload, undefined, undefined as never) : timedCall(calls, handler, payload, undefined, undefined as never);
}

function recorded(type: string) {
  const observed: number[] = [];
  const calls = newHandlerCalls(type);
  return { calls, observed, on: () => startTiming(calls, { observe: (seconds) => observed.push(seconds) }) };
}

describe('handler calls', () => {
  it('counts every call and times none while timing is off', () => {
    const { calls, observed } = recorded('a');
    for (let i = 0; i < 3 * SAMPLE_EVERY; i++) dispatch(calls, () => undefined);
    expect(calls.calls).toBe(3 * SAMPLE_EVERY);
    expect(observed).toHaveLength(0);
  });

  it('once timing is on, times one call in SAMPLE_EVERY, passing arguments and result through', () => {
    const { calls, observed, on } = recorded('a');
    dispatch(calls, () => undefined);
    on();
    expect(calls.countedFrom).toBe(1);
    const results: unknown[] = [];
    for (let i = 0; i < 2 * SAMPLE_EVERY + 1; i++) results.push(dispatch(calls, (payload) => (payload as number) * 2, i));
    expect(results).toEqual(Array.from({ length: 2 * SAMPLE_EVERY + 1 }, (_, i) => i * 2));
    expect(observed).toHaveLength(2);
    for (const seconds of observed) expect(Number.isFinite(seconds) && seconds >= 0).toBe(true);
  });

  it('times a sampled asynchronous handler until its promise settles, and lets a throw through after timing it', async () => {
    const { calls, observed, on } = recorded('slow');
    on();
    let release!: () => void;
    const slow = () => new Promise<void>((resolve) => (release = resolve));
    for (let i = 0; i < SAMPLE_EVERY - 1; i++) dispatch(calls, slow);
    const sampled = dispatch(calls, slow) as Promise<void>;
    expect(observed).toHaveLength(0);
    release();
    await sampled;
    await Promise.resolve();
    expect(observed).toHaveLength(1);
    const failing = () => {
      throw new Error('boom');
    };
    for (let i = 0; i < SAMPLE_EVERY - 1; i++) expect(() => dispatch(calls, failing)).toThrow('boom');
    expect(() => dispatch(calls, failing)).toThrow('boom');
    expect(observed).toHaveLength(2);
  });
});
