import { describe, expect, it } from 'vitest';
import { newSessionCounters, snapshotStats } from '../../ts/session/session-stats.js';

describe('session stats', () => {
  it('start at zero, with no RTT yet', () => {
    expect(newSessionCounters()).toEqual({
      tcp: { messagesIn: 0, messagesOut: 0, bytesIn: 0, bytesOut: 0 },
      udp: { messagesIn: 0, messagesOut: 0, bytesIn: 0, bytesOut: 0, dropped: 0 },
      rttMs: undefined,
      compressedOut: 0,
      compressedIn: 0,
    });
  });

  it('a snapshot copies the counters, adds the queue state, and does not follow later counts', () => {
    const counters = newSessionCounters();
    counters.tcp.messagesOut = 3;
    counters.udp.dropped = 1;
    counters.rttMs = 0.5;
    const snapshot = snapshotStats(counters, 2, 100);
    counters.tcp.messagesOut++;
    counters.udp.dropped++;
    expect(snapshot).toMatchObject({ tcp: { messagesOut: 3 }, udp: { dropped: 1 }, rttMs: 0.5, pendingRequests: 2, queuedBytes: 100 });
  });
});
