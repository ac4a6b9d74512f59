import { afterEach, describe, expect, it, vi } from 'vitest';
import { MAX_STEP, newHandlerCalls, SAMPLE_EVERY, startTiming, timedCall } from '../../ts/session/handler-calls.js';

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

  describe('the step between timed calls', () => {
    afterEach(() => {
      vi.restoreAllMocks();
    });

    it('doubles while timed calls come within a millisecond of each other, up to MAX_STEP, and halves back once they are more than 10 ms apart', () => {
      let now = 1000;
      vi.spyOn(performance, 'now').mockImplementation(() => now);
      const { calls, observed, on } = recorded('busy');
      on();
      const steps: number[] = [];
      // A busy type: 0.1 ms between timed calls.
      for (let timed = 0; timed < 12; timed++) {
        while (calls.calls + 1 !== calls.timedAt) dispatch(calls, () => undefined);
        now += 0.1;
        dispatch(calls, () => undefined);
        steps.push(calls.step);
      }
      // The first timed call has no earlier one to be close to.
      expect(steps).toEqual([256, 512, 1024, 2048, 4096, 8192, 16384, 32768, MAX_STEP, MAX_STEP, MAX_STEP, MAX_STEP]);
      expect(observed).toHaveLength(12);
      // Quiet again: 20 ms between timed calls.
      const quieter: number[] = [];
      for (let timed = 0; timed < 10; timed++) {
        while (calls.calls + 1 !== calls.timedAt) dispatch(calls, () => undefined);
        now += 20;
        dispatch(calls, () => undefined);
        quieter.push(calls.step);
      }
      expect(quieter).toEqual([32768, 16384, 8192, 4096, 2048, 1024, 512, 256, SAMPLE_EVERY, SAMPLE_EVERY]);
      // Between 1 and 10 ms apart the step stays.
      while (calls.calls + 1 !== calls.timedAt) dispatch(calls, () => undefined);
      now += 5;
      dispatch(calls, () => undefined);
      expect(calls.step).toBe(SAMPLE_EVERY);
    });
  });
});
