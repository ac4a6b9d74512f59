/** ts/streams/stream-wire.ts: the stream messages' bodies, and the checks of what a peer sends. */
import { describe, expect, it } from 'vitest';
import {
  MAX_NAME_BYTES,
  MAX_RESET_MESSAGE_BYTES,
  dataStreamId,
  decodeAccept,
  decodeEnd,
  decodeOpen,
  decodeReset,
  decodeWindow,
  encodeData,
  openBody,
  resetBody,
  resetMessageOf,
} from '../../ts/streams/stream-wire.js';

const badMessage = expect.objectContaining({ code: 'HW_ERR_BAD_MESSAGE' });

describe('stream message bodies', () => {
  it('decodes what hybridwire encodes', () => {
    expect(decodeOpen(openBody(7, 'name', 1024, 'udp'))).toEqual({ id: 7, name: 'name', window: 1024, transport: 'udp' });
    expect(decodeReset(resetBody(3, 'APP_X', 'why'))).toEqual({ id: 3, code: 'APP_X', message: 'why' });
    // A reset may omit its message.
    expect(decodeReset({ id: 3, code: 'APP_X' })).toEqual({ id: 3, code: 'APP_X', message: '' });
    // Unknown fields are ignored.
    expect(decodeAccept({ id: 2, window: 0, extra: true })).toEqual({ id: 2, window: 0 });
  });

  it.each([
    ['not an object', 'text'],
    ['an array', [1]],
    ['null', null],
    ['binary', new Uint8Array([1])],
    ['id 0', { id: 0, name: '', window: 1, transport: 'tcp' }],
    ['id past u32', { id: 2 ** 32, name: '', window: 1, transport: 'tcp' }],
    ['a fractional window', { id: 1, name: '', window: 1.5, transport: 'tcp' }],
    ['a window past 2^31 - 1', { id: 1, name: '', window: 2 ** 31, transport: 'tcp' }],
    ['an unknown transport', { id: 1, name: '', window: 1, transport: 'sctp' }],
    ['a name too long', { id: 1, name: 'x'.repeat(MAX_NAME_BYTES + 1), window: 1, transport: 'tcp' }],
    ['a name that is not a string', { id: 1, name: 5, window: 1, transport: 'tcp' }],
  ])('refuses an open with %s', (_what, body) => {
    expect(() => decodeOpen(body as never)).toThrow(badMessage);
  });

  it('refuses window increments of 0 or past 2^31 - 1, resets without a code, ends without an id', () => {
    expect(() => decodeWindow({ id: 1, increment: 0 })).toThrow(badMessage);
    expect(() => decodeWindow({ id: 1, increment: 2 ** 31 })).toThrow(badMessage);
    expect(decodeWindow({ id: 1, increment: 2 ** 31 - 1 })).toEqual({ id: 1, increment: 2 ** 31 - 1 });
    expect(() => decodeReset({ id: 1, code: '' })).toThrow(badMessage);
    expect(() => decodeReset({ id: 1, code: 'X'.repeat(65) })).toThrow(badMessage);
    expect(() => decodeReset({ id: 1, code: 'X', message: 'm'.repeat(MAX_RESET_MESSAGE_BYTES + 1) })).toThrow(badMessage);
    expect(() => decodeEnd({})).toThrow(badMessage);
    expect(decodeEnd({ id: 9 })).toBe(9);
  });

  it('lays data out as a u32 id and the bytes, and refuses short bodies, id 0 and JSON', () => {
    const body = encodeData(0x01020304, Buffer.from('abcdef'), 1, 4);
    expect(body).toEqual(Buffer.from([4, 3, 2, 1, 0x62, 0x63, 0x64]));
    expect(dataStreamId(body)).toBe(0x01020304);
    expect(dataStreamId(encodeData(0xffffffff, Buffer.from('a'), 0, 1))).toBe(0xffffffff);
    expect(() => dataStreamId(Buffer.from([1, 0, 0, 0]))).toThrow(badMessage);
    expect(() => dataStreamId(Buffer.from([0, 0, 0, 0, 1]))).toThrow(badMessage);
    expect(() => dataStreamId({ id: 1 })).toThrow(badMessage);
  });

  it('cuts a reset message to what a receiver takes, on a character boundary', () => {
    expect(resetMessageOf('short')).toBe('short');
    const long = 'é'.repeat(MAX_RESET_MESSAGE_BYTES);
    const cut = resetMessageOf(long);
    expect(Buffer.byteLength(cut)).toBeLessThanOrEqual(MAX_RESET_MESSAGE_BYTES);
    expect(cut).toBe('é'.repeat(MAX_RESET_MESSAGE_BYTES / 2));
  });
});
