/**
 * TLS for tests on 127.0.0.1: one self-signed certificate for `localhost` and 127.0.0.1 (made once
 * per test file, by the `selfsigned` package), for the `tls` options of createServer() and
 * connect(), and a raw TLS connection.
 */
import { once } from 'node:events';
import net from 'node:net';
import tls from 'node:tls';
import selfsigned from 'selfsigned';

export interface Credentials {
  key: string;
  cert: string;
}

let credentials: Promise<Credentials> | undefined;

export function testCredentials(): Promise<Credentials> {
  credentials ??= selfsigned
    .generate([{ name: 'commonName', value: 'localhost' }], {
      keyType: 'ec',
      algorithm: 'sha256',
      extensions: [
        { name: 'basicConstraints', cA: false },
        { name: 'subjectAltName', altNames: [{ type: 2, value: 'localhost' }, { type: 7, ip: '127.0.0.1' }] },
      ],
    })
    .then((pems) => ({ key: pems.private, cert: pems.cert }));
  return credentials;
}

export interface TlsPair {
  client: tls.TLSSocket;
  server: tls.TLSSocket;
  close(): void;
}

/** One TLS connection over 127.0.0.1, its handshake done; `client` options go to tls.connect. */
export async function tlsPair(client: tls.ConnectionOptions = {}, server: tls.TlsOptions = {}): Promise<TlsPair> {
  const { key, cert } = await testCredentials();
  const listener = tls.createServer({ key, cert, ...server });
  listener.listen(0, '127.0.0.1');
  await once(listener, 'listening');
  const accepted = once(listener, 'secureConnection') as Promise<[tls.TLSSocket]>;
  const socket = tls.connect({ host: '127.0.0.1', port: (listener.address() as net.AddressInfo).port, ca: cert, servername: 'localhost', ...client });
  await once(socket, 'secureConnect');
  const [serverSocket] = await accepted;
  return {
    client: socket,
    server: serverSocket,
    close: () => {
      socket.destroy();
      serverSocket.destroy();
      listener.close();
    },
  };
}
