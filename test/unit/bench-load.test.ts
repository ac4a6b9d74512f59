import { EventEmitter } from 'node:events';
import { describe, expect, it } from 'vitest';
import { Interrupt, Phase, drained, payloadOf, pump, roundTrips, type LoadSender, type Requester } from '../../ts/cli/bench-load.js';

/** A sender that records what happened: sends, waits, and the turns of the event loop it saw. */
function recordingSender(refuseEvery = 0): LoadSender & { log: string[]; sends: number } {
  const state = { log: [] as string[], sends: 0 };
  let turn = 0;
  const tick = () => {
    turn++;
  };
  return Object.assign(state, {
    send(): boolean {
      state.sends++;
      state.log.push(`send@${turn}`);
      return refuseEvery === 0 || state.sends % refuseEvery !== 0;
    },
    async drained(): Promise<boolean> {
      state.log.push('wait');
      await new Promise((resolve) => setImmediate(resolve));
      tick();
      return true;
    },
  });
}

describe('Phase', () => {
  it('hands out its budget and says why it stopped', () => {
    const phase = new Phase(60_000, 10);
    expect(phase.take(4)).toBe(4);
    expect(phase.take(10)).toBe(6);
    expect(phase.stoppedBy).toBe('messages');
    expect(phase.take(1)).toBe(0);
    phase.giveBack(2);
    expect(phase.stoppedBy).toBeUndefined();
    expect(phase.used).toBe(8);
    expect(phase.take(5)).toBe(2);
  });

  it('ends at its deadline and on interrupt', () => {
    expect(new Phase(0, 100).take(1)).toBe(0);
    const interrupt = new Interrupt();
    const phase = new Phase(60_000, 100, interrupt);
    interrupt.interrupted = true;
    expect(phase.over()).toBe(true);
    expect(phase.stoppedBy).toBe('interrupt');
  });
});

describe('pump', () => {
  it('sends exactly the budget when nothing else stops it', async () => {
    const sender = recordingSender();
    expect(await pump(sender, payloadOf(8), new Phase(60_000, 5000))).toBe(5000);
    expect(sender.sends).toBe(5000);
  });

  it('yields to the event loop every `yieldEvery` messages, and not in between', async () => {
    let turns = 0;
    const sends: number[] = [];
    const sender: LoadSender = {
      send: () => {
        sends.push(turns);
        return true;
      },
      drained: () => Promise.resolve(true),
    };
    const ticking = (async () => {
      // Counts event-loop turns while the pump runs: one per setImmediate it gets to run.
      for (let i = 0; i < 100; i++) {
        await new Promise((resolve) => setImmediate(resolve));
        turns++;
      }
    })();
    await pump(sender, payloadOf(8), new Phase(60_000, 3 * 8192), 8192);
    await ticking;
    // The first 8,192 messages go out in one turn, the next 8,192 in the next, and so on.
    expect(sends[0]).toBe(0);
    expect(sends[8191]).toBe(0);
    expect(sends[8192]).toBe(1);
    expect(sends[16383]).toBe(1);
    expect(sends[16384]).toBe(2);
  });

  it('waits whenever the sender says so, and keeps the count right', async () => {
    const sender = recordingSender(100);
    expect(await pump(sender, payloadOf(8), new Phase(60_000, 1000))).toBe(1000);
    expect(sender.log.filter((entry) => entry === 'wait')).toHaveLength(10);
    // After the 100th send comes a wait, then the 101st send.
    expect(sender.log[100]).toBe('wait');
    expect(sender.log[101]).toBe('send@1');
  });

  it('stops when a wait says so, returning the budget it did not use', async () => {
    const phase = new Phase(60_000, 1000);
    const sender: LoadSender = { send: () => false, drained: () => Promise.resolve(false) };
    expect(await pump(sender, payloadOf(8), phase)).toBe(1);
    expect(phase.used).toBe(1);
  });

  it('stops at the deadline even while the sender must keep waiting', async () => {
    const phase = new Phase(30, 1_000_000);
    const sender: LoadSender = { send: () => false, drained: () => new Promise((resolve) => setTimeout(() => resolve(true), 5)) };
    const sent = await pump(sender, payloadOf(8), phase);
    expect(phase.stoppedBy).toBe('duration');
    expect(sent).toBeLessThan(100);
  });
});

