/**
 * QoS 1 and 2 across connections killed at every step of their exchanges (docs/PROTOCOL.md 10.5):
 * a client publishing (PUBLISH, PUBACK | PUBREC, PUBREL, PUBCOMP) and a persistent subscriber
 * receiving (MESSAGE, PUBACK | PUBREC, PUBREL, PUBCOMP). Each case replaces one frame, on the side
 * that would send it, with the end of the connection; the client reconnects and the exchange
 * completes. QoS 1 loses nothing; QoS 2 loses nothing and delivers nothing twice.
 */
import { describe, expect, it } from 'vitest';
import type { Connection } from '../../ts/session/connection.js';
import type { Client } from '../../ts/api/client.js';
import type { Peer } from '../../ts/api/peer.js';
import type { Server } from '../../ts/api/server.js';
import { PubsubType, type PubsubMessage } from '../../ts/pubsub/wire.js';
import { closeAfterEach, startClient, startServer } from '../support/sessions.js';
import { waitUntil, within } from '../support/wait.js';

closeAfterEach();

/** The first time `connection` is about to send a message of `type`, its socket is destroyed instead. */
function dieBeforeSending(connection: Connection, type: string): { fired: () => boolean } {
  let fired = false;
  const send = connection.sendEncoded.bind(connection);
  connection.sendEncoded = (t, encoding, body, options) => {
    if (t === type && !fired) {
      fired = true;
      connection.destroy();
      return false;
    }
    return send(t, encoding, body, options);
  };
  return { fired: () => fired };
}

const RECONNECT = { initialDelayMs: 5, maxDelayMs: 50, maxAttempts: 50 };

async function setup(subscriberQos: 1 | 2): Promise<{ server: Server; publisher: Client; subscriber: Client; received: PubsubMessage[]; peerOf: (id: string) => Peer }> {
  const { server, tcpPort } = await startServer({ udpPort: false });
  const subscriber = await startClient({ tcpPort, udpPort: false, clientId: 'sub', cleanSession: false, reconnect: RECONNECT });
  const received: PubsubMessage[] = [];
  subscriber.on('publish', (message) => received.push(message));
  await subscriber.subscribe('t', { qos: subscriberQos });
  const publisher = await startClient({ tcpPort, udpPort: false, clientId: 'pub', cleanSession: false, reconnect: RECONNECT });
  return { server, publisher, subscriber, received, peerOf: (id) => server.peerByClientId(id)! };
}

async function settled(server: Server): Promise<void> {
  await waitUntil(() => server.stats().pubsub.inflight === 0 && server.stats().pubsub.queuedOffline === 0, 10_000, 'every delivery acknowledged');
}

describe('a client publishing, its connection killed at each step', () => {
  const steps = [
    { qos: 1, side: 'client', type: PubsubType.PUBLISH, what: 'before PUBLISH reaches the server' },
    { qos: 1, side: 'server', type: PubsubType.PUBACK, what: 'after the server routed it, before PUBACK' },
    { qos: 2, side: 'client', type: PubsubType.PUBLISH, what: 'before PUBLISH reaches the server' },
    { qos: 2, side: 'server', type: PubsubType.PUBREC, what: 'after the server routed it, before PUBREC' },
    { qos: 2, side: 'client', type: PubsubType.PUBREL, what: 'after PUBREC, before PUBREL' },
    { qos: 2, side: 'server', type: PubsubType.PUBCOMP, what: 'after PUBREL, before PUBCOMP' },
  ] as const;
  for (const step of steps) {
    it(`QoS ${step.qos}: killed ${step.what}: delivered ${step.qos === 2 ? 'exactly once' : 'at least once'}, publish resolves`, async () => {
      const { server, publisher, received, peerOf } = await setup(2);
      const connection = step.side === 'client' ? publisher.connection! : peerOf('pub').connection;
      const kill = dieBeforeSending(connection, step.type);
      await within(publisher.publish('t', 'payload', { qos: step.qos }), 10_000, 'the publish to complete');
      expect(kill.fired()).toBe(true);
      await settled(server);
      await waitUntil(() => received.length >= 1, 5000, 'the delivery');
      if (step.qos === 2) expect(received).toHaveLength(1);
      expect(received[0]).toMatchObject({ topic: 't', payload: 'payload' });
      expect(server.stats().pubsub.messagesIn[step.qos === 1 ? 'qos1' : 'qos2']).toBeGreaterThanOrEqual(1);
    });
  }
});

describe('a persistent subscriber receiving, its connection killed at each step', () => {
  const steps = [
    { qos: 1, side: 'server', type: PubsubType.MESSAGE, what: 'before the delivery reaches it' },
    { qos: 1, side: 'client', type: PubsubType.PUBACK, what: 'after the delivery, before PUBACK' },
    { qos: 2, side: 'server', type: PubsubType.MESSAGE, what: 'before the delivery reaches it' },
    { qos: 2, side: 'client', type: PubsubType.PUBREC, what: 'after the delivery, before PUBREC' },
    { qos: 2, side: 'server', type: PubsubType.PUBREL, what: 'after PUBREC, before PUBREL' },
    { qos: 2, side: 'client', type: PubsubType.PUBCOMP, what: 'after PUBREL, before PUBCOMP' },
  ] as const;
  for (const step of steps) {
    it(`QoS ${step.qos}: killed ${step.what}: ${step.qos === 2 ? 'exactly once' : 'at least once'}`, async () => {
      const { server, publisher, subscriber, received, peerOf } = await setup(step.qos);
      const connection = step.side === 'client' ? subscriber.connection! : peerOf('sub').connection;
      const kill = dieBeforeSending(connection, step.type);
      await publisher.publish('t', 'first', { qos: step.qos });
      await waitUntil(kill.fired, 5000, 'the kill');
      await settled(server);
      // A second message after the reconnect: order and the session both survived.
      await publisher.publish('t', 'second', { qos: step.qos });
      await waitUntil(() => received.some((m) => m.payload === 'second'), 10_000, 'the second message');
      await settled(server);
      const payloads = received.map((m) => m.payload);
      if (step.qos === 2) expect(payloads).toEqual(['first', 'second']);
      else expect(new Set(payloads)).toEqual(new Set(['first', 'second']));
    });
  }
});
