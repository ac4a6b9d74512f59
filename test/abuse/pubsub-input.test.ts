/**
 * A hostile pub/sub peer, driven by hand (docs/PROTOCOL.md, section 10): a malformed record, a
 * PUBLISH to a topic a client may not use, QoS 2 publishes never released past maxInflight, and a
 * flood of subscriptions past maxSubscriptionsPerPeer. Each is answered with ERROR or an error
 * reply and touches no other session; a session that did not negotiate pubsub has no handler.
 */
import { describe, expect, it } from 'vitest';
import { FrameType } from '../../ts/codec/frame.js';
import { PubsubType, encodeRecord } from '../../ts/pubsub/wire.js';
import { cleanupAfterEach, rawSession, startServer } from '../support/abuse.js';
import { Encoding, INLINE, Kind, errorReply, messagesOf, message } from '../support/wire.js';
import { connect } from '../../ts/index.js';

const defer = cleanupAfterEach();
const FEATURES = ['json', 'binary', 'request', 'pubsub'];

function oneWay(type: string, body: Buffer): Buffer {
  return message({ alias: INLINE, inlineName: type, encoding: Encoding.BINARY, kind: Kind.MESSAGE, body });
}

function request(type: string, requestId: number, body: unknown): Buffer {
  return message({ alias: INLINE, inlineName: type, encoding: Encoding.JSON, kind: Kind.REQUEST, requestId, body: JSON.stringify(body) });
}

async function bystander(tcpPort: number) {
  const client = await connect({ host: '127.0.0.1', tcpPort, udpPort: false });
  defer(() => client.close());
  const seen: unknown[] = [];
  await client.subscribe('#', (m) => seen.push(m.payload));
  return { client, seen };
}

describe('a hostile pub/sub peer', () => {
  it('a malformed PUBLISH record gets ERROR HW_ERR_BAD_MESSAGE and is closed; others go on', async () => {
    const { tcpPort } = await startServer(defer);
    const other = await bystander(tcpPort);
    const { peer } = await rawSession(defer, tcpPort, { features: FEATURES });
    const truncated = encodeRecord(1, false, false, 5, 'a/b', Encoding.BINARY, Buffer.from('x')).subarray(0, 8);
    peer.sendFrame(FrameType.MESSAGE, oneWay(PubsubType.PUBLISH, truncated), 0);
    await peer.waitClosed(2000);
    expect(peer.errorFrame()?.code).toBe('HW_ERR_BAD_MESSAGE');
    await other.client.publish('still/working', 'yes', { qos: 1 });
    expect(other.seen).toContain('yes');
  });

  it('a PUBLISH to a $-topic or with a wildcard gets ERROR HW_ERR_INVALID_TOPIC and reaches nobody', async () => {
    const { tcpPort } = await startServer(defer);
    const other = await bystander(tcpPort);
    for (const topic of ['$SYS/fake', 'a/+']) {
      const { peer } = await rawSession(defer, tcpPort, { features: FEATURES });
      peer.sendFrame(FrameType.MESSAGE, oneWay(PubsubType.PUBLISH, encodeRecord(0, false, false, 0, topic, Encoding.JSON, '"spoof"')), 0);
      await peer.waitClosed(2000);
      expect(peer.errorFrame()?.code).toBe('HW_ERR_INVALID_TOPIC');
    }
    await other.client.ping();
    expect(other.seen).toEqual([]);
  });

  it('QoS 2 publishes never released, past maxInflight, end the session', async () => {
    const { tcpPort } = await startServer(defer, { maxInflight: 4 });
    const { peer } = await rawSession(defer, tcpPort, { features: FEATURES });
    peer.acknowledgeAll();
    for (let id = 1; id <= 5; id++) peer.sendFrame(FrameType.MESSAGE, oneWay(PubsubType.PUBLISH, encodeRecord(2, false, false, id, 't', Encoding.EMPTY, '')), id - 1);
    await peer.waitClosed(2000);
    expect(peer.errorFrame()?.code).toBe('HW_ERR_BAD_MESSAGE');
  });

  it('subscriptions past maxSubscriptionsPerPeer are refused; a bad filter gets HW_ERR_INVALID_TOPIC', async () => {
    const { server, tcpPort } = await startServer(defer, { maxSubscriptionsPerPeer: 3 });
    const { peer } = await rawSession(defer, tcpPort, { features: FEATURES });
    peer.acknowledgeAll();
    for (let i = 0; i < 4; i++) peer.sendFrame(FrameType.MESSAGE, request(PubsubType.SUBSCRIBE, i + 1, { filter: `f/${i}`, qos: 0 }), i);
    peer.sendFrame(FrameType.MESSAGE, request(PubsubType.SUBSCRIBE, 5, { filter: 'a/#/b', qos: 0 }), 4);
    const replies = () => peer.frames.filter((f) => f.type === FrameType.MESSAGE).flatMap((f) => messagesOf(f)).filter((m) => m.kind === Kind.RESPONSE || m.kind === Kind.ERROR);
    await peer.waitUntil(() => replies().length === 5, 2000, 'five answers');
    const errors = replies().filter((m) => m.kind === Kind.ERROR);
    expect(errors.map((m) => [m.requestId, errorReply(m).code])).toEqual([
      [4, 'HW_ERR_INVALID_ARGUMENT'],
      [5, 'HW_ERR_INVALID_TOPIC'],
    ]);
    expect(server.stats().pubsub.subscriptions).toBe(3);
  });

  it('a session that did not negotiate pubsub gets HW_ERR_NO_HANDLER', async () => {
    const { server, tcpPort } = await startServer(defer);
    const { peer } = await rawSession(defer, tcpPort, { features: ['json', 'binary', 'request'] });
    peer.acknowledgeAll();
    peer.sendFrame(FrameType.MESSAGE, request(PubsubType.SUBSCRIBE, 1, { filter: 'x', qos: 0 }), 0);
    const answer = () => peer.frames.filter((f) => f.type === FrameType.MESSAGE).flatMap((f) => messagesOf(f)).find((m) => m.kind === Kind.ERROR);
    await peer.waitUntil(() => answer() !== undefined, 2000, 'the error answer');
    expect(errorReply(answer()!).code).toBe('HW_ERR_NO_HANDLER');
    expect(server.stats().pubsub.subscriptions).toBe(0);
  });
});
