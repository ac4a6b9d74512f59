import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { Heartbeat, type HeartbeatHost } from '../../ts/session/heartbeat.js';

class Host implements HeartbeatHost {
  paused = false;
  readonly pings: number[] = [];
  readonly timeouts: number[] = [];
  readingPaused(): boolean {
    return this.paused;
  }
  sendPing(payload: Buffer, sequence: number): void {
    expect(payload).toHaveLength(8);
    this.pings.push(sequence);
  }
  timedOut(timeoutMs: number): void {
    this.timeouts.push(timeoutMs);
  }
}

describe('Heartbeat', () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('sends a PING every interval, sequences counting from 1', () => {
    const host = new Host();
    const heartbeat = new Heartbeat(host);
    heartbeat.start(100, 1000);
    vi.advanceTimersByTime(350);
    expect(host.pings).toEqual([1, 2, 3]);
    heartbeat.stop();
    vi.advanceTimersByTime(1000);
    expect(host.pings).toEqual([1, 2, 3]);
  });

  it('finds a silent peer dead after the timeout, within one interval, and stops', () => {
    const host = new Host();
    const heartbeat = new Heartbeat(host);
    heartbeat.start(100, 500);
    vi.advanceTimersByTime(500);
    expect(host.timeouts).toEqual([]);
    vi.advanceTimersByTime(100);
    expect(host.timeouts).toEqual([500]);
    vi.advanceTimersByTime(1000);
    expect(host.timeouts).toEqual([500]);
  });

  it('keeps alive a peer from which frames come', () => {
    const host = new Host();
    const heartbeat = new Heartbeat(host);
    heartbeat.start(100, 500);
    for (let i = 0; i < 20; i++) {
      heartbeat.received = true;
      vi.advanceTimersByTime(100);
    }
    expect(host.timeouts).toEqual([]);
    expect(host.pings).toHaveLength(20);
  });

  it('never counts against the peer the time this side was not reading it; the silence counts from the resume', () => {
    const host = new Host();
    const heartbeat = new Heartbeat(host);
    heartbeat.start(100, 500);
    host.paused = true;
    vi.advanceTimersByTime(3000);
    expect(host.timeouts).toEqual([]);
    host.paused = false;
    vi.advanceTimersByTime(500);
    expect(host.timeouts).toEqual([]);
    vi.advanceTimersByTime(200);
    expect(host.timeouts).toEqual([500]);
  });
});
