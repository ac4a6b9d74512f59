/**
 * What a server tells its logger: listening, each session's connection and disconnect (with the
 * error code that ended it), peers that broke the protocol, refused handshakes, and close. It
 * listens to the server's events, so a server without a logger pays nothing.
 */
import type { EventEmitter } from 'node:events';
import type { Address, Peer } from '../../api/peer.js';
import { errorFields, type Logger } from './logger.js';

/** The events of a Server that are logged (its EventEmitter, typed loosely to avoid a cycle). */
interface LoggedServer extends EventEmitter {
  on(event: 'listening', listener: (result: { host: string; tcpPort: number; udpPort: number | undefined }) => void): this;
  on(event: 'connection', listener: (peer: Peer) => void): this;
  on(event: 'disconnect', listener: (peer: Peer, error: Error | undefined) => void): this;
  on(event: 'peerError', listener: (peer: Peer | undefined, error: Error) => void): this;
  on(event: 'error', listener: (error: Error) => void): this;
  on(event: 'close', listener: () => void): this;
}

export class ServerLog {
  private readonly logger: Logger;
  /** One child logger per session, carrying its peer id and address. */
  private readonly peers = new WeakMap<Peer, Logger>();

  constructor(server: LoggedServer, logger: Logger) {
    this.logger = logger.child({ component: 'hybridwire-server' });
    server.on('listening', ({ host, tcpPort, udpPort }) => {
      this.logger.info({ event: 'listening', host, tcpPort, udpPort }, `listening on ${host}, TCP port ${tcpPort}${udpPort === undefined ? '' : `, UDP port ${udpPort}`}`);
    });
    server.on('connection', (peer) => {
      const { address, port } = peer.tcpAddress;
      this.peerLog(peer).info({ event: 'connection', ...(peer.clientId === undefined ? {} : { clientId: peer.clientId }) }, `session from ${address}:${port}`);
    });
    server.on('disconnect', (peer, error) => {
      this.peerLog(peer).info({ event: 'disconnect', ...errorFields(error) }, error ? `session ended: ${error.message}` : 'session ended');
    });
    server.on('peerError', (peer, error) => {
      const log = peer ? this.peerLog(peer) : this.logger;
      log.warn({ event: 'peerError', ...errorFields(error) }, `peer error: ${error.message}`);
    });
    server.on('error', (error) => this.logger.error({ event: 'error', ...errorFields(error) }, `server error: ${error.message}`));
    server.on('close', () => this.logger.info({ event: 'close' }, 'closed'));
  }

  /** A handshake was refused (server full, version mismatch, ...). */
  refused(address: Address, code: string, reason: string): void {
    this.logger.warn({ event: 'refused', address: address.address, port: address.port, code, reason }, `refused a session from ${address.address}:${address.port}: ${reason}`);
  }

  private peerLog(peer: Peer): Logger {
    let log = this.peers.get(peer);
    if (log === undefined) {
      log = this.logger.child({ peer: peer.id, address: peer.tcpAddress.address, port: peer.tcpAddress.port });
      this.peers.set(peer, log);
    }
    return log;
  }
}
