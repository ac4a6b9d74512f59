import type { Connection } from '../session/connection.js';
import type { PeerCertificate } from '../transport/tls.js';
import { SessionHandle } from './session-handle.js';

export interface Address {
  address: string;
  port: number;
  family: string;
}

interface PeerEvents {
  drain: [];
  close: [error: Error | undefined];
}

/**
 * A connected client, as the server sees it. Handlers receive it as their second argument; send,
 * request and the statistics are those of {@link SessionHandle}.
 */
export class Peer extends SessionHandle<PeerEvents, Connection> {
  /** The session id the server assigned in HELLO_ACK. */
  readonly id: string;
  /** The id the client offered in HELLO, if any. */
  readonly clientId: string | undefined;
  readonly tcpAddress: Address;
  /**
   * The session's validated UDP address, where its datagrams go and the only one they are taken
   * from (docs/PROTOCOL.md 4.1): undefined until the client has answered a PATH_CHALLENGE.
   */
  udpAddress: Address | undefined;
  /**
   * The certificate the client proved over TLS, verified against the server's `tls.ca` (mutual
   * TLS, `tls.requestCert`): its subject, fingerprint (SHA-256) and public-key pin. undefined
   * without one.
   */
  readonly certificate: PeerCertificate | undefined;

  constructor(id: string, clientId: string | undefined, tcpAddress: Address, connection: Connection, certificate?: PeerCertificate) {
    super(connection);
    this.id = id;
    this.clientId = clientId;
    this.tcpAddress = tcpAddress;
    this.certificate = certificate;
  }

  /** Closes this peer's session gracefully. */
  close(reason?: string): Promise<void> {
    return this.connection.close(reason);
  }
}
