/**
 * ts/api/peer.ts: a connected client as the server sees it — its names and addresses, close()
 * with a reason, its 'close' and 'drain' events, and the session facade it shares with Client,
 * reached through the Peer. Over real sockets on 127.0.0.1 (and ::1), port 0.
 */
import { describe, expect, it } from 'vitest';
import { FrameType } from '../../ts/codec/frame.js';
import type { Peer } from '../../ts/api/peer.js';
import { RawPeer, nextEvent } from '../support/raw-peer.js';
import { closeAfterEach, startClient, startServer, waitUntil } from '../support/sessions.js';
import { within } from '../support/wait.js';

closeAfterEach();

async function accepted(server: Awaited<ReturnType<typeof startServer>>['server'], connect: () => Promise<unknown>): Promise<Peer> {
  const connection = nextEvent<[Peer]>(server, 'connection');
  await connect();
  return (await connection)[0];
}

describe('Peer: who it is', () => {
  it("has the client's session id and clientId, and its TCP address as the server saw it", async () => {
    const { server, tcpPort } = await startServer({ udpPort: false });
    let client!: Awaited<ReturnType<typeof startClient>>;
    const peer = await accepted(server, async () => (client = await startClient({ tcpPort, udpPort: false, clientId: 'sensor-7' })));
    expect(peer.id).toBe(client.sessionId);
    expect(peer.clientId).toBe('sensor-7');
    expect(peer.tcpAddress).toEqual({ address: '127.0.0.1', port: client.connection!.socket.localPort, family: 'IPv4' });
    expect(server.peers.get(peer.id)).toBe(peer);
    // Without a clientId in the HELLO there is none.
    const other = await accepted(server, () => startClient({ tcpPort, udpPort: false }));
    expect(other.clientId).toBeUndefined();
    expect(other.id).not.toBe(peer.id);
  });

  it('over IPv6, its TCP address is of that family', async () => {
    const { server, tcpPort } = await startServer({ host: '::1', udpPort: false });
    let client!: Awaited<ReturnType<typeof startClient>>;
    const peer = await accepted(server, async () => (client = await startClient({ host: '::1', tcpPort, udpPort: false })));
    expect(peer.tcpAddress).toEqual({ address: '::1', port: client.connection!.socket.localPort, family: 'IPv6' });
  });

  it("has no UDP address until the client's path is validated, then the client's", async () => {
    const { server, tcpPort, udpPort } = await startServer();
    let client!: Awaited<ReturnType<typeof startClient>>;
    const peer = await accepted(server, async () => (client = await startClient({ tcpPort, udpPort })));
    await waitUntil(() => peer.udpAddress !== undefined, 'the UDP path to be validated');
    expect(peer.udpAddress).toEqual({ address: '127.0.0.1', port: expect.any(Number), family: 'IPv4' });
    expect(peer.udpAddress!.port).not.toBe(udpPort);
    // Datagrams go there: a message the peer sends over UDP reaches the client.
    const got = new Promise((resolve) => client.handle('over udp', resolve));
    peer.send('over udp', 'hello', { transport: 'udp', reliable: true });
    expect(await within(got, 5000, 'the UDP message')).toBe('hello');
  });
});

describe('Peer: closing', () => {
  it("close(reason) sends CLOSE with that reason, and the peer's 'close' follows without an error", async () => {
    const { server, tcpPort } = await startServer({ udpPort: false });
    const connection = nextEvent<[Peer]>(server, 'connection');
    const raw = await RawPeer.connect(tcpPort);
    await raw.handshake();
    const [peer] = await connection;
    const closedEvent = nextEvent<[Error | undefined]>(peer, 'close');
    const closing = peer.close('maintenance');
    const frame = await raw.waitFor(FrameType.CLOSE);
    expect(JSON.parse(frame.payload.toString())).toEqual({ code: 'HW_OK', reason: 'maintenance' });
    raw.socket.end();
    await within(closing, 5000, 'peer.close()');
    expect(await closedEvent).toEqual([undefined]);
    expect(server.peers.has(peer.id)).toBe(false);
    expect(() => peer.send('x', 1)).toThrow(expect.objectContaining({ code: 'HW_ERR_NOT_CONNECTED' }));
  });

  it("the peer's 'close' carries the error of a session closed for breaking the protocol", async () => {
    const { server, tcpPort } = await startServer({ udpPort: false });
    const connection = nextEvent<[Peer]>(server, 'connection');
    const raw = await RawPeer.connect(tcpPort);
    await raw.handshake();
    const [peer] = await connection;
    const closedEvent = nextEvent<[Error | undefined]>(peer, 'close');
    raw.sendFrame(FrameType.ACK, undefined, 9);
    const [error] = await closedEvent;
    expect(error).toMatchObject({ code: 'HW_ERR_BAD_ACK' });
    raw.destroy();
  });
});

describe("Peer: the session's facade", () => {
  it('sends to this client only, requests its handlers, and knows the negotiated features', async () => {
    const { server, tcpPort } = await startServer({ udpPort: false });
    let first!: Awaited<ReturnType<typeof startClient>>;
    const peer = await accepted(server, async () => (first = await startClient({ tcpPort, udpPort: false })));
    const second = await startClient({ tcpPort, udpPort: false });
    const atFirst: unknown[] = [];
    const atSecond: unknown[] = [];
    first.handle('note', (value) => void atFirst.push(value));
    second.handle('note', (value) => void atSecond.push(value));
    first.handle('sum', (numbers: number[]) => numbers.reduce((a, b) => a + b, 0));
    expect(peer.send('note', 'for the first')).toBe(true);
    expect(await peer.request('sum', [1, 2, 3], { timeoutMs: 5000 })).toBe(6);
    // The reply came after the note: the note has arrived.
    expect(atFirst).toEqual(['for the first']);
    expect(atSecond).toEqual([]);
    expect(peer.supportsFeature('request')).toBe(true);
    expect(peer.supportsFeature('no such feature')).toBe(false);
    expect(peer.stats.tcp.messagesOut).toBe(2);
    expect(peer.stats.tcp.messagesIn).toBe(1);
    expect(peer.udpStats()).toBeUndefined();
  });

  it('measures the round trip once the heartbeat has had an answer', async () => {
    const { server, tcpPort } = await startServer({ udpPort: false, heartbeatIntervalMs: 20, heartbeatTimeoutMs: 2000 });
    const peer = await accepted(server, () => startClient({ tcpPort, udpPort: false }));
    expect(peer.rttMs).toBeUndefined();
    await waitUntil(() => peer.rttMs !== undefined, 'an RTT sample');
    expect(Number.isFinite(peer.rttMs) && peer.rttMs! >= 0).toBe(true);
    expect(peer.stats.rttMs).toBe(peer.rttMs);
  });

  it("returns false from send() past the server's highWaterMark, then emits 'drain'", async () => {
    const { server, tcpPort } = await startServer({ udpPort: false, highWaterMark: 32 * 1024, windowSize: 4 });
    let client!: Awaited<ReturnType<typeof startClient>>;
    const peer = await accepted(server, async () => (client = await startClient({ tcpPort, udpPort: false })));
    let received = 0;
    client.handle('blob', () => void received++);
    const blob = Buffer.alloc(8 * 1024);
    let sent = 0;
    while (peer.send('blob', blob)) sent++;
    sent++;
    expect(peer.queuedBytes).toBeGreaterThanOrEqual(32 * 1024);
    await nextEvent(peer, 'drain');
    expect(peer.queuedBytes).toBeLessThan(32 * 1024);
    await waitUntil(() => received === sent, 'every blob to arrive');
  });
});
