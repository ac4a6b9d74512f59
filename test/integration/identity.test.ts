/**
 * Client identity over real sockets: connect({ clientId }), peer.clientId, server.peerByClientId(),
 * the takeover of a session by a newer one with the same clientId (HW_ERR_SESSION_TAKEN_OVER, no
 * reconnect), the HELLO's bound on clientId, and the reserved `hybridwire:` types.
 */
import { describe, expect, it } from 'vitest';
import { FrameType } from '../../ts/codec/frame.js';
import type { Peer } from '../../ts/api/peer.js';
import { RawPeer, nextEvent } from '../support/raw-peer.js';
import { closeAfterEach, startClient, startServer } from '../support/sessions.js';
import { within } from '../support/wait.js';

closeAfterEach();

describe('clientId', () => {
  it('names the peer, which the server finds by it (or by its session id when it named none)', async () => {
    const { server, tcpPort } = await startServer({ udpPort: false });
    const client = await startClient({ tcpPort, udpPort: false, clientId: 'sensor-1' });
    const anonymous = await startClient({ tcpPort, udpPort: false });
    const peer = server.peerByClientId('sensor-1');
    expect(peer?.id).toBe(client.sessionId);
    expect(peer?.clientId).toBe('sensor-1');
    expect(server.peerByClientId(anonymous.sessionId!)?.id).toBe(anonymous.sessionId);
    expect(server.peerByClientId('nobody')).toBeUndefined();
    await client.close();
    await new Promise((resolve) => setImmediate(resolve));
    expect(server.peerByClientId('sensor-1')).toBeUndefined();
  });

  it('a second session with the same clientId takes over: the older is closed with HW_ERR_SESSION_TAKEN_OVER and does not reconnect', async () => {
    const { server, tcpPort } = await startServer({ udpPort: false });
    const older = await startClient({ tcpPort, udpPort: false, clientId: 'dup', reconnect: { initialDelayMs: 1 } });
    const olderPeer = server.peerByClientId('dup')!;
    const olderClosed = nextEvent<[Error | undefined]>(older, 'disconnect');
    const olderEnded = nextEvent(older, 'close');
    const peerClosed = nextEvent<[Error | undefined]>(olderPeer, 'close');
    const newer = await startClient({ tcpPort, udpPort: false, clientId: 'dup' });
    const [error] = await olderClosed;
    expect(error).toMatchObject({ code: 'HW_ERR_SESSION_TAKEN_OVER' });
    await within(peerClosed, 5000, "the older peer's close");
    await within(olderEnded, 5000, 'the older client to close rather than reconnect');
    expect(older.state).toBe('closed');
    expect(server.peerByClientId('dup')?.id).toBe(newer.sessionId);
    expect(server.peers.size).toBe(1);
    expect(server.stats().protocolErrors).toBe(0);
  });

  it('connect() refuses a clientId out of bounds; the server refuses one in a HELLO', async () => {
    const { tcpPort } = await startServer({ udpPort: false });
    await expect(startClient({ tcpPort, clientId: 'x'.repeat(257) })).rejects.toMatchObject({ code: 'HW_ERR_INVALID_OPTION' });
    await expect(startClient({ tcpPort, clientId: '' })).rejects.toMatchObject({ code: 'HW_ERR_INVALID_OPTION' });
    const raw = await RawPeer.connect(tcpPort);
    raw.sendJson(FrameType.HELLO, { version: '1.0.0', features: ['json'], mode: 'burst', maxPacketSize: 1 << 20, windowSize: 64, clientId: 'é'.repeat(200) });
    await raw.waitClosed();
    expect(raw.errorFrame()?.code).toBe('HW_ERR_BAD_HANDSHAKE');
  });
});

describe('reserved types', () => {
  it('cannot be handled, sent, requested or broadcast by the application', async () => {
    const { server, tcpPort } = await startServer({ udpPort: false });
    const client = await startClient({ tcpPort, udpPort: false });
    const invalid = expect.objectContaining({ code: 'HW_ERR_INVALID_ARGUMENT' });
    expect(() => server.handle('hybridwire:mine', () => {})).toThrow(invalid);
    expect(() => client.handle('hybridwire:mine', () => {})).toThrow(invalid);
    expect(() => client.send('hybridwire:mine', 1)).toThrow(invalid);
    await expect(client.sendWhenReady('hybridwire:mine', 1)).rejects.toMatchObject({ code: 'HW_ERR_INVALID_ARGUMENT' });
    await expect(client.request('hybridwire:mine', 1)).rejects.toMatchObject({ code: 'HW_ERR_INVALID_ARGUMENT' });
    expect(() => server.broadcast('hybridwire:mine', 1)).toThrow(invalid);
    const peer: Peer = server.peerByClientId(client.sessionId!)!;
    expect(() => peer.send('hybridwire:mine', 1)).toThrow(invalid);
  });
});
