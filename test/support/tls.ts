/**
 * TLS for tests on 127.0.0.1: one self-signed certificate for `localhost` and 127.0.0.1 (made once
 * per test file, by the `selfsigned` package), a raw TLS connection, and hybridwire sessions over
 * TLS.
 *
 * `sessionsOverTls()` runs the servers and clients a test file makes over node:tls: it swaps
 * net.createServer and net.connect, which the server and client call, for tls.createServer and
 * tls.connect with this certificate, so that each session's TCP socket is a TLSSocket and its UDP
 * datagrams are sealed with keys from its exporter, as they are for a session made with TLS
 * options. It stands in for those options until createServer() and connect() take them.
 */
import { once } from 'node:events';
import net from 'node:net';
import tls from 'node:tls';
import selfsigned from 'selfsigned';
import { vi } from 'vitest';

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

/**
 * From now until the returned function is called, hybridwire servers and clients made in this
 * process talk TLS (see the top of this file). Options for tls.connect (a client's `ciphers`...)
 * may be given.
 */
export async function sessionsOverTls(client: tls.ConnectionOptions = {}): Promise<() => void> {
  const { key, cert } = await testCredentials();
  const createServer = vi
    .spyOn(net, 'createServer')
    .mockImplementation(((options: net.ServerOpts, listener: (socket: net.Socket) => void) =>
      tls.createServer({ ...options, key, cert }, listener)) as unknown as typeof net.createServer);
  const connect = vi
    .spyOn(net, 'connect')
    .mockImplementation(((options: net.NetConnectOpts) => tls.connect({ ...(options as tls.ConnectionOptions), ca: cert, servername: 'localhost', ...client })) as unknown as typeof net.connect);
  return () => {
    createServer.mockRestore();
    connect.mockRestore();
  };
}
