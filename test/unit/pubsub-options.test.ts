/**
 * ts/pubsub/pubsub-options.ts: publish and subscribe options, the CONNECT and SUBSCRIBE requests
 * as a server reads them (refused with HW_ERR_BAD_MESSAGE), and the will.
 */
import { describe, expect, it } from 'vitest';
import { checkPublishOptions, checkSubscribeOptions, checkSubscribeRequest, checkWill, encodeConnectRequest, parseConnectRequest } from '../../ts/pubsub/pubsub-options.js';
import { DEFAULT_TOPIC_LIMITS } from '../../ts/pubsub/topics.js';

const invalid = expect.objectContaining({ code: 'HW_ERR_INVALID_ARGUMENT' });
const bad = expect.objectContaining({ code: 'HW_ERR_BAD_MESSAGE' });

describe('options', () => {
  it('publish: qos 0..2, retain, expiryMs, priority', () => {
    expect(checkPublishOptions(undefined)).toEqual({ qos: 0, retain: false, expiryMs: undefined });
    expect(checkPublishOptions({ qos: 2, retain: true, expiryMs: 5, priority: 'high' })).toEqual({ qos: 2, retain: true, expiryMs: 5, priority: 'high' });
    for (const options of [{ qos: 3 }, { retain: 1 }, { expiryMs: -1 }, { expiryMs: 1.5 }, { priority: 'urgent' }, null]) {
      expect(() => checkPublishOptions(options as never)).toThrow(invalid);
    }
  });

  it('subscribe: qos, transport, reliable, noLocal', () => {
    expect(checkSubscribeOptions(undefined)).toEqual({ qos: 0, transport: 'tcp', reliable: false, noLocal: false });
    expect(checkSubscribeOptions({ qos: 1, transport: 'udp', reliable: true, noLocal: true })).toEqual({ qos: 1, transport: 'udp', reliable: true, noLocal: true });
    for (const options of [{ qos: -1 }, { transport: 'sctp' }, { reliable: 'yes' }, { noLocal: 1 }]) expect(() => checkSubscribeOptions(options as never)).toThrow(invalid);
    expect(() => checkSubscribeRequest({ qos: 0 })).toThrow(bad);
    expect(() => checkSubscribeRequest({ filter: 'x', qos: 5 })).toThrow(bad);
  });

  it('CONNECT: encoded by the client, read back by the server with its will', () => {
    const request = encodeConnectRequest(false, 5000, { topic: 'wills/a', payload: { bye: true }, qos: 1, retain: true });
    expect(parseConnectRequest(request, DEFAULT_TOPIC_LIMITS)).toEqual({ persistent: true, sessionExpiryMs: 5000, will: { topic: 'wills/a', payload: { bye: true }, qos: 1, retain: true } });
    expect(parseConnectRequest({}, DEFAULT_TOPIC_LIMITS)).toEqual({ persistent: false, sessionExpiryMs: 0, will: undefined });
    for (const body of [null, { cleanSession: 'no' }, { sessionExpiryMs: -1 }, { will: 7 }, { will: 'AAAA' }]) expect(() => parseConnectRequest(body, DEFAULT_TOPIC_LIMITS)).toThrow(bad);
    const dollarWill = encodeConnectRequest(true, 0, { topic: '$SYS/x' });
    expect(() => parseConnectRequest(dollarWill, DEFAULT_TOPIC_LIMITS)).toThrow(expect.objectContaining({ code: 'HW_ERR_INVALID_TOPIC' }));
  });

  it('the will option is checked at connect()', () => {
    expect(checkWill(undefined, DEFAULT_TOPIC_LIMITS)).toBeUndefined();
    expect(() => checkWill({ topic: 'a/#' }, DEFAULT_TOPIC_LIMITS)).toThrow(expect.objectContaining({ code: 'HW_ERR_INVALID_TOPIC' }));
    expect(() => checkWill({ topic: 'a', qos: 4 }, DEFAULT_TOPIC_LIMITS)).toThrow(invalid);
    expect(() => checkWill('x', DEFAULT_TOPIC_LIMITS)).toThrow(invalid);
  });
});
