import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { UdpProbe, type ProbePath } from '../../ts/selection/udp-probe.js';

/** A path that records the probes sent; the test answers the ones it chooses. */
class FakePath implements ProbePath {
  ready = true;
  probes: number[] = [];
  probeAnswered: ((sequence: number) => void) | undefined;
  sendProbe(sequence: number): void {
    this.probes.push(sequence);
  }
  answer(sequence: number): void {
    this.probeAnswered?.(sequence);
  }
}

beforeEach(() => void vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'performance'] }));
afterEach(() => void vi.useRealTimers());

describe('UdpProbe', () => {
  it('probes once per interval and measures RTT and loss from the answers', () => {
    const path = new FakePath();
    const probe = new UdpProbe(path, 100, () => true);
    expect(path.probes).toHaveLength(1);
    for (let i = 0; i < 9; i++) {
      vi.advanceTimersByTime(10);
      // Every other probe answered after 10 ms.
      if (i % 2 === 0) path.answer(path.probes.at(-1)!);
      vi.advanceTimersByTime(90);
    }
    expect(probe.sent).toBe(10);
    expect(probe.answered).toBe(5);
    expect(probe.rttMs).toBeCloseTo(10, 5);
    vi.advanceTimersByTime(1000);
    expect(probe.loss).toBeGreaterThan(0.3);
    expect(probe.loss).toBeLessThan(0.7);
  });

  it('gives no loss rate before five probes are judged, and ignores answers that are not its own', () => {
    const path = new FakePath();
    const probe = new UdpProbe(path, 100, () => true);
    path.answer(1);
    expect(probe.answered).toBe(0);
    vi.advanceTimersByTime(250);
    expect(probe.loss).toBeUndefined();
  });

  it('backs off while probes go unanswered, at most 16 intervals, and resumes its pace on an answer', () => {
    const path = new FakePath();
    const probe = new UdpProbe(path, 10, () => true);
    vi.advanceTimersByTime(60_000);
    // Unbounded probing would be 6,000 probes; backed off to one per 160 ms it is about 375.
    expect(path.probes.length).toBeLessThan(400);
    expect(probe.loss).toBe(1);
    // The next probe comes within 16 intervals; answered at once, the pace is one per interval again.
    const sent = path.probes.length;
    vi.advanceTimersByTime(160);
    expect(path.probes.length).toBe(sent + 1);
    path.answer(path.probes.at(-1)!);
    const before = path.probes.length;
    vi.advanceTimersByTime(40);
    expect(path.probes.length - before).toBeGreaterThanOrEqual(3);
  });

  it('sends nothing while the path is not ready, and stops once the session is gone', () => {
    const path = new FakePath();
    path.ready = false;
    let alive = true;
    const probe = new UdpProbe(path, 10, () => alive);
    vi.advanceTimersByTime(100);
    expect(path.probes).toHaveLength(0);
    path.ready = true;
    vi.advanceTimersByTime(30);
    expect(path.probes.length).toBeGreaterThan(0);
    alive = false;
    vi.advanceTimersByTime(20);
    const sent = path.probes.length;
    vi.advanceTimersByTime(1000);
    expect(path.probes).toHaveLength(sent);
    expect(path.probeAnswered).toBeUndefined();
    expect(probe.sent).toBe(sent);
  });
});
