/**
 * Payloads between nodes: the body bytes of a message as our own frames carry them (binary, JSON
 * text or empty) and the encoding in a header, so that a payload crosses nodes unchanged.
 */
import { Encoding, bodyOf, encodingOf, type Payload } from '../session/message.js';
import { HybridwireError } from '../errors.js';
import type { Headers } from './engine.js';

export const ENCODING_HEADER = 'hw-enc';

export function encodePayload(payload: Payload, headers: Headers): Uint8Array {
  const encoding = encodingOf(payload);
  headers[ENCODING_HEADER] = String(encoding);
  const body = bodyOf(payload, encoding);
  return typeof body === 'string' ? Buffer.from(body, 'utf8') : body;
}

/** The payload encoded by encodePayload; throws HW_ERR_BAD_MESSAGE on what it could not have written. */
export function decodePayload(data: Uint8Array, headers: Headers): Payload {
  const encoding = Number(headers[ENCODING_HEADER]);
  if (encoding === Encoding.EMPTY) return undefined;
  if (encoding === Encoding.BINARY) return Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  if (encoding === Encoding.JSON) {
    try {
      return JSON.parse(Buffer.from(data.buffer, data.byteOffset, data.byteLength).toString('utf8')) as Payload;
    } catch (error) {
      throw new HybridwireError('HW_ERR_BAD_MESSAGE', 'a cluster message carries JSON that does not parse', { cause: error });
    }
  }
  throw new HybridwireError('HW_ERR_BAD_MESSAGE', `a cluster message has an unknown encoding ${headers[ENCODING_HEADER]}`);
}
