/**
 * TLS under the framing, over real sockets on loopback: sessions that work (a CA, mutual TLS,
 * pins, TLS 1.2 when allowed, reconnection, the exporter) and each attack of issue 14 point 6 on
 * the TCP side, which must end in a coded error within a bound, never a hang.
 */
import { X509Certificate } from 'node:crypto';
import { once } from 'node:events';
import tls from 'node:tls';
import { beforeAll, describe, expect, it } from 'vitest';
import type { Client, Peer } from '../../ts/index.js';
import { exportKeyingMaterial, publicKeyPin } from '../../ts/transport/tls.js';
import { testCertificates, type TestCertificates } from '../support/certificates.js';
import { nextEvent } from '../support/raw-peer.js';
import { closeAfterEach, startClient, startServer } from '../support/sessions.js';
import { waitUntil, within } from '../support/wait.js';

closeAfterEach();
let certs: TestCertificates;
beforeAll(async () => {
  certs = await testCertificates();
});

/** A failure must come well before connectTimeoutMs (whose HW_ERR_CONNECT_TIMEOUT would be a hang in disguise). */
const BOUND_MS = 3000;

function tlsServer(extra: Record<string, unknown> = {}, options: Record<string, unknown> = {}) {
  return startServer({ udpPort: false, ...extra, tls: { key: certs.server.key, cert: certs.server.cert, ...options } });
}

function mutualServer(extra: Record<string, unknown> = {}) {
  return tlsServer(extra, { ca: certs.ca.cert, requestCert: true });
}

/** The coded error connect() rejects with, within BOUND_MS. */
async function refusal(options: Parameters<typeof startClient>[0]): Promise<Error & { code?: string }> {
  const attempt = startClient({ connectTimeoutMs: 10_000, ...options }).then(
    () => {
      throw new Error('connect() resolved; it should have been refused');
    },
    (error: Error) => error,
  );
  return within(attempt, BOUND_MS, 'connect() to fail');
}

