/**
 * ts/cli/pubsub-cli.ts: the JSON line `hybridwire sub` prints per message. (The commands themselves
 * run as processes in test/integration/cli-pubsub.test.ts.)
 */
import { describe, expect, it } from 'vitest';
import { messageLine } from '../../ts/cli/pubsub-cli.js';

describe('messageLine', () => {
  it('prints bytes as UTF-8 text, JSON values as they are, nothing as null', () => {
    expect(messageLine({ topic: 't', payload: Buffer.from('héllo'), qos: 1, retain: true })).toBe('{"topic":"t","payload":"héllo","qos":1,"retain":true}');
    expect(messageLine({ topic: 't', payload: { a: [1] }, qos: 0, retain: false })).toBe('{"topic":"t","payload":{"a":[1]},"qos":0,"retain":false}');
    expect(messageLine({ topic: 't', payload: undefined, qos: 2, retain: false })).toBe('{"topic":"t","payload":null,"qos":2,"retain":false}');
  });
});
