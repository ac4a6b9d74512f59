/**
 * Authentication over real sockets (issue 14 point 4): connect({ auth }) carries credentials in
 * HELLO, the server's authenticate(hello, info) admits or refuses, a refused connect() rejects with
 * HW_ERR_AUTH_REFUSED and the reason, refusals are counted, an address that keeps failing is
 * refused for a while, and over TLS the credentials never cross the network in the clear.
 */
import net from 'node:net';
import { beforeAll, describe, expect, it } from 'vitest';
import type { AuthenticateInfo, Hello, Peer } from '../../ts/index.js';
import { testCertificates, type TestCertificates } from '../support/certificates.js';
import { nextEvent } from '../support/raw-peer.js';
import { closeAfterEach, startClient, startServer } from '../support/sessions.js';
import { within } from '../support/wait.js';

closeAfterEach();
let certs: TestCertificates;
beforeAll(async () => {
  certs = await testCertificates();
});

type Failure = Error & { code?: string };

async function refused(options: Parameters<typeof startClient>[0]): Promise<Failure> {
  const attempt = startClient(options).then(
    () => {
      throw new Error('connect() resolved; it should have been refused');
    },
    (error: Failure) => error,
  );
  return within(attempt, 3000, 'connect() to be refused');
}

/** An authenticate that admits { user: 'ada', token: 'right' } and records what it was asked. */
function tokenCheck() {
  const calls: Array<[Hello, AuthenticateInfo]> = [];
  const authenticate = (hello: Hello, info: AuthenticateInfo) => {
    calls.push([hello, info]);
    const auth = hello.auth as { user?: unknown; token?: unknown } | undefined;
    if (auth?.token === 'right') return true;
    return auth === undefined ? false : `bad token for ${String(auth.user)}`;
  };
  return { calls, authenticate };
}

/** A TCP relay between a client and a server that keeps every byte the client sends. */
async function recordingRelay(targetPort: number): Promise<{ port: number; sent: Buffer[]; close(): void }> {
  const sent: Buffer[] = [];
  const sockets = new Set<net.Socket>();
  const relay = net.createServer((inbound) => {
    const outbound = net.connect(targetPort, '127.0.0.1');
    for (const socket of [inbound, outbound]) {
      sockets.add(socket);
      socket.on('error', () => {});
    }
    inbound.on('data', (chunk) => sent.push(chunk));
    inbound.pipe(outbound).pipe(inbound);
  });
  await new Promise<void>((resolve) => relay.listen(0, '127.0.0.1', resolve));
  return {
    port: (relay.address() as net.AddressInfo).port,
    sent,
    close: () => {
      for (const socket of sockets) socket.destroy();
      relay.close();
    },
  };
}

