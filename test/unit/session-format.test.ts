/**
 * The format a persistent session crosses nodes in (ts/cluster/session-format.ts): every part of
 * the state survives the round trip, another version is refused with HW_ERR_BAD_VERSION, input cut
 * anywhere with HW_ERR_TRUNCATED, and malformed input with HW_ERR_BAD_MESSAGE.
 */
import { describe, expect, it } from 'vitest';
import { SESSION_FORMAT_VERSION, decodeSession, encodeSession, type TransferredSession } from '../../ts/cluster/session-format.js';
import { encodeRecord } from '../../ts/pubsub/wire.js';
import { Encoding } from '../../ts/session/message.js';

const NOW = 1_700_000_000_000;

function sample(): TransferredSession {
  const record = (id: number, qos: 1 | 2, topic: string) => encodeRecord(qos, false, false, id, topic, Encoding.JSON, JSON.stringify({ id }));
  return {
    sessionExpiryMs: 90_000,
    subscriptions: new Map([
      ['orders/#', { qos: 2, noLocal: true, transport: 'udp', reliable: true }],
      ['$share/workers/jobs/+', { qos: 1, noLocal: false, transport: 'tcp', reliable: false }],
      ['zürich/temp', { qos: 0, noLocal: false, transport: 'udp', reliable: false }],
    ]),
    inflight: new Map([
      [41, { delivery: { id: 41, qos: 2, record: record(41, 2, 'orders/a'), expiresAt: undefined, messageId: 'm-41' }, released: true, sentAt: NOW }],
      [42, { delivery: { id: 42, qos: 1, record: record(42, 1, 'orders/b'), expiresAt: NOW + 5000, priority: 'high' }, released: false, sentAt: NOW }],
    ]),
    queue: [
      { id: 43, qos: 1, record: record(43, 1, 'orders/c'), expiresAt: undefined, priority: 'low', messageId: 'm-43' },
      { id: 44, qos: 2, record: record(44, 2, 'orders/d'), expiresAt: NOW + 1, messageId: 'x'.repeat(255) },
    ],
    receivedQos2: new Set([7, 0xffffffff]),
  };
}

