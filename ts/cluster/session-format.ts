/**
 * A persistent pub/sub session as it crosses from one node to another (session-handoff.ts): its
 * subscriptions, the deliveries in flight (with their QoS 2 release state) and queued, in order,
 * and the ids of QoS 2 publishes from its client awaiting PUBREL. It travels between hybridwire
 * nodes only (through NATS), never to clients.
 *
 * Layout (integers little-endian; ts/cluster/README.md has the same table):
 *
 *   u8  version (1)             a node refuses any other with HW_ERR_BAD_VERSION
 *   u32 sessionExpiryMs         at most 2^31 - 1, as in a CONNECT
 *   u32 subscriptions, each:    u16 filter bytes, filter (UTF-8), u8 qos, u8 flags (1 noLocal, 2 udp, 4 reliable)
 *   u32 in flight, each:        delivery, u8 released (0/1)
 *   u32 queued, each:           delivery
 *   u32 received QoS 2, each:   u32 id
 *
 *   delivery: u32 id, u8 qos, u8 priority (0 normal, 1 high, 2 low), f64 ms left before it
 *             expires (-1: never; relative, so the nodes' clocks need not agree), u8 message id
 *             bytes, message id (ASCII, the cluster's `hw-id`; 0 bytes: none), u32 record bytes,
 *             record (the pub/sub delivery record, docs/PROTOCOL.md section 10, of the same id and QoS)
 *
 * Input that ends early is refused with HW_ERR_TRUNCATED, other malformed input (and counts past
 * the reading node's limits) with HW_ERR_BAD_MESSAGE: a node never installs half a session.
 */
import { HybridwireError } from '../errors.js';
import type { Priority } from '../qos/priority-scheduler.js';
import type { InflightDelivery, QueuedDelivery, SubscriptionOptions } from '../pubsub/stores.js';
import { decodeRecord, type QoS } from '../pubsub/wire.js';

export const SESSION_FORMAT_VERSION = 1;

/** What of a session crosses nodes (its identity is the subject it was asked for). */
export interface TransferredSession {
  sessionExpiryMs: number;
  subscriptions: Map<string, SubscriptionOptions>;
  inflight: Map<number, InflightDelivery>;
  queue: QueuedDelivery[];
  receivedQos2: Set<number>;
}

const MAX_SESSION_EXPIRY_MS = 2 ** 31 - 1;
const PRIORITIES: Array<Priority | undefined> = [undefined, 'high', 'low'];
const NO_LOCAL = 1;
const UDP = 2;
const RELIABLE = 4;

class Writer {
  private readonly chunks: Buffer[] = [];

  u8(value: number): void {
    this.chunks.push(Buffer.of(value));
  }

  u16(value: number): void {
    const out = Buffer.allocUnsafe(2);
    out.writeUInt16LE(value);
    this.chunks.push(out);
  }

  u32(value: number): void {
    const out = Buffer.allocUnsafe(4);
    out.writeUInt32LE(value >>> 0);
    this.chunks.push(out);
  }

  f64(value: number): void {
    const out = Buffer.allocUnsafe(8);
    out.writeDoubleLE(value);
    this.chunks.push(out);
  }

  bytes(value: Uint8Array): void {
    this.chunks.push(Buffer.from(value.buffer, value.byteOffset, value.byteLength));
  }

  done(): Buffer {
    return Buffer.concat(this.chunks);
  }
}

class Reader {
  private at = 0;

  constructor(private readonly input: Buffer) {}

  private take(count: number): number {
    if (this.at + count > this.input.length) throw new HybridwireError('HW_ERR_TRUNCATED', `a transferred session ends early (${this.input.length} bytes, ${this.at + count} needed)`);
    const start = this.at;
    this.at += count;
    return start;
  }

  u8(): number {
    return this.input[this.take(1)]!;
  }

  u16(): number {
    return this.input.readUInt16LE(this.take(2));
  }

  u32(): number {
    return this.input.readUInt32LE(this.take(4));
  }

  f64(): number {
    return this.input.readDoubleLE(this.take(8));
  }

  bytes(count: number): Buffer {
    const start = this.take(count);
    return this.input.subarray(start, start + count);
  }

  end(): void {
    if (this.at !== this.input.length) throw bad(`${this.input.length - this.at} bytes after its end`);
  }
}

function bad(detail: string): HybridwireError {
  return new HybridwireError('HW_ERR_BAD_MESSAGE', `malformed transferred session: ${detail}`);
}

const strictUtf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** A filter's bytes as text; not UTF-8 is refused, as replacement characters would make it another filter. */
function utf8(bytes: Buffer): string {
  try {
    return strictUtf8.decode(bytes);
  } catch {
    throw bad('a filter that is not UTF-8');
  }
}

function writeDelivery(out: Writer, delivery: QueuedDelivery, now: number): void {
  out.u32(delivery.id);
  out.u8(delivery.qos);
  out.u8(delivery.priority === 'high' ? 1 : delivery.priority === 'low' ? 2 : 0);
  out.f64(delivery.expiresAt === undefined ? -1 : Math.max(0, delivery.expiresAt - now));
  const messageId = Buffer.from(delivery.messageId ?? '', 'latin1');
  out.u8(messageId.length);
  out.bytes(messageId);
  out.u32(delivery.record.length);
  out.bytes(delivery.record);
}

