/**
 * Pub/sub on the wire (docs/PROTOCOL.md, section 10): MESSAGE frames of reserved types. A publish
 * (client → server) and a delivery (server → client) share one binary record, so that the server
 * encodes a delivery once per QoS and hands the same bytes to every subscriber's session:
 *
 *   u8 flags (bits 0-1 QoS, bit 2 retain, bit 3 dup, bits 4-5 payload encoding, bit 6 expiry present)
 *   | u32 id (LE; 0 at QoS 0) | u16 topic length (LE) | topic (UTF-8)
 *   | [u32 expiryMs (LE), when bit 6] | payload
 *
 * Acknowledgements (PUBACK, PUBREC, PUBREL, PUBCOMP) are `u32 id`, followed in a PUBACK or PUBREC
 * that refuses the publish by the error code in UTF-8.
 */
import { HybridwireError } from '../errors.js';
import { Encoding, decodeBody, type Payload } from '../session/message.js';

export const PUBSUB_FEATURE = 'pubsub';
export const PubsubType = {
  CONNECT: 'hybridwire:pubsub.connect',
  DISCONNECT: 'hybridwire:pubsub.disconnect',
  SUBSCRIBE: 'hybridwire:pubsub.subscribe',
  UNSUBSCRIBE: 'hybridwire:pubsub.unsubscribe',
  PUBLISH: 'hybridwire:pubsub.publish',
  MESSAGE: 'hybridwire:pubsub.message',
  PUBACK: 'hybridwire:pubsub.puback',
  PUBREC: 'hybridwire:pubsub.pubrec',
  PUBREL: 'hybridwire:pubsub.pubrel',
  PUBCOMP: 'hybridwire:pubsub.pubcomp',
} as const;

export type QoS = 0 | 1 | 2;

/** A pub/sub message as applications see it. */
export interface PubsubMessage {
  topic: string;
  payload: Payload;
  qos: QoS;
  retain: boolean;
  /** Dropped if not delivered within this many milliseconds of its publish. */
  expiryMs?: number;
  priority?: 'high' | 'normal' | 'low';
}

const FLAG_RETAIN = 0x04;
const FLAG_DUP = 0x08;
const FLAG_EXPIRY = 0x40;
const ENCODING_SHIFT = 4;
const FIXED = 7;

/** A record as read: the payload stays encoded (a view of the frame), decoded only when needed. */
export interface PublishRecord {
  qos: QoS;
  retain: boolean;
  dup: boolean;
  id: number;
  topic: string;
  encoding: number;
  body: Uint8Array;
  expiryMs: number | undefined;
}

/** Encodes a publish or delivery record. `body` is the payload already encoded as `encoding`. */
export function encodeRecord(qos: QoS, retain: boolean, dup: boolean, id: number, topic: string, encoding: number, body: Uint8Array | string, expiryMs?: number): Buffer {
  const topicBytes = Buffer.byteLength(topic);
  const bodyBytes = typeof body === 'string' ? Buffer.byteLength(body) : body.length;
  const expiry = expiryMs === undefined ? 0 : 4;
  const out = Buffer.allocUnsafe(FIXED + topicBytes + expiry + bodyBytes);
  out[0] = qos | (retain ? FLAG_RETAIN : 0) | (dup ? FLAG_DUP : 0) | (encoding << ENCODING_SHIFT) | (expiry ? FLAG_EXPIRY : 0);
  out.writeUInt32LE(id >>> 0, 1);
  out.writeUInt16LE(topicBytes, 5);
  out.write(topic, FIXED, 'utf8');
  let at = FIXED + topicBytes;
  if (expiryMs !== undefined) {
    out.writeUInt32LE(expiryMs, at);
    at += 4;
  }
  if (typeof body === 'string') out.write(body, at, 'utf8');
  else out.set(body, at);
  return out;
}

