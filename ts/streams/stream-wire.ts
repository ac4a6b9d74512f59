/**
 * The stream messages on the wire (docs/PROTOCOL.md, section 11): MESSAGE frames of reserved types,
 * JSON bodies for the control messages and a binary body (u32 stream id, then the bytes) for data.
 * Every decoder checks what a peer could get wrong and throws HW_ERR_BAD_MESSAGE for it.
 */
import { HybridwireError } from '../errors.js';
import type { JsonValue, Payload } from '../session/message.js';

export const STREAM_OPEN = 'hybridwire:stream.open';
export const STREAM_ACCEPT = 'hybridwire:stream.accept';
export const STREAM_DATA = 'hybridwire:stream.data';
export const STREAM_WINDOW = 'hybridwire:stream.window';
export const STREAM_END = 'hybridwire:stream.end';
export const STREAM_RESET = 'hybridwire:stream.reset';

/** The HELLO feature name that enables the stream messages. */
export const STREAMS_FEATURE = 'streams';

/** Stream ids are u32, never 0: odd ones are opened by the client, even ones by the server. */
export const MAX_STREAM_ID = 0xffffffff;
/** A window (credit) may never exceed this, as in HTTP/2. */
export const MAX_WINDOW = 0x7fffffff;
/** Longest stream name, in UTF-8 bytes. */
export const MAX_NAME_BYTES = 1024;
/** Longest code and message of a reset, in UTF-8 bytes. */
export const MAX_CODE_BYTES = 64;
export const MAX_RESET_MESSAGE_BYTES = 1024;

export type StreamTransport = 'tcp' | 'udp';

export interface OpenMessage {
  id: number;
  name: string;
  window: number;
  transport: StreamTransport;
}

export interface ResetMessage {
  id: number;
  code: string;
  message: string;
}

function bad(message: string): HybridwireError {
  return new HybridwireError('HW_ERR_BAD_MESSAGE', message);
}

function objectOf(payload: Payload, type: string): Record<string, unknown> {
  if (typeof payload !== 'object' || payload === null || Array.isArray(payload) || payload instanceof Uint8Array) {
    throw bad(`${type} must carry a JSON object`);
  }
  return payload as Record<string, unknown>;
}

function integerField(body: Record<string, unknown>, field: string, min: number, max: number, type: string): number {
  const value = body[field];
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw bad(`${type}: ${field} must be an integer from ${min} to ${max}`);
  }
  return value;
}

function stringField(body: Record<string, unknown>, field: string, maxBytes: number, type: string): string {
  const value = body[field];
  if (typeof value !== 'string' || Buffer.byteLength(value) > maxBytes) throw bad(`${type}: ${field} must be a string of at most ${maxBytes} bytes`);
  return value;
}

export function decodeOpen(payload: Payload): OpenMessage {
  const body = objectOf(payload, STREAM_OPEN);
  const transport = body.transport;
  if (transport !== 'tcp' && transport !== 'udp') throw bad(`${STREAM_OPEN}: transport must be "tcp" or "udp"`);
  return {
    id: integerField(body, 'id', 1, MAX_STREAM_ID, STREAM_OPEN),
    name: stringField(body, 'name', MAX_NAME_BYTES, STREAM_OPEN),
    window: integerField(body, 'window', 0, MAX_WINDOW, STREAM_OPEN),
    transport,
  };
}

/** `{ id, window }` of an accept. */
export function decodeAccept(payload: Payload): { id: number; window: number } {
  const body = objectOf(payload, STREAM_ACCEPT);
  return { id: integerField(body, 'id', 1, MAX_STREAM_ID, STREAM_ACCEPT), window: integerField(body, 'window', 0, MAX_WINDOW, STREAM_ACCEPT) };
}

/** `{ id, increment }` of a window update; an increment of 0 is refused, as in HTTP/2. */
export function decodeWindow(payload: Payload): { id: number; increment: number } {
  const body = objectOf(payload, STREAM_WINDOW);
  return { id: integerField(body, 'id', 1, MAX_STREAM_ID, STREAM_WINDOW), increment: integerField(body, 'increment', 1, MAX_WINDOW, STREAM_WINDOW) };
}

export function decodeEnd(payload: Payload): number {
  return integerField(objectOf(payload, STREAM_END), 'id', 1, MAX_STREAM_ID, STREAM_END);
}

export function decodeReset(payload: Payload): ResetMessage {
  const body = objectOf(payload, STREAM_RESET);
  const message = body.message === undefined ? '' : stringField(body, 'message', MAX_RESET_MESSAGE_BYTES, STREAM_RESET);
  const code = stringField(body, 'code', MAX_CODE_BYTES, STREAM_RESET);
  if (code.length === 0) throw bad(`${STREAM_RESET}: code must not be empty`);
  return { id: integerField(body, 'id', 1, MAX_STREAM_ID, STREAM_RESET), code, message };
}

/** The JSON bodies as hybridwire sends them (field order is not significant to a receiver). */
export function openBody(id: number, name: string, window: number, transport: StreamTransport): JsonValue {
  return { id, name, window, transport };
}

export function acceptBody(id: number, window: number): JsonValue {
  return { id, window };
}

export function windowBody(id: number, increment: number): JsonValue {
  return { id, increment };
}

export function endBody(id: number): JsonValue {
  return { id };
}

export function resetBody(id: number, code: string, message: string): JsonValue {
  return { id, code, message: resetMessageOf(message) };
}

/** A data message's body: the u32 little-endian stream id, then at least one byte of data. */
export function encodeData(id: number, data: Uint8Array, start: number, end: number): Buffer {
  const body = Buffer.allocUnsafe(4 + end - start);
  body.writeUInt32LE(id, 0);
  body.set(data.subarray(start, end), 4);
  return body;
}

/** The stream id of a data body; the data is body[4..]. */
export function dataStreamId(payload: Payload): number {
  if (!(payload instanceof Uint8Array)) throw bad(`${STREAM_DATA} must carry a binary body`);
  if (payload.length < 5) throw bad(`${STREAM_DATA} must carry a stream id and at least one byte`);
  const id = (payload[0]! | (payload[1]! << 8) | (payload[2]! << 16) | (payload[3]! << 24)) >>> 0;
  if (id === 0) throw bad(`${STREAM_DATA}: stream id 0`);
  return id;
}

/** A reset's message, cut to what a receiver takes. */
export function resetMessageOf(text: string): string {
  const bytes = Buffer.from(text);
  if (bytes.length <= MAX_RESET_MESSAGE_BYTES) return text;
  return bytes.subarray(0, MAX_RESET_MESSAGE_BYTES).toString().replace(/\uFFFD+$/, '');
}
