import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { Heartbeat, HeartbeatWheel, checkPingPayload, sharedHeartbeatWheel, type HeartbeatHost } from '../../ts/session/heartbeat.js';

class Host implements HeartbeatHost {
  paused = false;
  readonly pings: number[] = [];
  /** Date.now() at each PING. */
  readonly pingTimes: number[] = [];
  readonly timeouts: number[] = [];
  readingPaused(): boolean {
    return this.paused;
  }
  sendPing(payload: Buffer, sequence: number): void {
    expect(payload).toHaveLength(8);
    this.pings.push(sequence);
    this.pingTimes.push(Date.now());
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

describe('HeartbeatWheel', () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('beats every heartbeat of its interval once per interval, the first between one slot and one interval after its start', () => {
    const wheel = new HeartbeatWheel(160);
    const hosts = Array.from({ length: 5 }, () => new Host());
    const starts: number[] = [];
    for (const host of hosts) {
      starts.push(Date.now());
      new Heartbeat(host).start(160, 10_000, wheel);
      vi.advanceTimersByTime(37);
    }
    vi.advanceTimersByTime(1000);
    hosts.forEach((host, i) => {
      // 160 ms in 16 slots of 10 ms: the first beat within (150, 160] ms of the start.
      const first = host.pingTimes[0]! - starts[i]!;
      expect(first).toBeGreaterThan(150);
      expect(first).toBeLessThanOrEqual(160);
      // Then one PING per interval, in sequence.
      expect(host.pingTimes.map((at, n) => at - host.pingTimes[0]! - n * 160)).toEqual(host.pingTimes.map(() => 0));
      expect(host.pings).toEqual(host.pings.map((_, n) => n + 1));
    });
    expect(hosts[0]!.pings.length).toBe(7);
  });

  it('runs a timer only while it has heartbeats', () => {
    const wheel = new HeartbeatWheel(100);
    const heartbeats = [new Heartbeat(new Host()), new Heartbeat(new Host())];
    expect(vi.getTimerCount()).toBe(0);
    for (const heartbeat of heartbeats) heartbeat.start(100, 1000, wheel);
    expect(vi.getTimerCount()).toBe(1);
    heartbeats[0]!.stop();
    expect(vi.getTimerCount()).toBe(1);
    heartbeats[1]!.stop();
    expect(vi.getTimerCount()).toBe(0);
  });

  it('a heartbeat whose interval is not the wheel\'s beats on a wheel of its own', () => {
    const wheel = new HeartbeatWheel(1000);
    const host = new Host();
    new Heartbeat(host).start(100, 1000, wheel);
    vi.advanceTimersByTime(350);
    expect(host.pings).toEqual([1, 2, 3]);
  });

  it('keeps beating the others when heartbeats of the same slot stop during a turn', () => {
    const wheel = new HeartbeatWheel(100);
    const hosts = Array.from({ length: 4 }, () => new Host());
    const heartbeats = hosts.map((host) => new Heartbeat(host));
    // Silent peers time out together, in one turn; a live one keeps its beat.
    for (const heartbeat of heartbeats) heartbeat.start(100, 150, wheel);
    const live = heartbeats[1]!;
    for (let i = 0; i < 4; i++) {
      live.received = true;
      vi.advanceTimersByTime(100);
    }
    expect(hosts.map((host) => host.timeouts)).toEqual([[150], [], [150], [150]]);
    expect(hosts[1]!.pings).toEqual([1, 2, 3, 4]);
    expect(vi.getTimerCount()).toBe(1);
  });
});

describe('HeartbeatWheel wake-ups', () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('wakes only for slots that hold heartbeats: once per interval for a lone heartbeat, not once per slot', () => {
    const wheel = new HeartbeatWheel(160);
    const host = new Host();
    const heartbeat = new Heartbeat(host);
    heartbeat.start(160, 10_000, wheel);
    const setTimeoutSpy = vi.spyOn(globalThis, 'setTimeout');
    vi.advanceTimersByTime(1600);
    // 10 intervals of 16 slots: one timer per beat (10), not one per slot (160).
    expect(host.pings).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    expect(setTimeoutSpy).toHaveBeenCalledTimes(10);
    setTimeoutSpy.mockRestore();
    heartbeat.stop();
  });

  it('a heartbeat that joins while the timer skips empty slots still beats once per interval, first within one interval', () => {
    const wheel = new HeartbeatWheel(160);
    const first = new Host();
    const second = new Host();
    const heartbeats = [new Heartbeat(first), new Heartbeat(second)];
    heartbeats[0]!.start(160, 10_000, wheel);
    vi.advanceTimersByTime(75);
    const joinedAt = Date.now();
    heartbeats[1]!.start(160, 10_000, wheel);
    vi.advanceTimersByTime(1000);
    const firstBeat = second.pingTimes[0]! - joinedAt;
    expect(firstBeat).toBeGreaterThan(150);
    expect(firstBeat).toBeLessThanOrEqual(160);
    expect(second.pingTimes.map((at, n) => at - second.pingTimes[0]! - n * 160)).toEqual(second.pingTimes.map(() => 0));
    expect(first.pings).toHaveLength(6);
    for (const heartbeat of heartbeats) heartbeat.stop();
    expect(vi.getTimerCount()).toBe(0);
  });
});

describe('sharedHeartbeatWheel', () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('gives the sessions of one interval one wheel and one timer, and forgets the wheel when its last heartbeat stops', () => {
    const wheel = sharedHeartbeatWheel(200);
    expect(sharedHeartbeatWheel(200)).toBe(wheel);
    expect(sharedHeartbeatWheel(300)).not.toBe(wheel);
    const hosts = Array.from({ length: 50 }, () => new Host());
    const heartbeats = hosts.map((host) => new Heartbeat(host));
    for (const heartbeat of heartbeats) heartbeat.start(200, 10_000, sharedHeartbeatWheel(200));
    expect(wheel.size).toBe(50);
    expect(vi.getTimerCount()).toBe(1);
    vi.advanceTimersByTime(200);
    expect(hosts.map((host) => host.pings)).toEqual(hosts.map(() => [1]));
    for (const heartbeat of heartbeats) heartbeat.stop();
    expect(vi.getTimerCount()).toBe(0);
    expect(sharedHeartbeatWheel(200)).not.toBe(wheel);
  });
});

describe('checkPingPayload', () => {
  it('takes up to 64 bytes and refuses more with HW_ERR_FRAME_TOO_LARGE', () => {
    expect(() => checkPingPayload(64)).not.toThrow();
    expect(() => checkPingPayload(65)).toThrow(expect.objectContaining({ code: 'HW_ERR_FRAME_TOO_LARGE' }));
  });
});
