/**
 * The message layer inside a MESSAGE frame's payload (docs/PROTOCOL.md, "Messages"):
 *
 *   u16 type alias | u8 encoding | u8 kind | [u32 request id, when kind != MESSAGE]
 *   | [u8 name length + UTF-8 name, when alias == INLINE_TYPE] | body
 */
import { HybridwireError } from '../errors.js';

/** A message payload: bytes passed through untouched, or any JSON value. */
export type Payload = Uint8Array | JsonValue | undefined;
export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue | undefined };

export const Encoding = { BINARY: 0, JSON: 1, EMPTY: 2 } as const;
export const MessageKind = { MESSAGE: 0, REQUEST: 1, RESPONSE: 2, ERROR: 3 } as const;
/** Alias value meaning "the type name follows inline" (used before an alias is known to be defined). */
export const INLINE_TYPE = 0xffff;
export const MAX_ALIASES = 0xfffe;
export const MAX_TYPE_NAME_BYTES = 255;
/**
 * Deepest nesting of arrays and objects a JSON body may have. Deeper values are refused as
 * undecodable: JSON.parse takes them, but the recursion in whatever touches them next (the
 * JSON.stringify of an echo, structuredClone, the application's own code) overflows the stack.
 */
export const MAX_JSON_DEPTH = 1000;

/** Writes the message prefix into `out` (at least 8 + 256 bytes) and returns its length. */
export function writeMessagePrefix(
  out: Buffer,
  alias: number,
  encoding: number,
  kind: number,
  requestId: number,
  inlineName: string | undefined,
): number {
  out[0] = alias & 0xff;
  out[1] = alias >>> 8;
  out[2] = encoding;
  out[3] = kind;
  let length = 4;
  if (kind !== MessageKind.MESSAGE) {
    out[4] = requestId;
    out[5] = requestId >>> 8;
    out[6] = requestId >>> 16;
    out[7] = requestId >>> 24;
    length = 8;
  }
  if (alias === INLINE_TYPE) {
    const written = out.write(inlineName!, length + 1, MAX_TYPE_NAME_BYTES, 'utf8');
    out[length] = written;
    length += 1 + written;
  }
  return length;
}

/** Encoding and body for a payload; strings of JSON are written by the encoder straight into its slab. */
export function encodingOf(payload: Payload): number {
  if (payload === undefined) return Encoding.EMPTY;
  if (payload instanceof Uint8Array) return Encoding.BINARY;
  return Encoding.JSON;
}

export function bodyOf(payload: Payload, encoding: number): Uint8Array | string {
  if (encoding === Encoding.BINARY) return payload as Uint8Array;
  if (encoding === Encoding.EMPTY) return EMPTY_BODY;
  return JSON.stringify(payload);
}

const EMPTY_BODY = new Uint8Array(0);

/** A parsed message prefix; `bodyOffset` is where the body starts in the frame payload. */
export interface MessageHeader {
  alias: number;
  encoding: number;
  kind: number;
  requestId: number;
  inlineName: string | undefined;
  bodyOffset: number;
}

/**
 * Parses the prefix of the MESSAGE payload at source[start, end); throws HW_ERR_BAD_MESSAGE when
 * it is malformed. `bodyOffset` comes back absolute (an index into source).
 */
export function readMessageHeader(source: Buffer, start: number, end: number, into: MessageHeader): MessageHeader {
  if (end - start < 4) throw badMessage('shorter than its 4-byte prefix');
  into.alias = source[start]! | (source[start + 1]! << 8);
  into.encoding = source[start + 2]!;
  into.kind = source[start + 3]!;
  let offset = start + 4;
  into.requestId = 0;
  if (into.kind !== MessageKind.MESSAGE) {
    if (into.kind > MessageKind.ERROR) throw badMessage(`unknown kind ${into.kind}`);
    if (end - start < 8) throw badMessage('request id missing');
    into.requestId = source.readUInt32LE(offset);
    offset += 4;
  }
  into.inlineName = undefined;
  if (into.alias === INLINE_TYPE) {
    if (end < offset + 1) throw badMessage('inline type name missing');
    const nameLength = source[offset]!;
    if (end < offset + 1 + nameLength) throw badMessage('inline type name truncated');
    into.inlineName = source.toString('utf8', offset + 1, offset + 1 + nameLength);
    offset += 1 + nameLength;
  }
  if (into.encoding > Encoding.EMPTY) throw badMessage(`unknown encoding ${into.encoding}`);
  into.bodyOffset = offset;
  return into;
}

