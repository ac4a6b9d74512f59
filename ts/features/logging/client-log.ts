/**
 * What a client tells its logger: its session opening and ending (with the error code),
 * reconnection attempts, errors that leave the session open, and close.
 */
import type { EventEmitter } from 'node:events';
import { errorFields, type Logger } from './logger.js';

interface LoggedClient extends EventEmitter {
  readonly sessionId: string | undefined;
  on(event: 'connect' | 'close', listener: () => void): this;
  on(event: 'disconnect' | 'reconnect_failed', listener: (error: Error | undefined) => void): this;
  on(event: 'reconnecting', listener: (info: { attempt: number; delayMs: number }) => void): this;
  on(event: 'reconnect', listener: (info: { attempt: number }) => void): this;
  on(event: 'error', listener: (error: Error) => void): this;
}

export function logClient(client: LoggedClient, logger: Logger, server: { host: string; tcpPort: number }): void {
  const log = logger.child({ component: 'hybridwire-client', address: server.host, port: server.tcpPort });
  client.on('connect', () => log.info({ event: 'connect', peer: client.sessionId }, `session ${client.sessionId} open`));
  client.on('disconnect', (error) => log.info({ event: 'disconnect', peer: client.sessionId, ...errorFields(error) }, error ? `session ended: ${error.message}` : 'session ended'));
  client.on('reconnecting', ({ attempt, delayMs }) => log.info({ event: 'reconnecting', attempt, delayMs }, `reconnecting in ${delayMs} ms (attempt ${attempt})`));
  client.on('reconnect', ({ attempt }) => log.info({ event: 'reconnect', peer: client.sessionId, attempt }, `reconnected after ${attempt} attempts`));
  client.on('reconnect_failed', (error) => log.warn({ event: 'reconnect_failed', ...errorFields(error) }, 'gave up reconnecting'));
  client.on('error', (error) => log.warn({ event: 'error', peer: client.sessionId, ...errorFields(error) }, error.message));
  client.on('close', () => log.debug({ event: 'close' }, 'closed'));
}
