/**
 * What a session tells the code above it: its events, the owner that hears those of many sessions
 * at once (a server), and the handler that takes a server's handshake frames.
 */
import type { EventEmitter } from 'node:events';
import type { Connection } from './connection.js';
import type { MessageInfo } from './dispatch.js';
import type { HeartbeatWheel } from './heartbeat.js';
import type { Payload } from './message.js';

export interface ConnectionEvents {
  handshake: [type: number, payload: Uint8Array];
  message: [type: string, payload: Payload, info: MessageInfo];
  drain: [];
  error: [error: Error];
  close: [error: Error | undefined];
  pong: [rttMs: number];
  /** The server confirmed the session (client side; see docs/PROTOCOL.md, section 3). */
  ready: [];
}

/**
 * Who hears the events of many sessions (a server): one object for all of them, where listeners
 * would cost each session a listener table and closures. It hears an event before the session's
 * own listeners, if any.
 */
export interface SessionOwner {
  /** Beats the sessions' heartbeats (those whose interval is its own). */
  readonly heartbeats: HeartbeatWheel;
  sessionMessage(connection: Connection, type: string, payload: Payload, info: MessageInfo): void;
  sessionDrain(connection: Connection): void;
  sessionError(connection: Connection, error: Error): void;
  sessionClosed(connection: Connection, error: Error | undefined): void;
}

/** Takes the handshake frames of a session in place of its 'handshake' event (a server's handshake). */
export interface HandshakeHandler {
  handshakeFrame(type: number, payload: Uint8Array): void;
}

/**
 * Lets an EventEmitter make its listener table when its first listener comes, rather than at
 * construction: the table is a dictionary of about 250 bytes, which each of thousands of idle
 * sessions and peers would hold with nothing in it. Node's EventEmitter supports an emitter
 * without a table (one whose constructor never called EventEmitter's): every method then finds
 * no listener, and the first `on()` or `once()` makes it. Call right after `super()`.
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export function deferListenerTable(emitter: EventEmitter<any>): void {
  (emitter as unknown as { _events: unknown })._events = undefined;
}