describe('TLS sessions', () => {
  it('carries a session over TLS 1.3 verified against a CA: messages, requests and UDP as without it', async () => {
    const { server, tcpPort } = await startServer({ tls: { key: certs.server.key, cert: certs.server.cert } });
    server.handle<number[]>('sum', (numbers) => numbers.reduce((a, b) => a + b, 0));
    const udpMessage = new Promise<unknown>((resolve) => server.handle('position', resolve));
    const connected = nextEvent<[Peer]>(server, 'connection');
    const client = await startClient({ tcpPort, tls: { ca: certs.ca.cert } });
    const [peer] = await connected;
    expect(client.encrypted).toBe(true);
    expect(peer.encrypted).toBe(true);
    expect((client.connection!.socket as tls.TLSSocket).getProtocol()).toBe('TLSv1.3');
    expect(client.certificate?.subject.CN).toBe('localhost');
    expect(client.certificate?.pin).toBe(certs.serverPin);
    // No client certificate was asked for.
    expect(peer.certificate).toBeUndefined();
    expect(peer.tcpAddress).toEqual({ address: '127.0.0.1', port: client.connection!.socket.localPort, family: 'IPv4' });
    expect(await client.request('sum', [1, 2, 3])).toBe(6);
    expect(await client.request('echo', Buffer.from([1, 2, 3]))).toEqual(new Uint8Array([1, 2, 3]));
    client.send('position', { x: 1 }, { transport: 'udp' });
    expect(await within(udpMessage, 5000, 'the UDP message')).toEqual({ x: 1 });
  });

  it('verifies the host name given as servername, and over IPv6', async () => {
    const { tcpPort } = await startServer({ host: '::1', udpPort: false, tls: { key: certs.server.key, cert: certs.server.cert } });
    const client = await startClient({ host: '::1', tcpPort, tls: { ca: certs.ca.cert, servername: 'localhost' } });
    expect(await client.request('ping')).toBe('pong');
  });

  it('mutual TLS: the server sees the verified subject, fingerprint and pin of the client certificate', async () => {
    const { server, tcpPort } = await mutualServer();
    const connected = nextEvent<[Peer]>(server, 'connection');
    const client = await startClient({ tcpPort, tls: { ca: certs.ca.cert, cert: certs.client.cert, key: certs.client.key } });
    const [peer] = await connected;
    const expected = new X509Certificate(certs.client.cert);
    expect(peer.certificate?.subject.CN).toBe('test client');
    expect(peer.certificate?.issuer.CN).toBe('test CA');
    expect(peer.certificate?.fingerprint).toBe(expected.fingerprint256);
    expect(peer.certificate?.pin).toBe(publicKeyPin(expected));
    expect(await client.request('ping')).toBe('pong');
  });

  it('accepts a server whose key matches a pin, and exposes that pin', async () => {
    const { tcpPort } = await tlsServer();
    const client = await startClient({ tcpPort, tls: { ca: certs.ca.cert, pins: ['sha256/AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=', certs.serverPin] } });
    expect(client.certificate?.pin).toBe(certs.serverPin);
    expect(await client.request('ping')).toBe('pong');
  });

  it('with rejectUnauthorized: false, a pin alone identifies a server whose CA is not trusted', async () => {
    const { tcpPort } = await startServer({ udpPort: false, tls: { key: certs.otherServer.key, cert: certs.otherServer.cert } });
    const pin = publicKeyPin(new X509Certificate(certs.otherServer.cert));
    const client = await startClient({ tcpPort, tls: { rejectUnauthorized: false, pins: [pin] } });
    expect(await client.request('ping')).toBe('pong');
  });

  it('allows TLS 1.2 only when minVersion says so', async () => {
    const { tcpPort } = await tlsServer({}, { minVersion: 'TLSv1.2' });
    const client = await startClient({ tcpPort, tls: { ca: certs.ca.cert, minVersion: 'TLSv1.2', maxVersion: 'TLSv1.2' } });
    expect((client.connection!.socket as tls.TLSSocket).getProtocol()).toBe('TLSv1.2');
    expect(await client.request('ping')).toBe('pong');
  });

  it('reconnects over TLS after the session is lost, verifying the server again', async () => {
    const { server, tcpPort } = await mutualServer();
    const client: Client = await startClient({ tcpPort, reconnect: { initialDelayMs: 10, maxDelayMs: 50 }, tls: { ca: certs.ca.cert, cert: certs.client.cert, key: certs.client.key } });
    const first = client.sessionId;
    const reconnected = nextEvent(client, 'reconnect', 5000);
    server.peers.get(first!)!.connection.destroy();
    await reconnected;
    expect(client.sessionId).not.toBe(first);
    expect(client.encrypted).toBe(true);
    expect(server.peers.get(client.sessionId!)?.certificate?.subject.CN).toBe('test client');
    expect(await client.request('ping')).toBe('pong');
  });

  it('a burst of many TLS records arrives whole and in order, up to the close() right behind it', async () => {
    const { server, tcpPort } = await tlsServer();
    const received: number[] = [];
    let bytes = 0;
    server.handle<Uint8Array>('bulk', (payload) => {
      received.push(payload[0]! | (payload[1]! << 8));
      bytes += payload.length;
    });
    const connected = nextEvent<[Peer]>(server, 'connection');
    const client = await startClient({ tcpPort, tls: { ca: certs.ca.cert } });
    const [peer] = await connected;
    const closed = nextEvent(peer, 'close', 5000);
    // 2,000 messages of 1,500 bytes: about 190 TLS records, sent in one turn, then the session closes.
    const count = 2000;
    for (let i = 0; i < count; i++) {
      const payload = Buffer.alloc(1500, i & 0xff);
      payload.writeUInt16LE(i, 0);
      client.send('bulk', payload);
    }
    await client.close();
    await closed;
    expect(received).toEqual(Array.from({ length: count }, (_, i) => i));
    expect(bytes).toBe(count * 1500);
  });

  it('exports the same keying material at both ends of a TLS session, and none from a plaintext one', async () => {
    const { server, tcpPort } = await tlsServer();
    const connected = nextEvent<[Peer]>(server, 'connection');
    const client = await startClient({ tcpPort, tls: { ca: certs.ca.cert } });
    const [peer] = await connected;
    const clientKeys = exportKeyingMaterial(client.connection!.socket, 64, 'EXPORTER-hybridwire-test');
    const serverKeys = exportKeyingMaterial(peer.connection.socket, 64, 'EXPORTER-hybridwire-test');
    expect(clientKeys).toHaveLength(64);
    expect(serverKeys).toEqual(clientKeys);
    expect(exportKeyingMaterial(peer.connection.socket, 64, 'EXPORTER-hybridwire-other')).not.toEqual(clientKeys);

    const plain = await startServer({ udpPort: false });
    const plainClient = await startClient({ tcpPort: plain.tcpPort });
    expect(plainClient.encrypted).toBe(false);
    expect(exportKeyingMaterial(plainClient.connection!.socket, 64, 'EXPORTER-hybridwire-test')).toBeUndefined();
  });
});

