import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { HybridwireError } from '../../ts/errors.js';
import { SendWatch, checkQueueBound, type SendWatchHost } from '../../ts/session/send-watch.js';
import { newSessionCounters } from '../../ts/session/session-stats.js';
import { FakeSocket } from '../support/fake-socket.js';

const LIMITS = { highWaterMark: 1000, maxQueueBytes: 10_000, sendStallTimeoutMs: 1000 };

class Host implements SendWatchHost {
  readonly pauses: boolean[] = [];
  readonly failures: string[] = [];
  pauseForQueue(paused: boolean): void {
    this.pauses.push(paused);
  }
  queueFailed(error: HybridwireError): void {
    this.failures.push(`${error.code}: ${error.message}`);
  }
}

function setup(pauseReading = true) {
  const socket = new FakeSocket();
  const counters = newSessionCounters();
  const host = new Host();
  const watch = new SendWatch(socket.asSocket(), LIMITS, counters, host);
  watch.pauseReading = pauseReading;
  /** `bytes` more handed to the socket, of which it keeps `held` unwritten. */
  const written = (bytes: number, held: number) => {
    counters.tcp.bytesOut += bytes;
    socket.writableLength = held;
  };
  return { socket, host, watch, written };
}

describe('SendWatch', () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('fails the peer once its queue passes maxQueueBytes, not at it', () => {
    const { host } = setup();
    checkQueueBound(10_000, LIMITS, host);
    expect(host.failures).toEqual([]);
    checkQueueBound(10_001, LIMITS, host);
    expect(host.failures).toEqual([expect.stringMatching(/^HW_ERR_SEND_QUEUE_FULL: 10001 bytes are queued.*maxQueueBytes is 10000/)]);
  });

  it('stops reading when congested past highWaterMark, and reads again once the socket drains', () => {
    const { host, watch } = setup();
    watch.congested(999);
    expect(host.pauses).toEqual([]);
    watch.congested(1000);
    watch.congested(5000);
    expect(host.pauses).toEqual([true]);
    watch.drained();
    expect(host.pauses).toEqual([true, false]);
    watch.stop();
  });

  it('never stops reading for a session that does not ask it to (a client)', () => {
    const { host, watch } = setup(false);
    watch.congested(5000);
    watch.drained();
    expect(host.pauses).toEqual([]);
    watch.stop();
  });

  it('closes a peer whose socket takes nothing for sendStallTimeoutMs', () => {
    const { host, watch, written } = setup();
    written(50_000, 40_000);
    watch.congested(40_000);
    vi.advanceTimersByTime(999);
    expect(host.failures).toEqual([]);
    vi.advanceTimersByTime(250);
    expect(host.failures).toEqual([expect.stringMatching(/^HW_ERR_SEND_QUEUE_FULL: the peer took none of the 40000 bytes queued for it for 1000 ms/)]);
  });

  it('keeps a peer that takes bytes, however slowly, and stops watching once the socket drains', () => {
    const { host, watch, written } = setup();
    written(50_000, 40_000);
    watch.congested(40_000);
    for (let held = 39_000; held > 0; held -= 1000) {
      vi.advanceTimersByTime(500);
      written(0, held);
    }
    expect(host.failures).toEqual([]);
    watch.drained();
    written(0, 5000);
    vi.advanceTimersByTime(10_000);
    expect(host.failures).toEqual([]);
  });
});
