import net, { type AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { FrameType } from '../../ts/codec/frame.js';
import { HandlerTable } from '../../ts/api/handler-table.js';
import { resolveLimits } from '../../ts/api/limits.js';
import type { Peer } from '../../ts/api/peer.js';
import { ServerHandshake, type HandshakeHost } from '../../ts/api/server-handshake.js';
import { Connection } from '../../ts/session/connection.js';
import type { Hello, HelloAccepted, HelloRefused } from '../../ts/session/handshake.js';
import type { SessionOrigin } from '../../ts/api/admission.js';
import { RawPeer, nextEvent } from '../support/raw-peer.js';
import { waitUntil } from '../support/wait.js';

const ADDRESS = { address: '127.0.0.1', port: 1, family: 'IPv4' };
const open: Array<{ close(): void }> = [];
afterEach(() => {
  for (const item of open.splice(0)) item.close();
});

/** Records what the handshake asks of its server; `asHost()` is the HandshakeHost it is given. */
class Host {
  readonly maxConnections: number;
  readonly handshakeTimeoutMs: number;
  readonly heartbeatIntervalMs = 1000;
  readonly heartbeatTimeoutMs = 3000;
  sessionCount = 0;
  refusals = 0;
  readonly acceptances: Array<[Peer, HelloAccepted, Buffer]> = [];
  readonly openings: Peer[] = [];
  /** What admit() answers; each call is recorded with what it was given. */
  admission: (hello: Hello, origin: SessionOrigin) => HelloRefused | undefined | Promise<HelloRefused | undefined> = () => undefined;
  readonly admitted: Array<[Hello, SessionOrigin]> = [];

  constructor(options: { maxConnections?: number; handshakeTimeoutMs?: number } = {}) {
    this.maxConnections = options.maxConnections ?? 10;
    this.handshakeTimeoutMs = options.handshakeTimeoutMs ?? 5000;
  }

  asHost(): HandshakeHost {
    const host = this;
    return {
      maxConnections: this.maxConnections,
      handshakeTimeoutMs: this.handshakeTimeoutMs,
      heartbeatIntervalMs: this.heartbeatIntervalMs,
      heartbeatTimeoutMs: this.heartbeatTimeoutMs,
      get sessionCount() {
        return host.sessionCount;
      },
      handshakeLimits: () => ({ maxPacketSize: 1 << 20, windowSize: 32, heartbeatIntervalMs: 1000, heartbeatTimeoutMs: 3000, udpPort: 0, udp: { mtu: 1200, window: 8, reassemblyBytes: 4096 } }),
      newToken: () => Buffer.from('0011223344556677', 'hex'),
      admit: (hello, origin) => {
        this.admitted.push([hello, origin]);
        return this.admission(hello, origin);
      },
      refused: () => {
        this.refusals++;
      },
      accepted: (peer, answer, token) => {
        this.acceptances.push([peer, answer, token]);
      },
      opened: (peer) => {
        this.openings.push(peer);
      },
    };
  }
}

/** A ServerHandshake on the server end of a loopback connection, and a raw client on the other. */
async function handshakePair(host: Host) {
  const listener = net.createServer();
  await new Promise<void>((resolve) => listener.listen(0, '127.0.0.1', resolve));
  open.push(listener);
  const accepted = nextEvent<[net.Socket]>(listener, 'connection');
  const client = await RawPeer.connect((listener.address() as AddressInfo).port);
  open.push({ close: () => client.destroy() });
  const [socket] = await accepted;
  const connection = new Connection(socket, new HandlerTable(), undefined, resolveLimits({}));
  open.push({ close: () => connection.destroy() });
  const handshake = new ServerHandshake(connection, host.asHost(), ADDRESS);
  connection.on('close', () => handshake.end());
  return { client, connection, handshake };
}

describe('ServerHandshake', () => {
  it('answers HELLO with the session and its token, and opens the session on HELLO_DONE', async () => {
    const host = new Host();
    const { client, connection, handshake } = await handshakePair(host);
    const ack = await client.handshake({ clientId: 'me' });
    expect(ack).toMatchObject({ accepted: true, token: '0011223344556677', windowSize: 32 });
    expect(handshake.peer).toMatchObject({ id: ack.sessionId, clientId: 'me', tcpAddress: ADDRESS });
    expect(host.acceptances.map(([peer, answer]) => [peer, answer.sessionId])).toEqual([[handshake.peer, ack.sessionId]]);
    // The ACK that tells the client its session is open.
    await client.waitFor(FrameType.ACK);
    expect(host.openings).toEqual([handshake.peer]);
    expect(connection.state).toBe('open');
    expect(connection.context).toBe(handshake.peer);
  });

  it('refuses a HELLO past maxConnections with HW_ERR_SERVER_FULL, and counts it', async () => {
    const host = new Host({ maxConnections: 1 });
    host.sessionCount = 1;
    const { client, handshake } = await handshakePair(host);
    expect(await client.handshake()).toMatchObject({ accepted: false, code: 'HW_ERR_SERVER_FULL' });
    await client.waitClosed();
    expect(host.refusals).toBe(1);
    expect(handshake.peer).toBeUndefined();
  });

  it('refuses another major version, and counts it', async () => {
    const host = new Host();
    const { client } = await handshakePair(host);
    expect(await client.handshake({ version: '2.0.0' })).toMatchObject({ accepted: false, code: 'HW_ERR_VERSION_MISMATCH' });
    await client.waitClosed();
    expect(host.refusals).toBe(1);
  });

  it.each([
    ['a HELLO_DONE naming another session', 'HW_ERR_BAD_HANDSHAKE', (client: RawPeer) => client.sendJson(FrameType.HELLO_DONE, { sessionId: 'another' })],
    ['a second HELLO', 'HW_ERR_HANDSHAKE_ORDER', (client: RawPeer) => client.sendJson(FrameType.HELLO, { version: '1.0.0' })],
  ])('closes the connection with an ERROR on %s', async (_what, code, misbehave) => {
    const host = new Host();
    const { client } = await handshakePair(host);
    client.sendJson(FrameType.HELLO, { version: '1.0.0', features: [], mode: 'burst', maxPacketSize: 4096, windowSize: 4 });
    await client.waitFor(FrameType.HELLO_ACK);
    misbehave(client);
    await client.waitFor(FrameType.ERROR);
    expect(client.errorFrame()?.code).toBe(code);
    await client.waitClosed();
    expect(host.openings).toEqual([]);
  });

  it('asks admit() with the HELLO and where it came from, and sends its refusal as the HELLO_ACK', async () => {
    const host = new Host();
    host.admission = () => ({ accepted: false, version: '1.0.0', code: 'HW_ERR_AUTH_REFUSED', reason: 'who are you?' });
    const { client, handshake } = await handshakePair(host);
    expect(await client.handshake({ auth: { user: 'u' } })).toMatchObject({ accepted: false, code: 'HW_ERR_AUTH_REFUSED', reason: 'who are you?' });
    await client.waitClosed();
    expect(host.admitted).toEqual([[expect.objectContaining({ auth: { user: 'u' } }), { address: '127.0.0.1', port: 1, certificate: undefined, encrypted: false }]]);
    expect(host.refusals).toBe(1);
    expect(handshake.peer).toBeUndefined();
  });

  it('does not ask admit() about a HELLO of another major version', async () => {
    const host = new Host();
    const { client } = await handshakePair(host);
    expect(await client.handshake({ version: '2.0.0' })).toMatchObject({ code: 'HW_ERR_VERSION_MISMATCH' });
    expect(host.admitted).toEqual([]);
  });

  it('while admit() decides: a second HELLO is HW_ERR_HANDSHAKE_ORDER', async () => {
    const host = new Host();
    host.admission = () => new Promise(() => {});
    const { client } = await handshakePair(host);
    client.sendJson(FrameType.HELLO, { version: '1.0.0', features: [], mode: 'burst', maxPacketSize: 4096, windowSize: 4 });
    client.sendJson(FrameType.HELLO, { version: '1.0.0', features: [], mode: 'burst', maxPacketSize: 4096, windowSize: 4 });
    await client.waitFor(FrameType.ERROR);
    expect(client.errorFrame()?.code).toBe('HW_ERR_HANDSHAKE_ORDER');
    await client.waitClosed();
    expect(host.admitted).toHaveLength(1);
  });

  it('counts the sessions again once an asynchronous admit() says yes: the server may have filled meanwhile', async () => {
    const host = new Host({ maxConnections: 1 });
    let admit!: () => void;
    host.admission = () => new Promise((resolve) => (admit = () => resolve(undefined)));
    const { client } = await handshakePair(host);
    const ack = client.handshake();
    await waitUntil(() => host.admitted.length === 1, 2000, 'admit() to be asked');
    host.sessionCount = 1;
    admit();
    expect(await ack).toMatchObject({ accepted: false, code: 'HW_ERR_SERVER_FULL' });
    expect(host.acceptances).toEqual([]);
  });

  it('an asynchronous admit() that outlives handshakeTimeoutMs: HW_ERR_HANDSHAKE_TIMEOUT, and its late verdict changes nothing', async () => {
    const host = new Host({ handshakeTimeoutMs: 50 });
    let admit!: () => void;
    host.admission = () => new Promise((resolve) => (admit = () => resolve(undefined)));
    const { client, connection } = await handshakePair(host);
    client.sendJson(FrameType.HELLO, { version: '1.0.0', features: [], mode: 'burst', maxPacketSize: 4096, windowSize: 4 });
    await client.waitFor(FrameType.ERROR);
    expect(client.errorFrame()?.code).toBe('HW_ERR_HANDSHAKE_TIMEOUT');
    await client.waitClosed();
    if (connection.state !== 'closed') await nextEvent(connection, 'close');
    admit();
    // The verdict's reactions run in microtasks, all done before the next turn.
    await new Promise((resolve) => setImmediate(resolve));
    expect(host.acceptances).toEqual([]);
    expect(client.frames.some((frame) => frame.type === FrameType.HELLO_ACK)).toBe(false);
  });

  it('closes a connection that does not complete the handshake within handshakeTimeoutMs', async () => {
    const host = new Host({ handshakeTimeoutMs: 30 });
    const { client } = await handshakePair(host);
    await client.waitFor(FrameType.ERROR);
    expect(client.errorFrame()?.code).toBe('HW_ERR_HANDSHAKE_TIMEOUT');
    await client.waitClosed();
  });
});