describe('TLS attacks end in a coded error, never a hang', () => {
  it('a server certificate from a CA the client does not trust: HW_ERR_TLS_CERT_UNTRUSTED', async () => {
    const { tcpPort } = await tlsServer();
    const error = await refusal({ tcpPort, tls: { ca: certs.otherCa.cert } });
    expect(error.code).toBe('HW_ERR_TLS_CERT_UNTRUSTED');
  });

  it('a self-signed server against the default (system) CAs: HW_ERR_TLS_CERT_UNTRUSTED', async () => {
    const { tcpPort } = await tlsServer();
    expect((await refusal({ tcpPort, tls: true })).code).toBe('HW_ERR_TLS_CERT_UNTRUSTED');
  });

  it('an expired server certificate: HW_ERR_TLS_CERT_EXPIRED', async () => {
    const { tcpPort } = await startServer({ udpPort: false, tls: { key: certs.expiredServer.key, cert: certs.expiredServer.cert } });
    expect((await refusal({ tcpPort, tls: { ca: certs.ca.cert } })).code).toBe('HW_ERR_TLS_CERT_EXPIRED');
  });

  it('a certificate for another host name: HW_ERR_TLS_HOSTNAME_MISMATCH', async () => {
    const { tcpPort } = await startServer({ udpPort: false, tls: { key: certs.wrongHostServer.key, cert: certs.wrongHostServer.cert } });
    expect((await refusal({ tcpPort, tls: { ca: certs.ca.cert } })).code).toBe('HW_ERR_TLS_HOSTNAME_MISMATCH');
    const good = await tlsServer();
    expect((await refusal({ tcpPort: good.tcpPort, tls: { ca: certs.ca.cert, servername: 'example.org' } })).code).toBe('HW_ERR_TLS_HOSTNAME_MISMATCH');
  });

  it('a server whose key matches no pin: HW_ERR_TLS_PIN_MISMATCH, before the HELLO is sent', async () => {
    const { server, tcpPort } = await tlsServer();
    const otherPin = publicKeyPin(new X509Certificate(certs.otherServer.cert));
    const error = await refusal({ tcpPort, auth: 'secret', tls: { ca: certs.ca.cert, pins: [otherPin] } });
    expect(error.code).toBe('HW_ERR_TLS_PIN_MISMATCH');
    // The credentials never went to the unpinned server: it saw no HELLO.
    let hellos = 0;
    server.on('connection', () => hellos++);
    expect(server.stats().refusedConnections + server.stats().connectedClients + hellos).toBe(0);
  });

  it('a pinned server with rejectUnauthorized: false and the wrong pin: HW_ERR_TLS_PIN_MISMATCH', async () => {
    const { tcpPort } = await startServer({ udpPort: false, tls: { key: certs.otherServer.key, cert: certs.otherServer.cert } });
    expect((await refusal({ tcpPort, tls: { rejectUnauthorized: false, pins: [certs.serverPin] } })).code).toBe('HW_ERR_TLS_PIN_MISMATCH');
  });

  it('mutual TLS without a client certificate: HW_ERR_TLS_CERT_REQUIRED at both ends', async () => {
    const { server, tcpPort } = await mutualServer();
    const reported = nextEvent<[Peer | undefined, Error & { code?: string }]>(server, 'peerError');
    expect((await refusal({ tcpPort, tls: { ca: certs.ca.cert } })).code).toBe('HW_ERR_TLS_CERT_REQUIRED');
    const [peer, error] = await reported;
    expect(peer).toBeUndefined();
    expect(error.code).toBe('HW_ERR_TLS_CERT_REQUIRED');
    expect(server.stats().tlsFailures).toBe(1);
    expect(server.stats().connectedClients).toBe(0);
  });

  it('mutual TLS with a client certificate from another CA: HW_ERR_TLS_CERT_UNTRUSTED, no session', async () => {
    const { server, tcpPort } = await mutualServer();
    let sessions = 0;
    server.on('connection', () => sessions++);
    const error = await refusal({ tcpPort, tls: { ca: certs.ca.cert, cert: certs.otherClient.cert, key: certs.otherClient.key } });
    expect(error.code).toBe('HW_ERR_TLS_CERT_UNTRUSTED');
    await waitUntil(() => server.stats().tlsFailures === 1, 2000, 'the failure counted');
    expect(sessions).toBe(0);
  });

  it('mutual TLS with an expired client certificate: HW_ERR_TLS_CERT_EXPIRED', async () => {
    const { tcpPort } = await mutualServer();
    const error = await refusal({ tcpPort, tls: { ca: certs.ca.cert, cert: certs.expiredClient.cert, key: certs.expiredClient.key } });
    expect(error.code).toBe('HW_ERR_TLS_CERT_EXPIRED');
  });

  it('a plaintext client to a TLS server: HW_ERR_ENCRYPTION_REQUIRED', async () => {
    const { server, tcpPort } = await tlsServer();
    expect((await refusal({ tcpPort })).code).toBe('HW_ERR_ENCRYPTION_REQUIRED');
    expect(server.stats().refusedConnections).toBe(1);
  });

  it('a TLS client to a plaintext server: HW_ERR_TLS_HANDSHAKE_FAILED', async () => {
    const { tcpPort } = await startServer({ udpPort: false });
    const error = await refusal({ tcpPort, tls: { ca: certs.ca.cert } });
    expect(error.code).toBe('HW_ERR_TLS_HANDSHAKE_FAILED');
    expect(error.message).toMatch(/does not speak TLS/);
  });

  it('a TLS client of another protocol (ALPN h2 only) is refused in the TLS handshake', async () => {
    const { server, tcpPort } = await tlsServer();
    const reported = nextEvent<[Peer | undefined, Error & { code?: string }]>(server, 'peerError');
    const socket = tls.connect({ host: '127.0.0.1', port: tcpPort, ca: certs.ca.cert, ALPNProtocols: ['h2'] });
    const [error] = await within(once(socket, 'error') as Promise<[Error & { code?: string }]>, BOUND_MS, 'the TLS client to be refused');
    expect(error.code).toBe('ERR_SSL_TLSV1_ALERT_NO_APPLICATION_PROTOCOL');
    const [, reportedError] = await reported;
    expect(reportedError.code).toBe('HW_ERR_TLS_HANDSHAKE_FAILED');
    expect(reportedError.message).toMatch(/a client at 127\.0\.0\.1:\d+/);
  });

  it('a client that offers only TLS 1.2 to a TLS 1.3 server: HW_ERR_TLS_HANDSHAKE_FAILED at both ends', async () => {
    const { server, tcpPort } = await tlsServer();
    const reported = nextEvent<[Peer | undefined, Error & { code?: string }]>(server, 'peerError');
    const error = await refusal({ tcpPort, tls: { ca: certs.ca.cert, minVersion: 'TLSv1.2', maxVersion: 'TLSv1.2' } });
    expect(error.code).toBe('HW_ERR_TLS_HANDSHAKE_FAILED');
    expect((await reported)[1].code).toBe('HW_ERR_TLS_HANDSHAKE_FAILED');
  });
});

