/**
 * How a TLS server's connections begin (ts/transport/stream.ts): one port for TLS and plaintext,
 * told apart by the first byte, and every connection that does not get as far as the handshake
 * bounded in time.
 */
import net from 'node:net';
import { beforeAll, describe, expect, it } from 'vitest';
import { FrameType } from '../../ts/index.js';
import type { Peer } from '../../ts/index.js';
import { testCertificates, type TestCertificates } from '../support/certificates.js';
import { RawPeer, nextEvent } from '../support/raw-peer.js';
import { closeAfterEach, startClient, startServer } from '../support/sessions.js';
import { within } from '../support/wait.js';

closeAfterEach();
let certs: TestCertificates;
beforeAll(async () => {
  certs = await testCertificates();
});

function tlsServer(options: Record<string, unknown> = {}) {
  return startServer({ udpPort: false, ...options, tls: { key: certs.server.key, cert: certs.server.cert } });
}

/** A relay to the server that forwards what the client sends one byte per write, each after the last was flushed. */
async function tricklingRelay(targetPort: number): Promise<{ port: number; close(): void }> {
  const sockets = new Set<net.Socket>();
  const relay = net.createServer((inbound) => {
    const outbound = net.connect({ port: targetPort, host: '127.0.0.1', noDelay: true });
    for (const socket of [inbound, outbound]) {
      sockets.add(socket);
      socket.on('error', () => {});
    }
    outbound.pipe(inbound);
    let queue = Promise.resolve();
    inbound.on('data', (chunk: Buffer) => {
      for (const byte of chunk) queue = queue.then(() => new Promise<void>((resolve) => outbound.write(Buffer.of(byte), () => resolve())));
    });
  });
  await new Promise<void>((resolve) => relay.listen(0, '127.0.0.1', resolve));
  return {
    port: (relay.address() as net.AddressInfo).port,
    close: () => {
      for (const socket of sockets) socket.destroy();
      relay.close();
    },
  };
}

describe('a TLS server reads the first byte of each connection', () => {
  it('takes a TLS ClientHello that arrives one byte at a time', async () => {
    const { tcpPort } = await tlsServer();
    const relay = await tricklingRelay(tcpPort);
    try {
      const client = await startClient({ tcpPort: relay.port, tls: { ca: certs.ca.cert }, connectTimeoutMs: 10_000 });
      expect(client.encrypted).toBe(true);
      expect(await client.request('echo', 'slowly')).toBe('slowly');
    } finally {
      relay.close();
    }
  });

  it('takes a plaintext HELLO that arrives one byte at a time (with requireEncryption: false)', async () => {
    const { tcpPort } = await tlsServer({ requireEncryption: false });
    const relay = await tricklingRelay(tcpPort);
    try {
      const client = await startClient({ tcpPort: relay.port, connectTimeoutMs: 10_000 });
      expect(client.encrypted).toBe(false);
      expect(await client.request('echo', 'slowly')).toBe('slowly');
    } finally {
      relay.close();
    }
  });

  it('answers bytes that are neither TLS nor a frame as a plaintext server does: ERROR HW_ERR_BAD_VERSION', async () => {
    const { tcpPort } = await tlsServer();
    const peer = await RawPeer.connect(tcpPort);
    peer.socket.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n');
    await peer.waitFor(FrameType.ERROR);
    expect(peer.errorFrame()?.code).toBe('HW_ERR_BAD_VERSION');
    await peer.waitClosed();
  });
});

describe('connections that never get to the handshake are bounded', () => {
  it('one that sends nothing is closed after handshakeTimeoutMs, reported as HW_ERR_HANDSHAKE_TIMEOUT', async () => {
    const { server, tcpPort } = await tlsServer({ handshakeTimeoutMs: 150 });
    const reported = nextEvent<[Peer | undefined, Error & { code?: string }]>(server, 'peerError');
    const peer = await RawPeer.connect(tcpPort);
    await within(peer.closedPromise, 3000, 'the silent connection to be closed');
    expect((await reported)[1].code).toBe('HW_ERR_HANDSHAKE_TIMEOUT');
    expect(server.stats().tlsFailures).toBe(1);
  });

  it('one that starts a TLS record and stops is closed after handshakeTimeoutMs', async () => {
    const { server, tcpPort } = await tlsServer({ handshakeTimeoutMs: 150 });
    const reported = nextEvent<[Peer | undefined, Error & { code?: string }]>(server, 'peerError');
    const peer = await RawPeer.connect(tcpPort);
    peer.socket.write(Buffer.of(22, 3, 1));
    await within(peer.closedPromise, 3000, 'the stalled TLS connection to be closed');
    expect((await reported)[1].code).toBe('HW_ERR_HANDSHAKE_TIMEOUT');
  });

  it('server.close() ends connections that have not started their handshake', async () => {
    const { server, tcpPort } = await tlsServer({ handshakeTimeoutMs: 60_000 });
    const silent = await RawPeer.connect(tcpPort);
    const started = await RawPeer.connect(tcpPort);
    started.socket.write(Buffer.of(22, 3, 1));
    // The server has taken both connections once a session can be opened after them.
    const client = await startClient({ tcpPort, tls: { ca: certs.ca.cert } });
    await client.close();
    await within(server.close(), 3000, 'server.close()');
    await within(Promise.all([silent.closedPromise, started.closedPromise]), 3000, 'both connections to be closed');
  });
});
