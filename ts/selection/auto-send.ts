/**
 * Where `transport: 'auto'` meets a session: each connection's TransportSelector (made on its
 * first 'auto' send, so sessions that never use it cost nothing), the size a message will have,
 * and the sends themselves. See ./transport-selector.ts for the rules.
 */
import type { Connection } from '../session/connection.js';
import { bodyOf, encodingOf, type Payload } from '../session/message.js';
import type { SendOptions } from '../session/send-options.js';
import { TransportSelector, type SelectablePath, type SelectionStats } from './transport-selector.js';

/** A message's prefix (alias, encoding, kind, request id) and a type name sent inline, at most. */
const PREFIX_BYTES = 8;

const selectors = new WeakMap<Connection, TransportSelector>();

function selectorOf(connection: Connection): TransportSelector {
  let selector = selectors.get(connection);
  if (selector === undefined) {
    selector = new TransportSelector(() => connection.state !== 'closed');
    selectors.set(connection, selector);
  }
  return selector;
}

function bytesOf(body: Uint8Array | string): number {
  return typeof body === 'string' ? Buffer.byteLength(body) : body.length;
}

/** The options a message of `type` with `body` goes with (counted by the caller once it is sent). */
function autoChoice(connection: Connection, type: string, body: Uint8Array | string, options: SendOptions): SendOptions {
  return selectorOf(connection).choose(connection.udpPath as SelectablePath | undefined, PREFIX_BYTES + Buffer.byteLength(type) + bytesOf(body), options, connection.counters.rttMs);
}

/**
 * An encoded message sent the way 'auto' chooses, and counted that way once the send has not
 * thrown (a full send queue, say): the counts are of messages that left.
 */
export function sendEncodedAuto(connection: Connection, type: string, encoding: number, body: Uint8Array | string, options: SendOptions): boolean {
  const chosen = autoChoice(connection, type, body, options);
  const sent = connection.sendEncoded(type, encoding, body, chosen);
  selectorOf(connection).count(chosen);
  return sent;
}

/** send() with transport 'auto': the payload is encoded once, measured, and sent the chosen way. */
export function sendAuto(connection: Connection, type: string, payload: Payload, options: SendOptions): boolean {
  const encoding = encodingOf(payload);
  return sendEncodedAuto(connection, type, encoding, bodyOf(payload, encoding), options);
}

/**
 * A request sent the way 'auto' chooses (its payload is encoded again by the request), counted
 * once it has left: `send` calls `sent` then, and not for a request refused before (its promise rejects).
 */
export function requestAuto<T extends SendOptions>(connection: Connection, type: string, payload: Payload, options: T, send: (resolved: T, sent: () => void) => Promise<Payload>): Promise<Payload> {
  const chosen = autoChoice(connection, type, bodyOf(payload, encodingOf(payload)), options);
  return send({ ...options, ...chosen }, () => selectorOf(connection).count(chosen));
}

/** Adds a closing session's counts to running totals (a server's). */
export function addSelection(totals: Pick<SelectionStats, 'tcp' | 'udp' | 'udpReliable'>, connection: Connection): void {
  const selector = selectors.get(connection);
  if (selector === undefined) return;
  totals.tcp += selector.tcp;
  totals.udp += selector.udp;
  totals.udpReliable += selector.udpReliable;
}

/** The session's selection counts; all zero while it never sent with 'auto'. */
export function selectionStatsOf(connection: Connection): SelectionStats {
  return (
    selectors.get(connection)?.stats() ?? { tcp: 0, udp: 0, udpReliable: 0, reason: 'none', udpLoss: undefined, udpRttMs: undefined, probesSent: 0, probesAnswered: 0 }
  );
}