describe('session-format', () => {
  it('round-trips every part of a session, order of the queue and of what is in flight included', () => {
    const session = sample();
    const bytes = encodeSession(session, NOW);
    expect(bytes[0]).toBe(SESSION_FORMAT_VERSION);
    // Decoded on a node whose clock is 10 s ahead: expiries are kept as time left.
    const decoded = decodeSession(bytes, NOW + 10_000);
    expect(decoded.sessionExpiryMs).toBe(90_000);
    expect([...decoded.subscriptions]).toEqual([...session.subscriptions]);
    expect([...decoded.inflight.keys()]).toEqual([41, 42]);
    expect(decoded.inflight.get(41)).toEqual({ delivery: session.inflight.get(41)!.delivery, released: true, sentAt: NOW + 10_000 });
    expect(decoded.inflight.get(42)!.delivery).toEqual({ ...session.inflight.get(42)!.delivery, expiresAt: NOW + 15_000 });
    expect(decoded.inflight.get(42)!.released).toBe(false);
    expect(decoded.queue).toEqual([
      { ...session.queue[0]! },
      { ...session.queue[1]!, expiresAt: NOW + 10_001 },
    ]);
    expect([...decoded.receivedQos2]).toEqual([7, 0xffffffff]);
  });

  it('round-trips an empty session', () => {
    const empty: TransferredSession = { sessionExpiryMs: 0, subscriptions: new Map(), inflight: new Map(), queue: [], receivedQos2: new Set() };
    expect(decodeSession(encodeSession(empty))).toEqual(empty);
  });

  it('refuses another format version with HW_ERR_BAD_VERSION', () => {
    const bytes = encodeSession(sample(), NOW);
    for (const version of [0, 2, 255]) {
      bytes[0] = version;
      expect(() => decodeSession(bytes, NOW)).toThrow(expect.objectContaining({ code: 'HW_ERR_BAD_VERSION' }));
    }
  });

  it('refuses input cut at any length with HW_ERR_TRUNCATED', () => {
    const bytes = encodeSession(sample(), NOW);
    for (let length = 0; length < bytes.length; length++) {
      let error: unknown;
      try {
        decodeSession(bytes.subarray(0, length), NOW);
      } catch (caught) {
        error = caught;
      }
      expect(error, `cut at ${length} of ${bytes.length}`).toMatchObject({ code: 'HW_ERR_TRUNCATED' });
    }
  });

  it('refuses bytes after the end, a delivery of QoS 0 and unknown subscription flags with HW_ERR_BAD_MESSAGE', () => {
    const bytes = encodeSession(sample(), NOW);
    expect(() => decodeSession(Buffer.concat([bytes, Buffer.of(0)]), NOW)).toThrow(expect.objectContaining({ code: 'HW_ERR_BAD_MESSAGE' }));
    const oneDelivery: TransferredSession = { sessionExpiryMs: 0, subscriptions: new Map(), inflight: new Map(), queue: [sample().queue[0]!], receivedQos2: new Set() };
    const queued = encodeSession(oneDelivery, NOW);
    // version, expiry, 0 subscriptions, 0 in flight, 1 queued: the delivery's qos follows its u32 id.
    const qosAt = 1 + 4 + 4 + 4 + 4 + 4;
    expect(queued[qosAt]).toBe(1);
    queued[qosAt] = 0;
    expect(() => decodeSession(queued, NOW)).toThrow(expect.objectContaining({ code: 'HW_ERR_BAD_MESSAGE' }));
    const oneSubscription: TransferredSession = { sessionExpiryMs: 0, subscriptions: new Map([['a', { qos: 1, noLocal: false, transport: 'tcp', reliable: false }]]), inflight: new Map(), queue: [], receivedQos2: new Set() };
    const subscribed = encodeSession(oneSubscription, NOW);
    // version, expiry, count, filter length, 'a', qos, then the flags.
    const flagsAt = 1 + 4 + 4 + 2 + 1 + 1;
    subscribed[flagsAt] = 8;
    expect(() => decodeSession(subscribed, NOW)).toThrow(expect.objectContaining({ code: 'HW_ERR_BAD_MESSAGE' }));
  });

  it('refuses a delivery whose record is not a pub/sub record of its id and QoS with HW_ERR_BAD_MESSAGE (the record goes to a client as it is)', () => {
    const delivery = sample().queue[0]!;
    const withRecord = (record: Buffer): Buffer => encodeSession({ sessionExpiryMs: 0, subscriptions: new Map(), inflight: new Map(), queue: [{ ...delivery, record }], receivedQos2: new Set() }, NOW);
    // Shorter than a record's 7-byte header (renumbering writes its id at byte 1), another id, another QoS, QoS 3.
    for (const record of [Buffer.alloc(0), Buffer.of(1, 2), encodeRecord(1, false, false, delivery.id + 1, 'orders/c', Encoding.EMPTY, ''), encodeRecord(2, false, false, delivery.id, 'orders/c', Encoding.EMPTY, ''), Buffer.of(3, 43, 0, 0, 0, 0, 0)]) {
      expect(() => decodeSession(withRecord(record), NOW), record.toString('hex')).toThrow(expect.objectContaining({ code: 'HW_ERR_BAD_MESSAGE' }));
    }
    expect(decodeSession(withRecord(encodeRecord(1, false, false, delivery.id, 'orders/c', Encoding.EMPTY, '')), NOW).queue).toHaveLength(1);
  });

  it("refuses more subscriptions, deliveries in flight or QoS 2 ids than this node's limits with HW_ERR_BAD_MESSAGE, before reading them; keeps the newest maxOfflineMessages queued", () => {
    const limits = { maxSubscriptionsPerPeer: 3, maxInflight: 2, maxOfflineMessages: 2 };
    const bytes = encodeSession(sample(), NOW);
    expect(decodeSession(bytes, NOW, limits).queue).toHaveLength(2);
    const refused = (input: Buffer, bounds: typeof limits) => expect(() => decodeSession(input, NOW, bounds)).toThrow(expect.objectContaining({ code: 'HW_ERR_BAD_MESSAGE' }));
    refused(bytes, { ...limits, maxSubscriptionsPerPeer: 2 });
    refused(bytes, { ...limits, maxInflight: 1 });
    const received: TransferredSession = { sessionExpiryMs: 0, subscriptions: new Map(), inflight: new Map(), queue: [], receivedQos2: new Set([1, 2, 3]) };
    refused(encodeSession(received, NOW), limits);
    // A count of 2^32 - 1 with nothing after it: refused by the limit, not read until the input ends.
    const huge = Buffer.concat([Buffer.of(SESSION_FORMAT_VERSION), Buffer.alloc(4), Buffer.from([0xff, 0xff, 0xff, 0xff])]);
    refused(huge, limits);
    const queued = decodeSession(bytes, NOW, { ...limits, maxOfflineMessages: 1 }).queue;
    expect(queued.map((delivery) => delivery.id)).toEqual([44]);
  });

  it('refuses a sessionExpiryMs past 2^31 - 1 (the range a CONNECT may give; a timer past it fires at once) with HW_ERR_BAD_MESSAGE', () => {
    const session = (sessionExpiryMs: number): TransferredSession => ({ sessionExpiryMs, subscriptions: new Map(), inflight: new Map(), queue: [], receivedQos2: new Set() });
    expect(decodeSession(encodeSession(session(2 ** 31 - 1), NOW), NOW).sessionExpiryMs).toBe(2 ** 31 - 1);
    expect(() => decodeSession(encodeSession(session(2 ** 31), NOW), NOW)).toThrow(expect.objectContaining({ code: 'HW_ERR_BAD_MESSAGE' }));
    expect(() => decodeSession(encodeSession(session(2 ** 32 - 1), NOW), NOW)).toThrow(expect.objectContaining({ code: 'HW_ERR_BAD_MESSAGE' }));
  });

  it('refuses a filter that is not UTF-8 with HW_ERR_BAD_MESSAGE (rather than installing another filter in its place)', () => {
    const bytes = encodeSession({ sessionExpiryMs: 0, subscriptions: new Map([['ab', { qos: 1, noLocal: false, transport: 'tcp', reliable: false }]]), inflight: new Map(), queue: [], receivedQos2: new Set() }, NOW);
    // version, expiry, count, filter length, then the filter's two bytes.
    const filterAt = 1 + 4 + 4 + 2;
    expect(bytes.subarray(filterAt, filterAt + 2).toString()).toBe('ab');
    bytes[filterAt] = 0xc3; // the first byte of a two-byte sequence, followed by 'b'
    expect(() => decodeSession(bytes, NOW)).toThrow(expect.objectContaining({ code: 'HW_ERR_BAD_MESSAGE' }));
  });
});