/**
 * Decodes the body at source[header.bodyOffset, end) according to its encoding: binary bodies are
 * views, never copies (a plain Uint8Array is the cheapest view to make).
 */
export function decodeBody(source: Buffer, end: number, header: MessageHeader): Payload {
  const { encoding, bodyOffset } = header;
  if (encoding === Encoding.BINARY) return new Uint8Array(source.buffer, source.byteOffset + bodyOffset, end - bodyOffset);
  if (encoding === Encoding.EMPTY) return undefined;
  // Nesting deeper than the bound takes two bytes a level: shorter bodies need no scan.
  if (end - bodyOffset > 2 * MAX_JSON_DEPTH && nestedTooDeep(source, bodyOffset, end)) {
    throw new HybridwireError('HW_ERR_BAD_MESSAGE', `message body is JSON nested more than ${MAX_JSON_DEPTH} deep`);
  }
  const text = source.toString('utf8', bodyOffset, end);
  try {
    return JSON.parse(text) as JsonValue;
  } catch (cause) {
    throw new HybridwireError('HW_ERR_BAD_MESSAGE', `message body is not valid JSON: ${(cause as Error).message}`);
  }
}

/**
 * Whether the JSON text at source[start, end) nests arrays and objects more than MAX_JSON_DEPTH
 * deep. Exact for valid JSON; for invalid text either answer is fine, as JSON.parse refuses it.
 */
function nestedTooDeep(source: Uint8Array, start: number, end: number): boolean {
  let depth = 0;
  let inString = false;
  for (let i = start; i < end; i++) {
    const byte = source[i]!;
    if (inString) {
      // A backslash escapes the next byte (a quote or another backslash included).
      if (byte === 0x5c) i++;
      else if (byte === 0x22) inString = false;
    } else if (byte === 0x22) {
      inString = true;
    } else if (byte === 0x5b || byte === 0x7b) {
      if (++depth > MAX_JSON_DEPTH) return true;
    } else if (byte === 0x5d || byte === 0x7d) {
      depth--;
    }
  }
  return false;
}

export function newMessageHeader(): MessageHeader {
  return { alias: 0, encoding: 0, kind: 0, requestId: 0, inlineName: undefined, bodyOffset: 0 };
}

/** TYPE_DEF payload: u16 alias | UTF-8 name (1..255 bytes). */
export function encodeTypeDef(alias: number, name: string): Buffer {
  const nameBytes = Buffer.from(name, 'utf8');
  const out = Buffer.allocUnsafe(2 + nameBytes.length);
  out.writeUInt16LE(alias, 0);
  nameBytes.copy(out, 2);
  return out;
}

export function decodeTypeDef(payload: Uint8Array): { alias: number; name: string } {
  if (payload.length < 3 || payload.length > 2 + MAX_TYPE_NAME_BYTES) {
    throw badMessage('TYPE_DEF payload must hold an alias and a 1..255-byte name');
  }
  const alias = payload[0]! | (payload[1]! << 8);
  if (alias === 0 || alias === INLINE_TYPE) throw badMessage(`TYPE_DEF uses reserved alias ${alias}`);
  return { alias, name: Buffer.from(payload.buffer, payload.byteOffset + 2, payload.length - 2).toString('utf8') };
}

export function checkTypeName(type: string): void {
  if (typeof type !== 'string' || type.length === 0 || Buffer.byteLength(type) > MAX_TYPE_NAME_BYTES) {
    throw new HybridwireError('HW_ERR_INVALID_ARGUMENT', `message type must be a string of 1 to ${MAX_TYPE_NAME_BYTES} UTF-8 bytes, got ${JSON.stringify(type)}`);
  }
}

function badMessage(detail: string): HybridwireError {
  return new HybridwireError('HW_ERR_BAD_MESSAGE', `malformed message: ${detail}`);
}