describe('authentication', () => {
  it('admits a client whose auth authenticate accepts, and tells it the address, port and certificate', async () => {
    const { calls, authenticate } = tokenCheck();
    const { server, tcpPort } = await startServer({ udpPort: false, authenticate });
    const client = await startClient({ tcpPort, auth: { user: 'ada', token: 'right' } });
    expect(await client.request('ping')).toBe('pong');
    expect(calls).toHaveLength(1);
    const [hello, info] = calls[0]!;
    expect(hello.auth).toEqual({ user: 'ada', token: 'right' });
    expect(info).toEqual({ address: '127.0.0.1', port: (client.connection!.socket as net.Socket).localPort, certificate: undefined });
    expect(server.stats().authRefused).toBe(0);
  });

  it('passes the verified client certificate under mutual TLS', async () => {
    const { calls, authenticate } = tokenCheck();
    const { server, tcpPort } = await startServer({
      udpPort: false,
      authenticate: (hello, info) => info.certificate?.subject.CN === 'test client' && authenticate(hello, info),
      tls: { key: certs.server.key, cert: certs.server.cert, ca: certs.ca.cert, requestCert: true },
    });
    const connected = nextEvent<[Peer]>(server, 'connection');
    await startClient({ tcpPort, auth: { token: 'right' }, tls: { ca: certs.ca.cert, cert: certs.client.cert, key: certs.client.key } });
    const [peer] = await connected;
    expect(calls[0]![1].certificate).toEqual(peer.certificate);
  });

  it('refuses a client whose auth it rejects: HW_ERR_AUTH_REFUSED with the reason, counted, no session', async () => {
    const { authenticate } = tokenCheck();
    const { server, tcpPort } = await startServer({ udpPort: false, authenticate });
    let sessions = 0;
    server.on('connection', () => sessions++);
    const wrong = await refused({ tcpPort, auth: { user: 'eve', token: 'guess' } });
    expect(wrong.code).toBe('HW_ERR_AUTH_REFUSED');
    expect(wrong.message).toContain('bad token for eve');
    const none = await refused({ tcpPort });
    expect(none.code).toBe('HW_ERR_AUTH_REFUSED');
    expect(none.message).toContain('authentication failed');
    expect(server.stats()).toMatchObject({ authRefused: 2, authBlocked: 0, refusedConnections: 2, connectedClients: 0 });
    expect(sessions).toBe(0);
  });

  it('waits for an asynchronous authenticate', async () => {
    const { tcpPort } = await startServer({ udpPort: false, authenticate: async (hello) => (await Promise.resolve(hello.auth)) === 'open sesame' || 'no' });
    const client = await startClient({ tcpPort, auth: 'open sesame' });
    expect(await client.request('ping')).toBe('pong');
    expect((await refused({ tcpPort, auth: 'open barley' })).code).toBe('HW_ERR_AUTH_REFUSED');
  });

  it('an authenticate that throws refuses the client and reports the failure as a peerError', async () => {
    const { server, tcpPort } = await startServer({
      udpPort: false,
      authenticate: () => {
        throw new Error('user database unreachable');
      },
    });
    const reported = nextEvent<[Peer | undefined, Failure]>(server, 'peerError');
    expect((await refused({ tcpPort, auth: 'x' })).code).toBe('HW_ERR_AUTH_REFUSED');
    const [peer, error] = await reported;
    expect(peer).toBeUndefined();
    expect(error.code).toBe('HW_ERR_HANDLER_FAILED');
    expect(error.message).toContain('user database unreachable');
  });

  it('an authenticate that never answers: the client gets HW_ERR_HANDSHAKE_TIMEOUT, not a hang', async () => {
    const { tcpPort } = await startServer({ udpPort: false, handshakeTimeoutMs: 200, authenticate: () => new Promise<boolean>(() => {}) });
    expect((await refused({ tcpPort, auth: 'x' })).code).toBe('HW_ERR_HANDSHAKE_TIMEOUT');
  });

  it('refuses an address after authFailureLimit failures, even with the right credentials, without asking authenticate', async () => {
    const { calls, authenticate } = tokenCheck();
    const { server, tcpPort } = await startServer({ udpPort: false, authenticate, authFailureLimit: 3, authBlockMs: 60_000 });
    for (let i = 0; i < 3; i++) expect((await refused({ tcpPort, auth: { user: 'eve', token: `guess ${i}` } })).code).toBe('HW_ERR_AUTH_REFUSED');
    const blocked = await refused({ tcpPort, auth: { user: 'ada', token: 'right' } });
    expect(blocked.code).toBe('HW_ERR_AUTH_REFUSED');
    expect(blocked.message).toMatch(/too many failed authentications from this address/);
    expect(calls).toHaveLength(3);
    expect(server.stats()).toMatchObject({ authRefused: 4, authBlocked: 1 });
  });

  it('sends the credentials again when it reconnects', async () => {
    const { calls, authenticate } = tokenCheck();
    const { server, tcpPort } = await startServer({ udpPort: false, authenticate });
    const client = await startClient({ tcpPort, auth: { user: 'ada', token: 'right' }, reconnect: { initialDelayMs: 10 } });
    const reconnected = nextEvent(client, 'reconnect');
    server.peers.get(client.sessionId!)!.connection.destroy();
    await reconnected;
    expect(calls.map(([hello]) => hello.auth)).toEqual([
      { user: 'ada', token: 'right' },
      { user: 'ada', token: 'right' },
    ]);
  });

  it('over TLS the credentials never cross the network in the clear; without TLS they do', async () => {
    const secret = 'correct-horse-battery-staple';
    for (const encrypted of [false, true]) {
      const { authenticate } = tokenCheck();
      const { tcpPort } = await startServer({ udpPort: false, authenticate, ...(encrypted ? { tls: { key: certs.server.key, cert: certs.server.cert } } : {}) });
      const relay = await recordingRelay(tcpPort);
      try {
        const client = await startClient({ tcpPort: relay.port, auth: { user: secret, token: 'right' }, ...(encrypted ? { tls: { ca: certs.ca.cert } } : {}) });
        expect(await client.request('echo', secret)).toBe(secret);
        await client.close();
        expect(Buffer.concat(relay.sent).includes(secret)).toBe(!encrypted);
      } finally {
        relay.close();
      }
    }
  });

  it('requireEncryption: true on a server without TLS refuses every session with HW_ERR_ENCRYPTION_REQUIRED; false lets plaintext into a TLS server', async () => {
    const strict = await startServer({ udpPort: false, requireEncryption: true });
    expect((await refused({ tcpPort: strict.tcpPort })).code).toBe('HW_ERR_ENCRYPTION_REQUIRED');
    const lenient = await startServer({ udpPort: false, requireEncryption: false, tls: { key: certs.server.key, cert: certs.server.cert } });
    const plain = await startClient({ tcpPort: lenient.tcpPort });
    const secure = await startClient({ tcpPort: lenient.tcpPort, tls: { ca: certs.ca.cert } });
    expect([plain.encrypted, secure.encrypted]).toEqual([false, true]);
    expect(await plain.request('ping')).toBe('pong');
    expect(await secure.request('ping')).toBe('pong');
  });

  it('refuses auth that is not JSON or too large when the client is built', async () => {
    const tooLarge = await refused({ tcpPort: 1, auth: 'x'.repeat(5000) });
    expect(tooLarge.code).toBe('HW_ERR_INVALID_OPTION');
    expect(tooLarge.message).toMatch(/option auth encodes to 5002 bytes; at most 4096/);
    const circular: Record<string, unknown> = {};
    circular.self = circular;
    expect((await refused({ tcpPort: 1, auth: circular as never })).code).toBe('HW_ERR_INVALID_OPTION');
  });
});
