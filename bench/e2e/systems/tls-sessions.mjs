// Sessions over node:tls for the sealed systems (their UDP datagrams are then sealed, keyed by the
// TLS exporter: docs/PROTOCOL.md 4.4). createServer() and connect() take no TLS options yet, so
// until they do this process's net.createServer and net.connect, which they call, become
// tls.createServer (with a self-signed certificate made here) and tls.connect (trusting it): each
// session's TCP socket is then a TLSSocket, as it is with the options.
import net from 'node:net';
import tls from 'node:tls';
import selfsigned from 'selfsigned';

/** Makes servers of this process speak TLS; returns the certificate their clients must trust. */
export async function serveOverTls() {
  const pems = await selfsigned.generate([{ name: 'commonName', value: 'localhost' }], {
    keyType: 'ec',
    algorithm: 'sha256',
    extensions: [{ name: 'subjectAltName', altNames: [{ type: 2, value: 'localhost' }] }],
  });
  net.createServer = (options, listener) => tls.createServer({ ...options, key: pems.private, cert: pems.cert }, listener);
  return pems.cert;
}

/** Makes clients of this process speak TLS to servers whose certificate is `ca`. */
export function connectOverTls(ca) {
  net.connect = (options) => tls.connect({ ...options, ca, servername: 'localhost' });
}