function readDelivery(input: Reader, now: number): QueuedDelivery {
  const id = input.u32();
  const qos = input.u8();
  if (qos !== 1 && qos !== 2) throw bad(`a delivery of QoS ${qos}`);
  const priority = input.u8();
  if (priority >= PRIORITIES.length) throw bad(`priority ${priority}`);
  const left = input.f64();
  if (!(left === -1 || left >= 0)) throw bad(`expiry ${left}`);
  const messageId = input.bytes(input.u8()).toString('latin1');
  const record = Buffer.from(input.bytes(input.u32()));
  // The record goes to the client as it is, and is renumbered in place: it must be one, of this id and QoS.
  const parsed = decodeRecord(record);
  if (parsed.id !== id || parsed.qos !== qos) throw bad(`delivery ${id} at QoS ${qos} with a record of id ${parsed.id} at QoS ${parsed.qos}`);
  const delivery: QueuedDelivery = { id, qos: qos as QoS, record, expiresAt: left === -1 ? undefined : now + left };
  const named = PRIORITIES[priority];
  if (named !== undefined) delivery.priority = named;
  if (messageId !== '') delivery.messageId = messageId;
  return delivery;
}

/** The session's state as bytes, version first. `now` turns expiries into time left. */
export function encodeSession(session: TransferredSession, now = Date.now()): Buffer {
  const out = new Writer();
  out.u8(SESSION_FORMAT_VERSION);
  out.u32(session.sessionExpiryMs);
  out.u32(session.subscriptions.size);
  for (const [filter, options] of session.subscriptions) {
    const bytes = Buffer.from(filter, 'utf8');
    out.u16(bytes.length);
    out.bytes(bytes);
    out.u8(options.qos);
    out.u8((options.noLocal ? NO_LOCAL : 0) | (options.transport === 'udp' ? UDP : 0) | (options.reliable ? RELIABLE : 0));
  }
  out.u32(session.inflight.size);
  for (const entry of session.inflight.values()) {
    writeDelivery(out, entry.delivery, now);
    out.u8(entry.released ? 1 : 0);
  }
  out.u32(session.queue.length);
  for (const delivery of session.queue) writeDelivery(out, delivery, now);
  out.u32(session.receivedQos2.size);
  for (const id of session.receivedQos2) out.u32(id);
  return out.done();
}

/** The bounds of the node reading a session (its pub/sub limits, ts/pubsub/broker.ts). */
export interface SessionBounds {
  maxSubscriptionsPerPeer: number;
  maxInflight: number;
  maxOfflineMessages: number;
}

const UNBOUNDED: SessionBounds = { maxSubscriptionsPerPeer: Infinity, maxInflight: Infinity, maxOfflineMessages: Infinity };

/** A count read, refused past `max` before anything it counts is read (or allocated). */
function count(input: Reader, max: number, what: string): number {
  const value = input.u32();
  if (value > max) throw bad(`${value} ${what}, more than this node's ${max}`);
  return value;
}

/**
 * The inverse of encodeSession; throws HW_ERR_BAD_VERSION, HW_ERR_TRUNCATED or HW_ERR_BAD_MESSAGE.
 * `bounds`: more subscriptions than maxSubscriptionsPerPeer, deliveries in flight or QoS 2 ids than
 * maxInflight are refused; of the queue only the newest maxOfflineMessages are kept (as on one node).
 */
export function decodeSession(bytes: Uint8Array, now = Date.now(), bounds: SessionBounds = UNBOUNDED): TransferredSession {
  const input = new Reader(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
  const version = input.u8();
  if (version !== SESSION_FORMAT_VERSION) throw new HybridwireError('HW_ERR_BAD_VERSION', `a transferred session of format version ${version}; this node reads version ${SESSION_FORMAT_VERSION}`);
  const sessionExpiryMs = input.u32();
  // A CONNECT's range: the expiry becomes a timer, and Node fires one past 2^31 - 1 ms at once.
  if (sessionExpiryMs > MAX_SESSION_EXPIRY_MS) throw bad(`sessionExpiryMs ${sessionExpiryMs}, past ${MAX_SESSION_EXPIRY_MS}`);
  const subscriptions = new Map<string, SubscriptionOptions>();
  for (let left = count(input, bounds.maxSubscriptionsPerPeer, 'subscriptions'); left > 0; left--) {
    const filter = utf8(input.bytes(input.u16()));
    const qos = input.u8();
    const flags = input.u8();
    if (qos > 2) throw bad(`a subscription of QoS ${qos}`);
    if (flags > (NO_LOCAL | UDP | RELIABLE)) throw bad(`subscription flags ${flags}`);
    subscriptions.set(filter, { qos: qos as QoS, noLocal: (flags & NO_LOCAL) !== 0, transport: flags & UDP ? 'udp' : 'tcp', reliable: (flags & RELIABLE) !== 0 });
  }
  const inflight = new Map<number, InflightDelivery>();
  for (let left = count(input, bounds.maxInflight, 'deliveries in flight'); left > 0; left--) {
    const delivery = readDelivery(input, now);
    const released = input.u8();
    if (released > 1) throw bad(`released ${released}`);
    inflight.set(delivery.id, { delivery, released: released === 1, sentAt: now });
  }
  const queue: QueuedDelivery[] = [];
  for (let left = input.u32(); left > 0; left--) {
    queue.push(readDelivery(input, now));
    if (queue.length > bounds.maxOfflineMessages) queue.shift();
  }
  const receivedQos2 = new Set<number>();
  for (let left = count(input, bounds.maxInflight, 'QoS 2 ids awaiting PUBREL'); left > 0; left--) receivedQos2.add(input.u32());
  input.end();
  return { sessionExpiryMs, subscriptions, inflight, queue, receivedQos2 };
}
