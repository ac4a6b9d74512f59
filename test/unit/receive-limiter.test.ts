/**
 * ts/qos/receive-limiter.ts: a server's limits on one peer, per action, over messages laid out as
 * on the wire, with an injected clock and fake timers.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { ReceiveLimiter, type LimitedReceiver } from '../../ts/qos/receive-limiter.js';
import { serverQos, type QosSettings } from '../../ts/qos/qos-settings.js';
import { Encoding, MessageKind, writeMessagePrefix } from '../../ts/session/message.js';
import type { RateLimitOptions, RateLimitsOption } from '../../ts/qos/rate-limit.js';

afterEach(() => {
  vi.useRealTimers();
});

/** A message of `kind` with alias 1 and a body of `bodyBytes` bytes. */
function message(kind: number, bodyBytes = 4): Buffer {
  const prefix = Buffer.alloc(300);
  const length = writeMessagePrefix(prefix, 1, Encoding.BINARY, kind, 9, undefined);
  return Buffer.concat([prefix.subarray(0, length), Buffer.alloc(bodyBytes)]);
}

class Receiver implements LimitedReceiver {
  held: boolean[] = [];
  constructor(private readonly type = 'chat') {}
  typeAt(): string | undefined {
    return this.type;
  }
  holdForRateLimit(held: boolean): void {
    this.held.push(held);
  }
}

function limiter(options: { rateLimit?: RateLimitOptions; rateLimits?: RateLimitsOption }, receiver = new Receiver()) {
  let now = 0;
  const settings: QosSettings = { ...serverQos(options), clock: () => now };
  return { limiter: new ReceiveLimiter(settings, receiver), receiver, totals: settings.totals, advance: (ms: number) => void (now += ms) };
}

function admitMany(target: ReceiveLimiter, count: number, kind: number = MessageKind.MESSAGE): boolean[] {
  const bytes = message(kind);
  return Array.from({ length: count }, () => target.admit(bytes, 0, bytes.length, false));
}

describe('ReceiveLimiter', () => {
  it("'drop' refuses past the burst and counts it; replies to our own requests are never limited", () => {
    const { limiter: target, totals, advance } = limiter({ rateLimit: { messagesPerSecond: 10, burst: 2, action: 'drop' } });
    expect(admitMany(target, 3)).toEqual([true, true, false]);
    expect(admitMany(target, 3, MessageKind.RESPONSE)).toEqual([true, true, true]);
    expect(totals.dropped).toBe(1);
    advance(100);
    expect(admitMany(target, 2, MessageKind.REQUEST)).toEqual([true, false]);
  });

  it("'disconnect' throws HW_ERR_RATE_LIMITED and counts it", () => {
    const { limiter: target, totals } = limiter({ rateLimit: { messagesPerSecond: 1, burst: 1, action: 'disconnect' } });
    expect(admitMany(target, 1)).toEqual([true]);
    expect(() => admitMany(target, 1)).toThrow(expect.objectContaining({ code: 'HW_ERR_RATE_LIMITED' }));
    expect(totals.disconnected).toBe(1);
  });

  it("'delay' takes what was read, holds dispatch once the bucket is empty, and its timer releases it", () => {
    vi.useFakeTimers();
    const { limiter: target, receiver, totals, advance } = limiter({ rateLimit: { messagesPerSecond: 10, burst: 2 } });
    expect(admitMany(target, 2)).toEqual([true, true]);
    expect(receiver.held).toEqual([true]);
    expect(totals.delayed).toBe(1);
    advance(100);
    vi.advanceTimersByTime(100);
    expect(receiver.held).toEqual([true, false]);
    expect(vi.getTimerCount()).toBe(0);
  });

  it("'delay' over UDP, which cannot be paused, drops", () => {
    const { limiter: target, totals } = limiter({ rateLimit: { messagesPerSecond: 10, burst: 1 } });
    const bytes = message(MessageKind.MESSAGE);
    expect([target.admit(bytes, 0, bytes.length, true), target.admit(bytes, 0, bytes.length, true)]).toEqual([true, false]);
    expect(totals.dropped).toBe(1);
  });

  it('a keyed limit applies to its type only, on top of the peer limit', () => {
    const chat = limiter({ rateLimits: { chat: { messagesPerSecond: 1, burst: 1, action: 'drop' } } });
    expect(admitMany(chat.limiter, 2)).toEqual([true, false]);
    const other = limiter({ rateLimits: { chat: { messagesPerSecond: 1, burst: 1, action: 'drop' } } }, new Receiver('news'));
    expect(admitMany(other.limiter, 5)).toEqual([true, true, true, true, true]);
  });

  it('admitTopic() applies the first filter that matches the topic (the pub/sub seam)', () => {
    const { limiter: target } = limiter({ rateLimits: [{ match: 'sensors/+/temp', messagesPerSecond: 1, burst: 1, action: 'drop' }] });
    expect([target.admitTopic('sensors/a/temp', 10), target.admitTopic('sensors/b/temp', 10)]).toEqual([true, false]);
    expect(target.admitTopic('sensors/a/humidity', 10)).toBe(true);
  });

  it('a byte limit refuses a message too large for what is left', () => {
    const { limiter: target } = limiter({ rateLimit: { bytesPerSecond: 100, burst: 100, action: 'drop' } });
    const big = message(MessageKind.MESSAGE, 60);
    expect([target.admit(big, 0, big.length, false), target.admit(big, 0, big.length, false)]).toEqual([true, false]);
  });

  it('stop() clears the resume timer', () => {
    vi.useFakeTimers();
    const { limiter: target } = limiter({ rateLimit: { messagesPerSecond: 1, burst: 1 } });
    admitMany(target, 1);
    expect(vi.getTimerCount()).toBe(1);
    target.stop();
    expect(vi.getTimerCount()).toBe(0);
  });

  it('is needed only with a limit', () => {
    expect(ReceiveLimiter.needed(serverQos({}))).toBe(false);
    expect(ReceiveLimiter.needed(serverQos({ rateLimits: { a: { messagesPerSecond: 1 } } }))).toBe(true);
    expect(ReceiveLimiter.needed(undefined)).toBe(false);
  });
});
