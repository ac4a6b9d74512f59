/**
 * `rateLimits` keyed by topic filter applied to pub/sub publishes over real sockets (the broker
 * calls the peer's rateLimiter.admitTopic()): 'drop' drops and counts (a QoS 1 publish over it is
 * refused with HW_ERR_RATE_LIMITED), other topics pass, 'disconnect' closes the publisher with
 * ERROR HW_ERR_RATE_LIMITED, and a publish is counted once against the peer's own rateLimit.
 */
import { describe, expect, it } from 'vitest';
import type { PubsubMessage } from '../../ts/pubsub/wire.js';
import { nextEvent } from '../support/raw-peer.js';
import { closeAfterEach, startClient, startServer } from '../support/sessions.js';
import { waitUntil, within } from '../support/wait.js';

closeAfterEach();

// One message a second with a burst of 2: within a test the third one has no token.
const SLOW = { messagesPerSecond: 1, burst: 2 };

describe('rateLimits by topic filter on pub/sub publishes', () => {
  it("'drop': publishes past the limit on a matching topic are dropped and counted; other topics pass", async () => {
    const { server, tcpPort } = await startServer({ udpPort: false, rateLimits: { 'sensors/#': { ...SLOW, action: 'drop' } } });
    const subscriber = await startClient({ tcpPort, udpPort: false });
    const received: PubsubMessage[] = [];
    await subscriber.subscribe('#', (message) => void received.push(message));
    const publisher = await startClient({ tcpPort, udpPort: false });
    for (let i = 0; i < 5; i++) await publisher.publish('sensors/1/temp', i);
    for (let i = 0; i < 5; i++) await publisher.publish('news/today', i);
    await expect(publisher.publish('sensors/2/temp', 'refused', { qos: 1 })).rejects.toMatchObject({ code: 'HW_ERR_RATE_LIMITED' });
    await waitUntil(() => received.length === 7, 5000, 'the seven publishes within the limits');
    await subscriber.ping();
    expect(received.map((m) => `${m.topic}:${String(m.payload)}`)).toEqual(['sensors/1/temp:0', 'sensors/1/temp:1', ...[0, 1, 2, 3, 4].map((i) => `news/today:${i}`)]);
    expect(server.stats().pubsub.dropped.rateLimited).toBe(4);
    expect(server.stats().qos.dropped).toBe(4);
    // The publisher's session stays.
    await publisher.ping();
  });

  it("'disconnect': the publisher past the limit gets ERROR HW_ERR_RATE_LIMITED and is closed", async () => {
    const { server, tcpPort } = await startServer({ udpPort: false, rateLimits: { 'sensors/#': { ...SLOW, action: 'disconnect' } } });
    const publisher = await startClient({ tcpPort, udpPort: false });
    const closed = nextEvent<[Error | undefined]>(publisher, 'disconnect');
    await publisher.publish('sensors/a', 1);
    await publisher.publish('sensors/a', 2);
    await publisher.publish('sensors/a', 3).catch(() => {});
    const [error] = await within(closed, 5000, 'the publisher to be closed');
    expect(error).toMatchObject({ code: 'HW_ERR_RATE_LIMITED' });
    expect(server.stats().qos.disconnected).toBe(1);
  });

  it("a publish takes one token of the peer's own rateLimit, not two", async () => {
    const { server, tcpPort } = await startServer({ udpPort: false, rateLimit: { messagesPerSecond: 1, burst: 4, action: 'drop' }, rateLimits: { 'other/#': { messagesPerSecond: 1000, action: 'drop' } } });
    const subscriber = await startClient({ tcpPort, udpPort: false });
    const received: PubsubMessage[] = [];
    await subscriber.subscribe('sensors/a', (message) => void received.push(message));
    const publisher = await startClient({ tcpPort, udpPort: false });
    for (let i = 0; i < 4; i++) await publisher.publish('sensors/a', i);
    await waitUntil(() => received.length === 4, 5000, 'four publishes within the burst of 4');
    expect(server.stats().qos.dropped).toBe(0);
    await publisher.publish('sensors/a', 'the fifth');
    await waitUntil(() => server.stats().qos.dropped === 1, 5000, 'the fifth publish to be dropped');
  });

  it("the peer's own rateLimit with 'drop': a QoS 1 publish past it is refused with HW_ERR_RATE_LIMITED, not left waiting", async () => {
    const { server, tcpPort } = await startServer({ udpPort: false, rateLimit: { messagesPerSecond: 1, burst: 2, action: 'drop' } });
    const publisher = await startClient({ tcpPort, udpPort: false });
    await publisher.publish('sensors/a', 1, { qos: 1 });
    await publisher.publish('sensors/a', 2, { qos: 1 });
    await within(expect(publisher.publish('sensors/a', 3, { qos: 1 })).rejects.toMatchObject({ code: 'HW_ERR_RATE_LIMITED' }), 5000, 'the third publish to be refused');
    expect(server.stats().pubsub.dropped.rateLimited).toBe(1);
  });
});
