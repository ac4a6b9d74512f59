import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { TransportSelector, type SelectablePath } from '../../ts/selection/transport-selector.js';

function fakePath(overrides: Partial<SelectablePath> = {}): SelectablePath & { probes: number[] } {
  const probes: number[] = [];
  return {
    token: Buffer.alloc(8),
    ready: true,
    datagramPayload: 1144,
    selection: { autoProbeIntervalMs: 10, autoBlockedAfterMs: 100, autoMaxLossPercent: 10 },
    probeAnswered: undefined,
    probes,
    sendProbe: (sequence: number) => void probes.push(sequence),
    send: () => true,
    close: () => {},
    stats: () => undefined,
    ...overrides,
  };
}

beforeEach(() => void vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'performance'] }));
afterEach(() => void vi.useRealTimers());

describe('TransportSelector', () => {
  it('picks by size and the reliability asked for on a healthy path', () => {
    const selector = new TransportSelector(() => true);
    const path = fakePath();
    expect(selector.choose(path, 100, { transport: 'auto' }, undefined)).toMatchObject({ transport: 'udp', reliable: true });
    expect(selector.reason).toBe('reliable-small');
    expect(selector.choose(path, 1145, { transport: 'auto' }, undefined)).toEqual({ transport: 'tcp' });
    expect(selector.reason).toBe('reliable-large');
    expect(selector.choose(path, 1144, { transport: 'auto', reliable: false, channel: 3 }, undefined)).toMatchObject({ transport: 'udp', reliable: false, channel: 3 });
    expect(selector.reason).toBe('unreliable-small');
    expect(selector.choose(path, 5000, { transport: 'auto', reliable: false }, undefined)).toMatchObject({ transport: 'udp', reliable: true });
    expect(selector.reason).toBe('unreliable-large');
  });

  it('uses TCP without a path, before the path is ready, and calls it blocked after autoBlockedAfterMs', () => {
    const selector = new TransportSelector(() => true);
    expect(selector.choose(undefined, 10, {}, undefined)).toEqual({ transport: 'tcp' });
    expect(selector.reason).toBe('udp-unavailable');
    const path = fakePath({ ready: false });
    selector.choose(path, 10, {}, undefined);
    expect(selector.reason).toBe('udp-not-ready');
    vi.advanceTimersByTime(100);
    selector.choose(path, 10, {}, undefined);
    expect(selector.reason).toBe('udp-blocked');
  });

  it('leaves a lossy path for TCP, and a slow one', () => {
    const selector = new TransportSelector(() => true);
    const path = fakePath();
    selector.choose(path, 10, {}, undefined);
    // No probe answered: loss 100% once enough are judged.
    vi.advanceTimersByTime(200);
    expect(selector.choose(path, 10, {}, undefined)).toEqual({ transport: 'tcp' });
    expect(selector.reason).toBe('udp-loss');
    expect(selector.stats().udpLoss).toBe(1);

    const fast = new TransportSelector(() => true);
    const slowPath = fakePath();
    fast.choose(slowPath, 10, {}, undefined);
    vi.advanceTimersByTime(50);
    slowPath.probeAnswered!(slowPath.probes.at(-1)!);
    // The probe's RTT (up to 10 ms here) against a TCP RTT of 1 ms: over 2 × 1 + 5.
    expect(fast.stats().udpRttMs).toBeGreaterThan(7);
    expect(fast.choose(slowPath, 10, {}, 1)).toEqual({ transport: 'tcp' });
    expect(fast.reason).toBe('udp-slow');
    expect(fast.choose(slowPath, 10, {}, 20)).toMatchObject({ transport: 'udp' });
  });

  it('counts what was sent each way', () => {
    const selector = new TransportSelector(() => true);
    selector.count({ transport: 'tcp' });
    selector.count({ transport: 'udp', reliable: true });
    selector.count({ transport: 'udp', reliable: false });
    selector.count({ transport: 'udp' });
    expect(selector.stats()).toMatchObject({ tcp: 1, udp: 2, udpReliable: 1 });
  });
});
