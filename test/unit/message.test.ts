import { describe, expect, it } from 'vitest';
import {
  Encoding,
  INLINE_TYPE,
  MAX_JSON_DEPTH,
  MessageKind,
  bodyOf,
  checkTypeName,
  decodeBody,
  decodeTypeDef,
  encodeTypeDef,
  encodingOf,
  newMessageHeader,
  readMessageHeader,
  writeMessagePrefix,
} from '../../ts/session/message.js';

function prefix(alias: number, encoding: number, kind: number, requestId: number, name?: string): Buffer {
  const out = Buffer.alloc(8 + 1 + 255);
  return out.subarray(0, writeMessagePrefix(out, alias, encoding, kind, requestId, name));
}

describe('message prefix', () => {
  it('is 4 bytes for a message, 8 with a request id, and carries an inline name after them', () => {
    expect([...prefix(0x0102, Encoding.JSON, MessageKind.MESSAGE, 99)]).toEqual([0x02, 0x01, Encoding.JSON, MessageKind.MESSAGE]);
    expect([...prefix(3, Encoding.BINARY, MessageKind.REQUEST, 0x01020304)]).toEqual([3, 0, Encoding.BINARY, MessageKind.REQUEST, 4, 3, 2, 1]);
    expect([...prefix(INLINE_TYPE, Encoding.EMPTY, MessageKind.MESSAGE, 0, 'ab')]).toEqual([0xff, 0xff, Encoding.EMPTY, MessageKind.MESSAGE, 2, 0x61, 0x62]);
  });

  it('reads back what was written, with the body offset past the prefix', () => {
    const cases = [
      [7, Encoding.BINARY, MessageKind.MESSAGE, 0, undefined],
      [7, Encoding.JSON, MessageKind.REQUEST, 0xfffffffe, undefined],
      [INLINE_TYPE, Encoding.JSON, MessageKind.ERROR, 5, 'ünïcode'],
    ] as const;
    for (const [alias, encoding, kind, requestId, name] of cases) {
      const bytes = Buffer.concat([Buffer.from('xx'), prefix(alias, encoding, kind, requestId, name), Buffer.from('body')]);
      const header = readMessageHeader(bytes, 2, bytes.length, newMessageHeader());
      expect(header).toEqual({ alias, encoding, kind, requestId: kind === MessageKind.MESSAGE ? 0 : requestId, inlineName: name, bodyOffset: bytes.length - 4 });
    }
  });

  it.each([
    ['shorter than 4 bytes', [1, 0, 0]],
    ['an unknown kind', [1, 0, 0, 4, 0, 0, 0, 0]],
    ['a request id cut short', [1, 0, 0, MessageKind.REQUEST, 0, 0]],
    ['an unknown encoding', [1, 0, 3, MessageKind.MESSAGE]],
    ['a missing inline name', [0xff, 0xff, 0, MessageKind.MESSAGE]],
    ['a truncated inline name', [0xff, 0xff, 0, MessageKind.MESSAGE, 5, 0x61]],
  ])('refuses a prefix with %s (HW_ERR_BAD_MESSAGE)', (_what, bytes) => {
    const buffer = Buffer.from(bytes);
    expect(() => readMessageHeader(buffer, 0, buffer.length, newMessageHeader())).toThrow(expect.objectContaining({ code: 'HW_ERR_BAD_MESSAGE' }));
  });
});

describe('message body', () => {
  it('encodes bytes as they are, undefined as empty and anything else as JSON, and decodes them back', () => {
    const bytes = new Uint8Array([1, 2, 3]);
    for (const payload of [bytes, undefined, { a: [1, 'two', null] }, 'text', 0, false]) {
      const encoding = encodingOf(payload);
      const body = bodyOf(payload, encoding);
      const frame = Buffer.concat([prefix(1, encoding, MessageKind.MESSAGE, 0), typeof body === 'string' ? Buffer.from(body) : body]);
      const header = readMessageHeader(frame, 0, frame.length, newMessageHeader());
      const decoded = decodeBody(frame, frame.length, header);
      if (payload instanceof Uint8Array) expect([...(decoded as Uint8Array)]).toEqual([...payload]);
      else expect(decoded).toEqual(payload);
    }
    expect(bodyOf(bytes, Encoding.BINARY)).toBe(bytes);
  });

  it('refuses a JSON body that does not parse (HW_ERR_BAD_MESSAGE)', () => {
    const frame = Buffer.concat([prefix(1, Encoding.JSON, MessageKind.MESSAGE, 0), Buffer.from('{nope')]);
    const header = readMessageHeader(frame, 0, frame.length, newMessageHeader());
    expect(() => decodeBody(frame, frame.length, header)).toThrow(expect.objectContaining({ code: 'HW_ERR_BAD_MESSAGE' }));
  });

  it(`takes JSON nested ${MAX_JSON_DEPTH} deep and refuses one level more (HW_ERR_BAD_MESSAGE); brackets inside strings do not count`, () => {
    const decode = (text: string) => {
      const frame = Buffer.concat([prefix(1, Encoding.JSON, MessageKind.MESSAGE, 0), Buffer.from(text)]);
      return decodeBody(frame, frame.length, readMessageHeader(frame, 0, frame.length, newMessageHeader()));
    };
    const nested = (depth: number, open = '[', close = ']') => open.repeat(depth) + close.repeat(depth);
    expect(JSON.stringify(decode(nested(MAX_JSON_DEPTH)))).toBe(nested(MAX_JSON_DEPTH));
    expect(() => decode(nested(MAX_JSON_DEPTH + 1))).toThrow(expect.objectContaining({ code: 'HW_ERR_BAD_MESSAGE', message: expect.stringContaining('nested more than 1000 deep') }));
    const objects = '{"a":'.repeat(MAX_JSON_DEPTH + 1) + '1' + '}'.repeat(MAX_JSON_DEPTH + 1);
    expect(() => decode(objects)).toThrow(expect.objectContaining({ code: 'HW_ERR_BAD_MESSAGE' }));
    // Brackets (and escaped quotes) inside strings are text, not nesting.
    const text = `[${JSON.stringify('\\"[{'.repeat(2 * MAX_JSON_DEPTH))}]`;
    expect(decode(text)).toEqual(['\\"[{'.repeat(2 * MAX_JSON_DEPTH)]);
  });
});

describe('TYPE_DEF and type names', () => {
  it('round-trips an alias and its name', () => {
    expect(decodeTypeDef(encodeTypeDef(513, 'chat/room'))).toEqual({ alias: 513, name: 'chat/room' });
  });

  it('refuses an empty or overlong name and the reserved aliases', () => {
    for (const payload of [Buffer.from([1, 0]), Buffer.concat([Buffer.from([1, 0]), Buffer.alloc(256, 0x61)]), encodeTypeDef(0, 'a'), encodeTypeDef(INLINE_TYPE, 'a')]) {
      expect(() => decodeTypeDef(payload)).toThrow(expect.objectContaining({ code: 'HW_ERR_BAD_MESSAGE' }));
    }
  });

  it('checkTypeName takes strings of 1 to 255 UTF-8 bytes only', () => {
    expect(() => checkTypeName('a')).not.toThrow();
    expect(() => checkTypeName('é'.repeat(127) + 'x')).not.toThrow();
    for (const bad of ['', 'é'.repeat(128), 'x'.repeat(256), 1, null, undefined, {}]) {
      expect(() => checkTypeName(bad as string)).toThrow(expect.objectContaining({ code: 'HW_ERR_INVALID_ARGUMENT' }));
    }
  });
});
