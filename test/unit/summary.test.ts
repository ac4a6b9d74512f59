import { describe, expect, it } from 'vitest';
import { formatSummary } from '../../ts/features/metrics/summary.js';
import { emptyDrops, type MetricsSnapshot } from '../../ts/features/metrics/snapshot.js';

function figures(overrides: Partial<MetricsSnapshot> = {}): MetricsSnapshot {
  return {
    time: 0,
    uptimeSeconds: 125.4,
    sessions: 3,
    handshakes: { accepted: 5, refused: 1, failed: 0 },
    tcp: { messagesIn: 12_345, messagesOut: 12_000, bytesIn: 56_700, bytesOut: 1_500_000 },
    udp: { messagesIn: 10, messagesOut: 8, bytesIn: 1200, bytesOut: 900 },
    drops: { ...emptyDrops(), unauthenticated: 3, broadcast: 2 },
    retransmissions: 4,
    rtt: { samples: 12, sumSeconds: 0.006, meanMs: 0.42 },
    types: [{ type: 'chat', messages: 1000 }, { type: 'ping', messages: 200 }],
    ...overrides,
  };
}

describe('formatSummary', () => {
  it('says uptime, sessions, handshakes, traffic per transport, RTT, drops by cause and the busiest types', () => {
    expect(formatSummary(figures()).split('\n')).toEqual([
      'hybridwire server: up 2m 05s, 3 sessions open',
      'handshakes: 5 accepted, 1 refused, 0 failed',
      'TCP: 12,345 messages in (56.7 kB), 12,000 out (1.50 MB)',
      'UDP: 10 messages in (1.20 kB), 8 out (900 B), 4 retransmitted',
      "RTT: 420 µs (mean of the sessions' smoothed heartbeat RTT), 12 heartbeat samples",
      'drops: 5 (unauthenticated 3, broadcast 2)',
      'busiest types: chat 1,000, ping 200',
    ]);
  });

  it('says so when nothing was measured or dropped yet', () => {
    const text = formatSummary(figures({ sessions: 1, drops: emptyDrops(), rtt: { samples: 0, sumSeconds: 0, meanMs: undefined }, types: [] }));
    expect(text).toContain('1 session open');
    expect(text).toContain('RTT: not measured yet');
    expect(text).toContain('drops: none');
    expect(text).toContain('busiest types: none yet');
  });
});
