/** ts/qos/qos-settings.ts: what servers and clients resolve of their QoS options, and stats().qos. */
import { describe, expect, it } from 'vitest';
import { clientQos, newQosTotals, qosStats, serverQos } from '../../ts/qos/qos-settings.js';

describe('serverQos and clientQos', () => {
  it('a server limits what it receives, a client shapes what it sends', () => {
    const server = serverQos({ rateLimit: { messagesPerSecond: 10, action: 'disconnect' }, rateLimits: { chat: { messagesPerSecond: 1 } } });
    expect(server.sendLimit).toBeUndefined();
    expect(server.receiveLimit).toMatchObject({ messagesPerSecond: 10, action: 'disconnect' });
    expect(server.receiveLimits).toEqual([expect.objectContaining({ match: 'chat' })]);
    const client = clientQos({ rateLimit: { bytesPerSecond: 1000 } });
    expect(client.sendLimit).toMatchObject({ bytesPerSecond: 1000, action: 'delay' });
    expect(client.receiveLimit).toBeUndefined();
    expect(serverQos({}).receiveLimit).toBeUndefined();
  });

  it("a client's rateLimit may only delay", () => {
    expect(() => clientQos({ rateLimit: { messagesPerSecond: 1, action: 'disconnect' } })).toThrow(expect.objectContaining({ code: 'HW_ERR_INVALID_OPTION', option: 'rateLimit.action' }));
  });
});

describe('qosStats', () => {
  it('copies the totals per priority and the rate-limit counts', () => {
    const totals = newQosTotals();
    totals.sent[0] = 3;
    totals.queued[2] = 2;
    totals.waiting[1] = 1;
    totals.dropped = 4;
    const stats = qosStats(totals);
    expect(stats).toEqual({
      high: { queued: 0, waiting: 0, sent: 3 },
      normal: { queued: 0, waiting: 1, sent: 0 },
      low: { queued: 2, waiting: 0, sent: 0 },
      delayed: 0,
      dropped: 4,
      disconnected: 0,
    });
    totals.sent[0] = 9;
    expect(stats.high.sent).toBe(3);
  });
});
