/** ts/api/server-stats.ts: a session's per-transport counters summed into a server's totals. */
import { describe, expect, it } from 'vitest';
import { addTransportStats } from '../../ts/api/server-stats.js';
import type { Peer } from '../../ts/api/peer.js';
import { newSessionCounters } from '../../ts/session/session-stats.js';

describe('addTransportStats', () => {
  it("adds each transport's messages and bytes to its own total", () => {
    const counters = newSessionCounters();
    Object.assign(counters.tcp, { messagesIn: 1, messagesOut: 2, bytesIn: 3, bytesOut: 4 });
    Object.assign(counters.udp, { messagesIn: 10, messagesOut: 20, bytesIn: 30, bytesOut: 40, dropped: 5 });
    const peer = { connection: { counters } } as unknown as Peer;
    const tcp = { messagesIn: 100, messagesOut: 100, bytesIn: 100, bytesOut: 100 };
    const udp = { messagesIn: 0, messagesOut: 0, bytesIn: 0, bytesOut: 0 };
    addTransportStats(tcp, udp, peer);
    addTransportStats(tcp, udp, peer);
    expect(tcp).toEqual({ messagesIn: 102, messagesOut: 104, bytesIn: 106, bytesOut: 108 });
    expect(udp).toEqual({ messagesIn: 20, messagesOut: 40, bytesIn: 60, bytesOut: 80 });
  });
});
