import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { ACK_DELAY_MS, acknowledgeLater, cancelDelayedAck, delayedAckCount, type DelayedAck } from '../../ts/session/delayed-acks.js';

class Target implements DelayedAck {
  ackPending = false;
  due = 0;
  constructor(private readonly fail = false) {}
  ackDue(): void {
    this.due++;
    if (this.fail) throw new Error('flush failed');
  }
}

describe('delayed ACKs', () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('waits the ACKs of many sessions on one timer and sends each once after ACK_DELAY_MS', () => {
    const targets = Array.from({ length: 100 }, () => new Target());
    for (const target of targets) acknowledgeLater(target);
    // Owed again before the delay passed: still one ACK.
    acknowledgeLater(targets[0]!);
    expect(vi.getTimerCount()).toBe(1);
    expect(delayedAckCount()).toBe(100);
    expect(targets.every((target) => target.due === 0)).toBe(true);
    vi.advanceTimersByTime(ACK_DELAY_MS);
    expect(targets.map((target) => target.due)).toEqual(targets.map(() => 1));
    expect(vi.getTimerCount()).toBe(0);
    expect(delayedAckCount()).toBe(0);
  });

  it('skips a session that cancelled (closed) while it waited, and clears the timer when none waits', () => {
    const kept = new Target();
    const cancelled = new Target();
    acknowledgeLater(kept);
    acknowledgeLater(cancelled);
    cancelDelayedAck(cancelled);
    expect(delayedAckCount()).toBe(1);
    vi.advanceTimersByTime(ACK_DELAY_MS);
    expect([kept.due, cancelled.due]).toEqual([1, 0]);
    acknowledgeLater(cancelled);
    cancelDelayedAck(cancelled);
    expect(vi.getTimerCount()).toBe(0);
    expect(delayedAckCount()).toBe(0);
    vi.advanceTimersByTime(10 * ACK_DELAY_MS);
    expect(cancelled.due).toBe(0);
  });

  it('after a session whose ACK throws, sends the others with the next timer', () => {
    const failing = new Target(true);
    const after = new Target();
    acknowledgeLater(failing);
    acknowledgeLater(after);
    expect(() => vi.advanceTimersByTime(ACK_DELAY_MS)).toThrow('flush failed');
    expect(after.due).toBe(0);
    expect(vi.getTimerCount()).toBe(1);
    vi.advanceTimersByTime(ACK_DELAY_MS);
    expect([failing.due, after.due]).toEqual([1, 1]);
    expect(delayedAckCount()).toBe(0);
  });
});
