/**
 * The listeners a session puts on its TCP socket: one set of functions for every session, which
 * finds its session through the socket, rather than closures per session (five of them with their
 * context cost an idle session about 320 bytes).
 */
import type { Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { ReadGather } from './read-gather.js';

/** What a session does with its socket's events. */
export interface SocketSession {
  socketData(chunk: Buffer): void;
  /** The socket wrote out all it held. */
  socketDrain(): void;
  /** The peer finished writing (FIN). */
  socketEnd(): void;
  /** The socket closed, or failed with `error` (then it closes). */
  socketClosed(error: Error | undefined): void;
}

const SESSION = Symbol('hybridwire session');
const GATHER = Symbol('hybridwire read gather');

interface SessionSocket extends Socket {
  [SESSION]: SocketSession;
  /** A TLS socket's (see ./read-gather.ts). */
  [GATHER]?: ReadGather;
}

function onData(this: SessionSocket, chunk: Buffer): void {
  this[SESSION].socketData(chunk);
}

function onTlsData(this: SessionSocket, piece: Buffer): void {
  this[GATHER]!.add(piece);
}

function onDrain(this: SessionSocket): void {
  this[SESSION].socketDrain();
}

function onEnd(this: SessionSocket): void {
  // What was read before the peer's FIN comes before it.
  this[GATHER]?.flush();
  this[SESSION].socketEnd();
}

function onError(this: SessionSocket, error: Error): void {
  this[GATHER]?.discard();
  this[SESSION].socketClosed(error);
}

function onClose(this: SessionSocket): void {
  this[GATHER]?.discard();
  this[SESSION].socketClosed(undefined);
}

/** Hands `socket`'s events to `session`. */
export function listenToSocket(socket: Socket, session: SocketSession): void {
  (socket as SessionSocket)[SESSION] = session;
  if ((socket as TLSSocket).encrypted === true) {
    (socket as SessionSocket)[GATHER] = new ReadGather(session);
    socket.on('data', onTlsData);
  } else {
    socket.on('data', onData);
  }
  socket.on('drain', onDrain);
  socket.on('error', onError);
  socket.on('close', onClose);
  socket.on('end', onEnd);
}
