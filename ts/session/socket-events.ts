/**
 * The listeners a session puts on its TCP socket: one set of functions for every session, which
 * finds its session through the socket, rather than closures per session (five of them with their
 * context cost an idle session about 320 bytes).
 */
import type { Socket } from 'node:net';

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

interface SessionSocket extends Socket {
  [SESSION]: SocketSession;
}

function onData(this: SessionSocket, chunk: Buffer): void {
  this[SESSION].socketData(chunk);
}

function onDrain(this: SessionSocket): void {
  this[SESSION].socketDrain();
}

function onEnd(this: SessionSocket): void {
  this[SESSION].socketEnd();
}

function onError(this: SessionSocket, error: Error): void {
  this[SESSION].socketClosed(error);
}

function onClose(this: SessionSocket): void {
  this[SESSION].socketClosed(undefined);
}

/** Hands `socket`'s events to `session`. */
export function listenToSocket(socket: Socket, session: SocketSession): void {
  (socket as SessionSocket)[SESSION] = session;
  socket.on('data', onData);
  socket.on('drain', onDrain);
  socket.on('error', onError);
  socket.on('close', onClose);
  socket.on('end', onEnd);
}
