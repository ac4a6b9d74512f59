/**
 * Issue 11, point 4: maxConnections must hold under concurrency (a session counts from the moment
 * its HELLO is accepted, not from HELLO_DONE), and maxPendingHandshakes bounds the connections
 * accepted but not yet past the handshake.
 */
import { describe, expect, it } from 'vitest';
import { FrameType, PROTOCOL_SEMVER, type Client, type Server } from '../../ts/index.js';
import { cleanupAfterEach, client, createHardenedServer, rawPeer, startServer } from '../support/abuse.js';
import { testCertificates } from '../support/certificates.js';
import { connect } from '../../ts/index.js';
import type { RawPeer } from '../support/raw-peer.js';
import { waitUntil } from '../support/wait.js';

const defer = cleanupAfterEach();

const HELLO = { version: PROTOCOL_SEMVER, features: ['json'], mode: 'burst', maxPacketSize: 1 << 20, windowSize: 64 };

/** Counts the sessions the server has opened. */
function countConnections(server: Server): { count: number } {
  const opened = { count: 0 };
  server.on('connection', () => opened.count++);
  return opened;
}

describe('maxConnections under concurrency', () => {
  it('60 raw HELLOs sent at once yield at most 20 sessions; the others are refused with HW_ERR_SERVER_FULL', async () => {
    const { server, tcpPort } = await startServer(defer, { maxConnections: 20, udpPort: false });
    const opened = countConnections(server);
    const peers: RawPeer[] = [];
    for (let i = 0; i < 60; i++) peers.push(await rawPeer(defer, tcpPort));
    // Every HELLO in the same turn of the event loop, so that they reach the server together.
    for (const peer of peers) peer.sendJson(FrameType.HELLO, HELLO);
    const acks = await Promise.all(peers.map(async (peer) => JSON.parse((await peer.waitFor(FrameType.HELLO_ACK)).payload.toString()) as Record<string, unknown>));
    const accepted = acks.filter((ack) => ack.accepted === true);
    const refused = acks.filter((ack) => ack.accepted !== true);
    expect(accepted.length, `${accepted.length} of 60 HELLOs accepted`).toBe(20);
    expect(refused.map((ack) => ack.code)).toEqual(Array(40).fill('HW_ERR_SERVER_FULL'));
    // The accepted ones complete their handshakes: all of them become sessions, and no more.
    peers.forEach((peer, i) => {
      if (acks[i]!.accepted === true) peer.sendJson(FrameType.HELLO_DONE, { sessionId: acks[i]!.sessionId });
    });
    await waitUntil(() => opened.count >= accepted.length, 3000, () => `${accepted.length} sessions to open (${opened.count} so far)`);
    expect(server.stats().connectedClients).toBe(20);
    expect(server.stats().refusedConnections).toBe(40);
  });

  it('60 concurrent connect() calls yield at most 20 clients; the others fail with HW_ERR_SERVER_FULL', async () => {
    const { server, tcpPort } = await startServer(defer, { maxConnections: 20 });
    const attempts = await Promise.allSettled(Array.from({ length: 60 }, () => connect({ host: '127.0.0.1', tcpPort, udpPort: false })));
    const clients = attempts.filter((a): a is PromiseFulfilledResult<Client> => a.status === 'fulfilled').map((a) => a.value);
    for (const c of clients) defer(() => c.close());
    const failures = attempts.filter((a): a is PromiseRejectedResult => a.status === 'rejected').map((a) => (a.reason as { code?: string }).code);
    expect(clients.length, `${clients.length} of 60 connect() calls succeeded`).toBeLessThanOrEqual(20);
    expect(failures).toEqual(Array(60 - clients.length).fill('HW_ERR_SERVER_FULL'));
    expect(server.stats().connectedClients).toBe(clients.length);
    // And a connection freed is a connection available again.
    expect(clients.length).toBeGreaterThan(0);
    await clients[0]!.close();
    await waitUntil(() => server.stats().connectedClients === clients.length - 1, 3000, 'the closed client to leave');
    const again = await connect({ host: '127.0.0.1', tcpPort, udpPort: false });
    defer(() => again.close());
    expect(await again.request('ping')).toBe('pong');
  });
});

