import { describe, expect, it } from 'vitest';
import { renderTop, type TopFrame } from '../../ts/cli/top-view.js';
import { emptyDrops, type MetricsSnapshot } from '../../ts/features/metrics/snapshot.js';
import type { AdminPeer } from '../../ts/features/admin/admin.js';

function figures(messages: number, types: Array<[string, number]>): MetricsSnapshot {
  return {
    time: 0,
    uptimeSeconds: 65,
    sessions: 2,
    handshakes: { accepted: 3, refused: 1, failed: 0 },
    tcp: { messagesIn: messages, messagesOut: messages / 2, bytesIn: messages * 64, bytesOut: messages * 32 },
    udp: { messagesIn: 0, messagesOut: 0, bytesIn: 0, bytesOut: 0 },
    drops: { ...emptyDrops(), unauthenticated: 2 },
    retransmissions: 7,
    rtt: { samples: 4, sumSeconds: 0.002, meanMs: 0.5 },
    types: types.map(([type, count]) => ({ type, messages: count })),
  };
}

const peer = (id: string, messagesIn: number): AdminPeer => ({ id, clientId: undefined, address: '127.0.0.1', port: 5555, rttMs: 0.5, messagesIn, messagesOut: messagesIn / 2, bytesIn: 0, bytesOut: 0, queuedBytes: 0 });

function frame(at: number, messages: number, types: Array<[string, number]>, peers: AdminPeer[]): TopFrame {
  return { at, reply: { figures: figures(messages, types), sessionCount: peers.length, peers } };
}

describe('renderTop', () => {
  it('shows rates from two frames a second apart: msg/s in and out, per peer, busiest types first; RTT, drops, peers', () => {
    const before = frame(1000, 1000, [['chat', 100], ['ping', 900]], [peer('aaaaaaaa-1', 900), peer('bbbbbbbb-2', 100)]);
    const now = frame(2000, 3000, [['chat', 1900], ['ping', 1100]], [peer('aaaaaaaa-1', 1100), peer('bbbbbbbb-2', 1900)]);
    const screen = renderTop('127.0.0.1:5000', now, before).join('\n');
    expect(screen).toContain('hybridwire top  127.0.0.1:5000  up 1m 05s  peers 2');
    expect(screen).toContain('msg/s in 2,000  out 1,000');
    expect(screen).toContain('RTT 500 µs');
    expect(screen).toContain('drops 2 (unauthenticated 2)');
    expect(screen).toContain('retransmissions 7');
    expect(screen).toMatch(/^ {2}chat +1,800 +1,900\n {2}ping +200 +1,100$/m);
    expect(screen).toMatch(/^aaaaaaaa +127\.0\.0\.1:5555 +500 µs +200 +100 +0 B$/m);
    expect(screen).toMatch(/^bbbbbbbb +127\.0\.0\.1:5555 +500 µs +1,800 +900 +0 B$/m);
  });

  it('shows no rates before a second frame, and fits the width', () => {
    const lines = renderTop('h:1', frame(0, 10, [], [peer('cccccccc', 10)]), undefined, 40);
    expect(lines.join('\n')).toContain('msg/s in –  out –');
    expect(lines.join('\n')).toContain('(none yet)');
    for (const line of lines) expect(line.length).toBeLessThanOrEqual(40);
  });
});