describe('TLS options are checked when the object is built', () => {
  it.each<[string, () => Promise<unknown>, RegExp]>([
    ['a server without key and cert', () => startServer({ tls: { ca: 'x' } }), /option tls needs key and cert/],
    ['TLS 1.1', () => startServer({ tls: { key: 'k', cert: 'c', minVersion: 'TLSv1.1' } }), /option tls.minVersion/],
    ['a key that is not PEM', () => startServer({ tls: { key: 'not a key', cert: 'not a cert' } }), /option tls: /],
    ['a pin that is not sha256/<base64>', () => startClient({ tcpPort: 1, tls: { pins: ['md5/abc'] } }), /option tls.pins/],
    ['an IP address as servername', () => startClient({ tcpPort: 1, tls: { servername: '127.0.0.1' } }), /option tls.servername/],
    ['a boolean that is not one', () => startClient({ tcpPort: 1, tls: { rejectUnauthorized: 'no' as unknown as boolean } }), /option tls.rejectUnauthorized/],
  ])('refuses %s with HW_ERR_INVALID_OPTION', async (_what, build, message) => {
    const error = await Promise.resolve()
      .then(build)
      .then(
        () => undefined,
        (caught: Error & { code?: string }) => caught,
      );
    expect(error?.code).toBe('HW_ERR_INVALID_OPTION');
    expect(error?.message).toMatch(message);
  });
});
