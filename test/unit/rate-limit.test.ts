/** ts/qos/rate-limit.ts: validation of rateLimit and rateLimits, topic-filter matching, and RateLimiter. */
import { describe, expect, it } from 'vitest';
import { RateLimiter, resolveRateLimit, resolveRateLimits, topicMatches } from '../../ts/qos/rate-limit.js';

function clock() {
  let now = 0;
  return { now: () => now, advance: (ms: number) => void (now += ms) };
}

describe('resolveRateLimit', () => {
  it('fills the defaults: a burst of one second, action delay', () => {
    expect(resolveRateLimit('rateLimit', { messagesPerSecond: 50 })).toEqual({ messagesPerSecond: 50, bytesPerSecond: 0, burst: 50, burstBytes: 0, action: 'delay' });
    expect(resolveRateLimit('rateLimit', { bytesPerSecond: 1000, action: 'drop' })).toEqual({ messagesPerSecond: 0, bytesPerSecond: 1000, burst: 0, burstBytes: 1000, action: 'drop' });
  });

  it('counts burst in the unit of the limit: messages when messagesPerSecond is given, else bytes', () => {
    expect(resolveRateLimit('rateLimit', { bytesPerSecond: 1000, burst: 5000 }).burstBytes).toBe(5000);
    const both = resolveRateLimit('rateLimit', { messagesPerSecond: 10, bytesPerSecond: 1000, burst: 20, burstBytes: 4000 });
    expect([both.burst, both.burstBytes]).toEqual([20, 4000]);
  });

  it('refuses, naming the option and its range: no rate, a bad field, a bad action, not an object', () => {
    const refused = (value: unknown, message: RegExp) => expect(() => resolveRateLimit('rateLimit', value)).toThrow(expect.objectContaining({ code: 'HW_ERR_INVALID_OPTION', message: expect.stringMatching(message) }));
    refused({}, /rateLimit must give messagesPerSecond or bytesPerSecond/);
    refused({ messagesPerSecond: -1 }, /rateLimit\.messagesPerSecond must be an integer from 0 to 1000000000, got -1/);
    refused({ messagesPerSecond: 1.5 }, /rateLimit\.messagesPerSecond must be an integer/);
    refused({ bytesPerSecond: 10, burst: 'x' }, /rateLimit\.burst must be an integer from 0 to/);
    refused({ messagesPerSecond: 1, action: 'ban' }, /rateLimit\.action must be 'delay' or 'drop' or 'disconnect', got ban/);
    refused(5, /rateLimit must be an object/);
    expect(() => resolveRateLimit('rateLimit', { messagesPerSecond: 1, action: 'drop' }, ['delay'])).toThrow(/rateLimit\.action must be 'delay', got drop/);
  });
});

describe('resolveRateLimits', () => {
  it('takes a map or a list of { match, ...limit }', () => {
    expect(resolveRateLimits({ chat: { messagesPerSecond: 5 } })).toEqual([expect.objectContaining({ match: 'chat', messagesPerSecond: 5 })]);
    expect(resolveRateLimits([{ match: 'sensors/#', bytesPerSecond: 100, action: 'disconnect' }])).toEqual([expect.objectContaining({ match: 'sensors/#', action: 'disconnect' })]);
    expect(resolveRateLimits(undefined)).toEqual([]);
  });

  it('refuses bad keys and filters, repeated keys, and entries that are not limits', () => {
    expect(() => resolveRateLimits([{ match: '', messagesPerSecond: 1 }])).toThrow(/rateLimits\[0\]\.match must be/);
    expect(() => resolveRateLimits({ 'a/#/b': { messagesPerSecond: 1 } })).toThrow(/'a\/#\/b' is not a valid topic filter/);
    expect(() => resolveRateLimits({ 'a+': { messagesPerSecond: 1 } })).toThrow(/is not a valid topic filter/);
    expect(() => resolveRateLimits([{ match: 'x', messagesPerSecond: 1 }, { match: 'x', messagesPerSecond: 2 }])).toThrow(/rateLimits\[1\] repeats the key 'x'/);
    expect(() => resolveRateLimits({ chat: { burst: 3 } })).toThrow(/rateLimits\.chat must give messagesPerSecond/);
    expect(() => resolveRateLimits('chat')).toThrow(expect.objectContaining({ code: 'HW_ERR_INVALID_OPTION', option: 'rateLimits' }));
    expect(() => resolveRateLimits(Array.from({ length: 1025 }, (_, i) => ({ match: `t${i}`, messagesPerSecond: 1 })))).toThrow(/at most 1024 entries/);
  });
});

describe('topicMatches', () => {
  it.each([
    ['sport/tennis/#', 'sport/tennis/player1', true],
    ['sport/tennis/#', 'sport/tennis', true],
    ['sport/#', 'sport', true],
    ['sport/+', 'sport/tennis', true],
    ['sport/+', 'sport/tennis/x', false],
    ['sport/*', 'sport/tennis', true],
    ['+/+', '/finance', true],
    ['#', '$SYS/uptime', false],
    ['+/uptime', '$SYS/uptime', false],
    ['$SYS/#', '$SYS/uptime', true],
    ['chat', 'chat', true],
    ['chat', 'chats', false],
  ])('%s matches %s: %s', (filter, topic, expected) => {
    expect(topicMatches(filter, topic)).toBe(expected);
  });
});

describe('RateLimiter', () => {
  it('lets a message through only when both its buckets have room, and takes from neither otherwise', () => {
    const time = clock();
    const limiter = new RateLimiter(resolveRateLimit('rateLimit', { messagesPerSecond: 10, burst: 2, bytesPerSecond: 100, burstBytes: 100 }), time.now);
    expect(limiter.tryTake(60)).toBe(true);
    // Room for a message, not for 60 more bytes: refused, and the message bucket keeps its token.
    expect(limiter.tryTake(60)).toBe(false);
    expect(limiter.tryTake(40)).toBe(true);
    expect(limiter.tryTake(1)).toBe(false);
    expect(limiter.msUntil(1)).toBe(100);
    time.advance(100);
    expect(limiter.tryTake(1)).toBe(true);
  });

  it('take() counts what passed anyway, and msUntil() how long it costs', () => {
    const time = clock();
    const limiter = new RateLimiter(resolveRateLimit('rateLimit', { messagesPerSecond: 4, burst: 1 }), time.now);
    limiter.take(10);
    limiter.take(10);
    expect(limiter.msUntil(1)).toBe(500);
  });
});
