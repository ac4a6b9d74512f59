/**
 * ts/pubsub/wire.ts: the publish/delivery record and acknowledgements, and every malformation
 * refused with HW_ERR_BAD_MESSAGE.
 */
import { describe, expect, it } from 'vitest';
import { decodeAck, decodeRecord, encodeAck, encodeRecord, isEmptyPayload, markDup, payloadOf } from '../../ts/pubsub/wire.js';

const bad = expect.objectContaining({ code: 'HW_ERR_BAD_MESSAGE' });

describe('records', () => {
  it('round-trip every field, with a string or bytes body', () => {
    const bytes = encodeRecord(2, true, false, 99, 'a/é', 1, '{"x":[1]}', 5);
    expect(decodeRecord(bytes)).toMatchObject({ qos: 2, retain: true, dup: false, id: 99, topic: 'a/é', encoding: 1, expiryMs: 5 });
    expect(payloadOf(1, decodeRecord(bytes).body)).toEqual({ x: [1] });
    const binary = decodeRecord(encodeRecord(0, false, false, 0, 't', 0, Buffer.from([1, 2])));
    expect(Buffer.from(payloadOf(0, binary.body) as Uint8Array)).toEqual(Buffer.from([1, 2]));
    expect(payloadOf(2, new Uint8Array(0))).toBeUndefined();
    expect(decodeRecord(markDup(bytes)).dup).toBe(true);
  });

  it('refuses malformed records', () => {
    const good = encodeRecord(1, false, false, 1, 'topic', 0, Buffer.from('x'));
    const cases: Uint8Array[] = [
      good.subarray(0, 6),
      Buffer.from([0x03, 1, 0, 0, 0, 0, 0]),
      Buffer.from([0x30, 0, 0, 0, 0, 0, 0]),
      Buffer.from([0x80, 0, 0, 0, 0, 0, 0]),
      Buffer.from([0x00, 1, 0, 0, 0, 0, 0]),
      Buffer.from([0x01, 0, 0, 0, 0, 0, 0]),
      Buffer.from([0x00, 0, 0, 0, 0, 9, 0, 0x61]),
      Buffer.from([0x40, 0, 0, 0, 0, 1, 0, 0x61, 1, 2]),
      Buffer.from([0x20, 0, 0, 0, 0, 1, 0, 0x61, 1]),
    ];
    for (const bytes of cases) expect(() => decodeRecord(bytes)).toThrow(bad);
    expect(() => decodeRecord('text' as unknown as Uint8Array)).toThrow(bad);
    expect(() => payloadOf(1, Buffer.from('{nope'))).toThrow(bad);
  });

  it('knows an empty payload', () => {
    expect(isEmptyPayload(2, new Uint8Array(0))).toBe(true);
    expect(isEmptyPayload(0, new Uint8Array(0))).toBe(true);
    expect(isEmptyPayload(1, Buffer.from('""'))).toBe(false);
  });
});

describe('acknowledgements', () => {
  it('carry an id and, refusing, a code', () => {
    expect(decodeAck(encodeAck(3))).toEqual({ id: 3, code: undefined });
    expect(decodeAck(encodeAck(3, 'HW_ERR_NOT_AUTHORIZED'))).toEqual({ id: 3, code: 'HW_ERR_NOT_AUTHORIZED' });
    for (const bytes of [Buffer.alloc(3), encodeAck(0), Buffer.alloc(69, 1), 'x']) expect(() => decodeAck(bytes)).toThrow(bad);
  });
});
