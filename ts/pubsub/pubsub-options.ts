/**
 * The options of publish() and subscribe(), and the JSON of the CONNECT and SUBSCRIBE requests
 * (docs/PROTOCOL.md 10.3), checked on both sides: a peer's request that does not fit is refused
 * with HW_ERR_BAD_MESSAGE.
 */
import { HybridwireError } from '../errors.js';
import { Encoding, bodyOf, encodingOf, type Payload } from '../session/message.js';
import type { SubscriptionOptions } from './stores.js';
import { checkTopic, type TopicLimits } from './topics.js';
import { decodeRecord, encodeRecord, payloadOf, type PubsubMessage, type QoS } from './wire.js';

export interface PublishOptions {
  qos?: QoS;
  retain?: boolean;
  /** Dropped if not delivered within this many milliseconds (0 .. 2^32-1). */
  expiryMs?: number;
  priority?: 'high' | 'normal' | 'low';
}

export interface SubscribeOptions {
  /** The highest QoS to be delivered at. Default 0. */
  qos?: QoS;
  /** Deliveries over TCP (default) or over the session's UDP path (TCP while it has none). */
  transport?: 'tcp' | 'udp';
  /** With transport 'udp': reliable UDP. QoS ≥ 1 deliveries over UDP are always reliable. */
  reliable?: boolean;
  /** Not sent what this client publishes itself. */
  noLocal?: boolean;
}

/** The last will of connect(): published by the server if the session ends without close(). */
export interface WillOptions {
  topic: string;
  payload?: Payload;
  qos?: QoS;
  retain?: boolean;
}

function invalid(message: string): HybridwireError {
  return new HybridwireError('HW_ERR_INVALID_ARGUMENT', message);
}

export function checkQos(value: unknown, what = 'qos'): QoS {
  if (value === undefined) return 0;
  if (value !== 0 && value !== 1 && value !== 2) throw invalid(`${what} must be 0, 1 or 2, got ${String(value)}`);
  return value;
}

export function checkPublishOptions(options: PublishOptions | undefined): { qos: QoS; retain: boolean; expiryMs: number | undefined; priority: PublishOptions['priority'] } {
  if (options !== undefined && (typeof options !== 'object' || options === null)) throw invalid('publish options must be an object');
  const qos = checkQos(options?.qos);
  const retain = options?.retain ?? false;
  if (typeof retain !== 'boolean') throw invalid('retain must be a boolean');
  const expiryMs = options?.expiryMs;
  if (expiryMs !== undefined && (!Number.isInteger(expiryMs) || expiryMs < 0 || expiryMs > 0xffffffff)) throw invalid('expiryMs must be an integer from 0 to 4294967295');
  const priority = options?.priority;
  if (priority !== undefined && priority !== 'high' && priority !== 'normal' && priority !== 'low') throw invalid("priority must be 'high', 'normal' or 'low'");
  return { qos, retain, expiryMs, priority };
}

export function checkSubscribeOptions(options: SubscribeOptions | undefined): SubscriptionOptions {
  if (options !== undefined && (typeof options !== 'object' || options === null)) throw invalid('subscribe options must be an object');
  const qos = checkQos(options?.qos);
  const transport = options?.transport ?? 'tcp';
  if (transport !== 'tcp' && transport !== 'udp') throw invalid("transport must be 'tcp' or 'udp'");
  const reliable = options?.reliable ?? false;
  const noLocal = options?.noLocal ?? false;
  if (typeof reliable !== 'boolean' || typeof noLocal !== 'boolean') throw invalid('reliable and noLocal must be booleans');
  return { qos, transport, reliable, noLocal };
}

/** The SUBSCRIBE request's JSON, as the server reads it. */
export function checkSubscribeRequest(request: unknown): { filter: string; options: SubscriptionOptions } {
  const body = request as Record<string, unknown> | null;
  if (typeof body !== 'object' || body === null || typeof body.filter !== 'string') throw new HybridwireError('HW_ERR_BAD_MESSAGE', 'pub/sub SUBSCRIBE needs a filter');
  try {
    return { filter: body.filter, options: checkSubscribeOptions(body as SubscribeOptions) };
  } catch (error) {
    throw new HybridwireError('HW_ERR_BAD_MESSAGE', `pub/sub SUBSCRIBE: ${(error as Error).message}`);
  }
}

/** The CONNECT request: `{ cleanSession, sessionExpiryMs, will }`, the will a base64 publish record. */
export function encodeConnectRequest(cleanSession: boolean, sessionExpiryMs: number, will: WillOptions | undefined): Record<string, unknown> {
  const request: Record<string, unknown> = { cleanSession, sessionExpiryMs };
  if (will !== undefined) {
    const encoding = encodingOf(will.payload);
    const qos = will.qos ?? 0;
    request.will = encodeRecord(qos, will.retain ?? false, false, qos === 0 ? 0 : 1, will.topic, encoding, bodyOf(will.payload, encoding)).toString('base64');
  }
  return request;
}

export function parseConnectRequest(request: unknown, limits: TopicLimits): { persistent: boolean; sessionExpiryMs: number; will: PubsubMessage | undefined } {
  const body = request as Record<string, unknown> | null;
  const bad = (detail: string) => new HybridwireError('HW_ERR_BAD_MESSAGE', `pub/sub CONNECT: ${detail}`);
  if (typeof body !== 'object' || body === null) throw bad('must be an object');
  const clean = body.cleanSession ?? true;
  if (typeof clean !== 'boolean') throw bad('cleanSession must be a boolean');
  const expiry = body.sessionExpiryMs ?? 0;
  if (typeof expiry !== 'number' || !Number.isInteger(expiry) || expiry < 0 || expiry > 2 ** 31 - 1) throw bad('sessionExpiryMs must be an integer from 0 to 2147483647');
  let will: PubsubMessage | undefined;
  if (body.will !== undefined) {
    if (typeof body.will !== 'string' || body.will.length > 4 * 65_536) throw bad('will must be a base64 publish record');
    const record = decodeRecord(Buffer.from(body.will, 'base64'));
    checkTopic(record.topic, limits, false);
    will = { topic: record.topic, payload: record.encoding === Encoding.BINARY ? Buffer.from(record.body) : payloadOf(record.encoding, record.body), qos: record.qos, retain: record.retain };
  }
  return { persistent: !clean, sessionExpiryMs: expiry, will };
}

/** connect()'s `will`, checked. */
export function checkWill(will: unknown, limits: TopicLimits): WillOptions | undefined {
  if (will === undefined) return undefined;
  if (typeof will !== 'object' || will === null) throw invalid('option will must be { topic, payload, qos, retain }');
  const w = will as WillOptions;
  checkTopic(w.topic, limits, false);
  checkQos(w.qos, 'will.qos');
  if (w.retain !== undefined && typeof w.retain !== 'boolean') throw invalid('will.retain must be a boolean');
  return w;
}
