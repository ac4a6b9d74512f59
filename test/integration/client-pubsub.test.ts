/**
 * ts/pubsub/client-pubsub.ts over real sockets: what a client does across its own reconnects (a
 * clean session subscribes again; a QoS >= 1 publish made while reconnecting goes with the next
 * session), and what fails when it closes for good.
 */
import { describe, expect, it } from 'vitest';
import type { PubsubMessage } from '../../ts/pubsub/wire.js';
import { nextEvent } from '../support/raw-peer.js';
import { closeAfterEach, startClient, startServer } from '../support/sessions.js';
import { waitUntil, within } from '../support/wait.js';

closeAfterEach();
const RECONNECT = { initialDelayMs: 5, maxDelayMs: 20, maxAttempts: 100 };

describe('client pub/sub across reconnects', () => {
  it('a clean session subscribes again after a reconnect, and its Subscription goes on', async () => {
    const { server, tcpPort } = await startServer({ udpPort: false });
    const client = await startClient({ tcpPort, udpPort: false, reconnect: RECONNECT });
    const seen: PubsubMessage[] = [];
    await client.subscribe('r/#', (m) => seen.push(m), { qos: 1 });
    const reconnected = nextEvent(client, 'reconnect');
    client.connection!.destroy();
    await within(reconnected, 5000, 'the reconnect');
    expect(server.stats().pubsub.subscriptions).toBe(1);
    await server.publish('r/1', 'after', { qos: 1 });
    await waitUntil(() => seen.length === 1, 5000, 'the message after the reconnect');
  });

  it('a QoS 1 publish made while reconnecting is sent with the next session and resolves', async () => {
    const { tcpPort } = await startServer({ udpPort: false });
    const subscriber = await startClient({ tcpPort, udpPort: false });
    const seen: PubsubMessage[] = [];
    await subscriber.subscribe('w', (m) => seen.push(m), { qos: 1 });
    const publisher = await startClient({ tcpPort, udpPort: false, reconnect: RECONNECT });
    const disconnected = nextEvent(publisher, 'disconnect');
    publisher.connection!.destroy();
    await disconnected;
    expect(publisher.state).toBe('reconnecting');
    await within(publisher.publish('w', 'queued', { qos: 1 }), 5000, 'the publish');
    await waitUntil(() => seen.length === 1, 5000, 'the delivery');
    await expect(publisher.publish('w', 'now', { qos: 0 })).resolves.toBeUndefined();
  });

  it('closing fails the publishes still unacknowledged and ends the iterations', async () => {
    const { tcpPort } = await startServer({ udpPort: false });
    const client = await startClient({ tcpPort, udpPort: false, reconnect: RECONNECT });
    const subscription = await client.subscribe('z');
    const disconnected = nextEvent(client, 'disconnect');
    client.connection!.destroy();
    await disconnected;
    const pending = client.publish('z', 1, { qos: 2 });
    await client.close();
    await expect(pending).rejects.toMatchObject({ code: 'HW_ERR_CONNECTION_CLOSED' });
    expect((await subscription[Symbol.asyncIterator]().next()).done).toBe(true);
    await expect(client.publish('z', 1)).rejects.toMatchObject({ code: 'HW_ERR_NOT_CONNECTED' });
  });
});
