/** Payloads between nodes (ts/cluster/payload.ts): binary, JSON and empty, and what is refused. */
import { describe, expect, it } from 'vitest';
import { decodePayload, encodePayload } from '../../ts/cluster/payload.js';

describe('encodePayload / decodePayload', () => {
  it.each([[Buffer.from([0, 1, 255])], [{ a: [1, 'two', null] }], ['text'], [0], [null], [undefined]])('carries %j unchanged', (payload) => {
    const headers = {};
    const data = encodePayload(payload, headers);
    expect(decodePayload(data, headers)).toEqual(payload);
  });

  it('refuses an unknown encoding and JSON that does not parse', () => {
    expect(() => decodePayload(Buffer.from('{'), { 'hw-enc': '1' })).toThrow(expect.objectContaining({ code: 'HW_ERR_BAD_MESSAGE' }));
    expect(() => decodePayload(Buffer.from('x'), { 'hw-enc': '9' })).toThrow(expect.objectContaining({ code: 'HW_ERR_BAD_MESSAGE' }));
    expect(() => decodePayload(Buffer.from('x'), {})).toThrow(expect.objectContaining({ code: 'HW_ERR_BAD_MESSAGE' }));
  });
});