/** A copy of a delivery record under another id (a queued delivery renumbered by the node it moved to). */
export function withId(record: Uint8Array, id: number): Buffer {
  const copy = Buffer.from(record);
  copy.writeUInt32LE(id >>> 0, 1);
  return copy;
}

/** The same record with the dup flag set (a redelivery), as a copy. */
export function markDup(record: Uint8Array): Buffer {
  const copy = Buffer.from(record);
  copy[0] = copy[0]! | FLAG_DUP;
  return copy;
}

function bad(detail: string): HybridwireError {
  return new HybridwireError('HW_ERR_BAD_MESSAGE', `malformed pub/sub record: ${detail}`);
}

export function decodeRecord(bytes: Uint8Array): PublishRecord {
  if (!(bytes instanceof Uint8Array) || bytes.length < FIXED) throw bad('shorter than its 7-byte header');
  const flags = bytes[0]!;
  const qos = flags & 0x03;
  if (qos === 3) throw bad('QoS 3');
  const encoding = (flags >> ENCODING_SHIFT) & 0x03;
  if (encoding > Encoding.EMPTY) throw bad(`unknown payload encoding ${encoding}`);
  if ((flags & 0x80) !== 0) throw bad('reserved flag bit 7 set');
  // Byte loads: this runs once per message received, and the bounds are checked above.
  const id = (bytes[1]! | (bytes[2]! << 8) | (bytes[3]! << 16) | (bytes[4]! << 24)) >>> 0;
  if ((qos === 0) !== (id === 0)) throw bad(qos === 0 ? 'QoS 0 with an id' : `QoS ${qos} without an id`);
  const topicBytes = bytes[5]! | (bytes[6]! << 8);
  const view = bytes instanceof Buffer ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length);
  let at = FIXED + topicBytes;
  if (at > bytes.length) throw bad('topic overruns the record');
  const topic = view.toString('utf8', FIXED, at);
  let expiryMs: number | undefined;
  if ((flags & FLAG_EXPIRY) !== 0) {
    if (at + 4 > bytes.length) throw bad('expiry overruns the record');
    expiryMs = view.readUInt32LE(at);
    at += 4;
  }
  const body = bytes.subarray(at);
  if (encoding === Encoding.EMPTY && body.length > 0) throw bad('empty encoding with payload bytes');
  return { qos: qos as QoS, retain: (flags & FLAG_RETAIN) !== 0, dup: (flags & FLAG_DUP) !== 0, id, topic, encoding, body, expiryMs };
}

/** The payload of a record, decoded as its encoding says (binary stays a view); as message bodies are (section 5). */
export function payloadOf(encoding: number, body: Uint8Array): Payload {
  if (encoding === Encoding.BINARY) return body;
  if (encoding === Encoding.EMPTY) return undefined;
  const source = Buffer.from(body.buffer, body.byteOffset, body.length);
  return decodeBody(source, source.length, { alias: 0, encoding, kind: 0, requestId: 0, inlineName: undefined, bodyOffset: 0 });
}

/** Whether a payload clears a retained message: nothing, or no bytes. */
export function isEmptyPayload(encoding: number, body: Uint8Array): boolean {
  return encoding === Encoding.EMPTY || (encoding === Encoding.BINARY && body.length === 0);
}

export function encodeAck(id: number, code?: string): Buffer {
  const out = Buffer.allocUnsafe(4 + (code === undefined ? 0 : Buffer.byteLength(code)));
  out.writeUInt32LE(id >>> 0, 0);
  if (code !== undefined) out.write(code, 4, 'utf8');
  return out;
}

export function decodeAck(bytes: unknown): { id: number; code: string | undefined } {
  if (!(bytes instanceof Uint8Array) || bytes.length < 4 || bytes.length > 4 + 64) throw bad('acknowledgement must be a u32 id and at most 64 bytes of code');
  const view = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length);
  const id = view.readUInt32LE(0);
  if (id === 0) throw bad('acknowledgement of id 0');
  return { id, code: bytes.length > 4 ? view.toString('utf8', 4) : undefined };
}
