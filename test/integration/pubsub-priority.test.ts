/**
 * server.publish(topic, payload, { priority }) reaches the send path: its deliveries go at that
 * priority (SendOptions.priority), counted per priority in server.stats().qos, at QoS 0 and QoS 1.
 */
import { describe, expect, it } from 'vitest';
import type { PubsubMessage } from '../../ts/pubsub/wire.js';
import { closeAfterEach, startClient, startServer } from '../support/sessions.js';
import { waitUntil } from '../support/wait.js';

closeAfterEach();

describe('pub/sub priority', () => {
  it("server.publish's priority is the priority its deliveries are sent at", async () => {
    const { server, tcpPort } = await startServer({ udpPort: false });
    const subscriber = await startClient({ tcpPort, udpPort: false });
    const received: PubsubMessage[] = [];
    await subscriber.subscribe('alarms/#', (message) => void received.push(message), { qos: 1 });
    const before = server.stats().qos;
    await server.publish('alarms/fire', 'now', { priority: 'high' });
    await server.publish('alarms/smoke', 'soon', { priority: 'high', qos: 1 });
    await server.publish('alarms/dust', 'later', { priority: 'low', qos: 1 });
    await waitUntil(() => received.length === 3, 5000, 'the three deliveries');
    const after = server.stats().qos;
    expect(after.high.sent - before.high.sent).toBe(2);
    expect(after.low.sent - before.low.sent).toBe(1);
    expect(received.map((m) => m.topic)).toEqual(['alarms/fire', 'alarms/smoke', 'alarms/dust']);
  });

  it('refuses a priority that is not high, normal or low', async () => {
    const { server } = await startServer({ udpPort: false });
    await expect(server.publish('a', 1, { priority: 'urgent' as never })).rejects.toMatchObject({ code: 'HW_ERR_INVALID_ARGUMENT' });
  });
});