describe('maxPendingHandshakes', () => {
  it('is validated: 1..1,000,000', () => {
    for (const value of [0, 1_000_001, 1.5, '8']) {
      expect(() => createHardenedServer({ maxPendingHandshakes: value as number }), `maxPendingHandshakes: ${JSON.stringify(value)}`).toThrow(expect.objectContaining({ code: 'HW_ERR_INVALID_OPTION', message: expect.stringContaining('maxPendingHandshakes') }));
    }
    expect(() => createHardenedServer({ maxPendingHandshakes: 1 })).not.toThrow();
    expect(() => createHardenedServer({ maxPendingHandshakes: 1_000_000 })).not.toThrow();
  });

  it('connections past the bound that have not finished their handshake are closed at once and counted; those within it still complete', async () => {
    const { server, tcpPort } = await startServer(defer, { maxPendingHandshakes: 5, handshakeTimeoutMs: 30_000, udpPort: false });
    const peers: RawPeer[] = [];
    for (let i = 0; i < 10; i++) peers.push(await rawPeer(defer, tcpPort));
    // Long before the handshake timeout, the five over the bound are gone.
    await waitUntil(() => peers.filter((peer) => peer.closed).length >= 5, 3000, () => `5 connections to be closed (${peers.filter((peer) => peer.closed).length} so far)`);
    const open = peers.filter((peer) => !peer.closed);
    expect(open).toHaveLength(5);
    expect(server.stats().refusedConnections).toBe(5);
    for (const peer of open) expect(await peer.handshake()).toMatchObject({ accepted: true });
    await waitUntil(() => server.stats().connectedClients === 5, 3000, 'the 5 sessions');
  });

  it('a connection past the bound is turned away while earlier ones sit mid-handshake (HELLO sent, HELLO_DONE withheld)', async () => {
    const { server, tcpPort } = await startServer(defer, { maxPendingHandshakes: 3, handshakeTimeoutMs: 30_000, udpPort: false });
    const stalled: RawPeer[] = [];
    for (let i = 0; i < 3; i++) {
      const peer = await rawPeer(defer, tcpPort);
      peer.sendJson(FrameType.HELLO, HELLO);
      await peer.waitFor(FrameType.HELLO_ACK);
      stalled.push(peer);
    }
    const late = await rawPeer(defer, tcpPort);
    await late.waitClosed(3000);
    expect(server.stats().refusedConnections).toBe(1);
    expect(stalled.every((peer) => !peer.closed)).toBe(true);
  });

  it('counts a TLS connection from its accept: one past the bound is turned away while others stall before or inside their TLS handshake', async () => {
    const certs = await testCertificates();
    const { server, tcpPort } = await startServer(defer, { maxPendingHandshakes: 4, handshakeTimeoutMs: 30_000, udpPort: false, tls: { key: certs.server.key, cert: certs.server.cert } });
    const stalled: RawPeer[] = [];
    // One that never sends its first byte, then ones whose ClientHello record stops after its header.
    stalled.push(await rawPeer(defer, tcpPort));
    const stallInTls = async () => {
      const peer = await rawPeer(defer, tcpPort);
      peer.socket.write(Buffer.from([0x16, 0x03, 0x01, 0x02, 0x00]));
      stalled.push(peer);
    };
    await stallInTls();
    await stallInTls();
    // Within the bound, a TLS client still gets its session (and then no longer counts).
    const tlsClient = await client(defer, { tcpPort, tls: { ca: certs.ca.cert } });
    expect(await tlsClient.request('ping')).toBe('pong');
    await stallInTls();
    const late = await rawPeer(defer, tcpPort);
    await late.waitClosed(3000);
    expect(server.stats().refusedConnections).toBe(1);
    expect(stalled.filter((peer) => peer.closed)).toHaveLength(0);
  });
});