/** An echo with a delay per request, in order, as the systems the loop drives answer. */
function echoRequester(log: { inFlight: number; most: number }, delayMs = 1): Requester {
  return (onReply) => () => {
    log.inFlight++;
    log.most = Math.max(log.most, log.inFlight);
    setTimeout(() => {
      log.inFlight--;
      onReply();
    }, delayMs);
  };
}

describe('roundTrips', () => {
  it('keeps `inFlight` requests outstanding and records each round trip once', async () => {
    const log = { inFlight: 0, most: 0 };
    const samples: Array<[number, number]> = [];
    const began = performance.now();
    const run = await roundTrips(echoRequester(log), payloadOf(8), 4, new Phase(60_000, 40), (startedAt, ms) => samples.push([startedAt, ms]));
    const ended = performance.now();
    expect(run.completed).toBe(40);
    expect(samples).toHaveLength(40);
    expect(log.most).toBe(4);
    expect(log.inFlight).toBe(0);
    // Replies are matched to requests in order: starts never go backwards, and every round trip
    // lies inside the run.
    for (let i = 1; i < samples.length; i++) expect(samples[i]![0]).toBeGreaterThanOrEqual(samples[i - 1]![0]);
    for (const [startedAt, ms] of samples) {
      expect(startedAt).toBeGreaterThanOrEqual(began);
      expect(startedAt + ms).toBeLessThanOrEqual(ended);
    }
  });

  it('fails the run on the first error', async () => {
    const failing: Requester = (_onReply, onError) => () => setImmediate(() => onError(new Error('reset')));
    await expect(roundTrips(failing, payloadOf(8), 2, new Phase(60_000, 10), () => {})).rejects.toThrow('reset');
  });

  it('fails the run when sending throws', async () => {
    const throwing: Requester = () => () => {
      throw new Error('closed');
    };
    await expect(roundTrips(throwing, payloadOf(8), 1, new Phase(60_000, 10), () => {})).rejects.toThrow('closed');
  });
});

describe('drained', () => {
  it("resolves true on 'drain' and rejects on 'close'", async () => {
    const source = new EventEmitter();
    const first = drained(source);
    source.emit('drain');
    await expect(first).resolves.toBe(true);
    const second = drained(source);
    source.emit('close');
    await expect(second).rejects.toThrow('closed');
    expect(source.listenerCount('drain') + source.listenerCount('close')).toBe(0);
  });

  it('resolves false at its deadline', async () => {
    const source = new EventEmitter();
    await expect(drained(source, { deadline: performance.now() + 10 })).resolves.toBe(false);
    expect(source.listenerCount('drain')).toBe(0);
  });

  it('ends when polling finds the queue short, without a drain event', async () => {
    const source = new EventEmitter();
    let queued = 10;
    setTimeout(() => (queued = 0), 20);
    await expect(drained(source, { below: () => queued === 0, timeoutMs: 5000 })).resolves.toBe(true);
  });
});

describe('payloadOf', () => {
  it('is the same bytes for the same size and seed, and differs by seed', () => {
    expect(payloadOf(64)).toEqual(payloadOf(64));
    expect(payloadOf(64, 7)).not.toEqual(payloadOf(64));
    expect(payloadOf(0)).toHaveLength(0);
    // xorshift32 from the default seed: a fixed first byte keeps results comparable across versions.
    expect(payloadOf(4)).toEqual(payloadOf(64).subarray(0, 4));
  });
});
