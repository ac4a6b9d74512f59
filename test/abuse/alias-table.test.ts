/**
 * Issue 11, point 8: the alias table. Each TYPE_DEF binds up to 255 bytes of type name for the
 * session's lifetime; maxAliasBytes (default 65536, 256..2**30) bounds the bytes of names one
 * peer may bind. Past it: ERROR HW_ERR_BAD_MESSAGE and close.
 */
import { describe, expect, it } from 'vitest';
import { FrameType, type Peer } from '../../ts/index.js';
import { cleanupAfterEach, client, createHardenedServer, rawSession, startServer } from '../support/abuse.js';
import type { RawPeer } from '../support/raw-peer.js';
import { within } from '../support/wait.js';
import { Encoding, Kind, message, messagesOf, typeDef } from '../support/wire.js';

const defer = cleanupAfterEach();

/** A 255-byte type name, distinct per index. */
function longName(index: number): string {
  return `${index}:`.padEnd(255, 'x');
}

/** Defines aliases 1..names.length, one TYPE_DEF each (sequences 0..n-1), in one write. */
function define(peer: RawPeer, names: readonly string[]): void {
  const frames = names.map((name, i) => ({ type: FrameType.TYPE_DEF, sequence: i, payload: typeDef(i + 1, name) }));
  for (const buffer of peer.encoder.encode(frames)) peer.socket.write(buffer);
}

describe('maxAliasBytes', () => {
  it('below the bound, aliases work: a request on one is answered and the session stays', async () => {
    const { tcpPort } = await startServer(defer, { maxAliasBytes: 1024 });
    const { peer } = await rawSession(defer, tcpPort, { windowSize: 1024 });
    // 3 × 255 + 4 = 769 bytes of names.
    const names = [longName(1), longName(2), longName(3), 'echo'];
    define(peer, names);
    peer.sendFrame(FrameType.MESSAGE, message({ alias: 4, encoding: Encoding.JSON, kind: Kind.REQUEST, requestId: 1, body: '"hi"' }), names.length);
    await peer.waitUntil(() => peer.frames.some((frame) => frame.type === FrameType.MESSAGE && messagesOf(frame).some((m) => m.kind === Kind.RESPONSE && m.requestId === 1)), 2000, 'the echo reply');
    expect(peer.errorFrame()).toBeUndefined();
    expect(peer.closed).toBe(false);
  });

  it('past the bound: ERROR HW_ERR_BAD_MESSAGE and close; other clients are still served', async () => {
    const { tcpPort } = await startServer(defer, { maxAliasBytes: 1024 });
    const bystander = await client(defer, { tcpPort, udpPort: false });
    const { peer } = await rawSession(defer, tcpPort, { windowSize: 1024 });
    // 5 × 255 = 1275 bytes of names.
    define(peer, [1, 2, 3, 4, 5].map(longName));
    await peer.waitClosed(2000);
    expect(peer.errorFrame()?.code).toBe('HW_ERR_BAD_MESSAGE');
    expect(await bystander.request('echo', 'still served')).toBe('still served');
  });

  it('has a default of 65536: 256 names of 255 bytes and "echo" (65,284 bytes) work, 258 (65,790 bytes) are refused', async () => {
    const { tcpPort } = await startServer(defer);
    const { peer: within } = await rawSession(defer, tcpPort, { windowSize: 1024 });
    const names = [...Array.from({ length: 256 }, (_, i) => longName(i)), 'echo'];
    define(within, names);
    within.sendFrame(FrameType.MESSAGE, message({ alias: names.length, encoding: Encoding.JSON, kind: Kind.REQUEST, requestId: 1, body: '"hi"' }), names.length);
    await within.waitUntil(() => within.frames.some((frame) => frame.type === FrameType.MESSAGE && messagesOf(frame).some((m) => m.kind === Kind.RESPONSE)), 2000, 'the echo reply');

    const { peer } = await rawSession(defer, tcpPort, { windowSize: 1024 });
    define(peer, Array.from({ length: 258 }, (_, i) => longName(i)));
    await peer.waitClosed(2000);
    expect(peer.errorFrame()?.code).toBe('HW_ERR_BAD_MESSAGE');
  });

  it('is validated: 256..2**30', () => {
    for (const value of [255, 2 ** 30 + 1, 1000.5, '4096']) {
      expect(() => createHardenedServer({ maxAliasBytes: value as number }), `maxAliasBytes: ${JSON.stringify(value)}`).toThrow(
        expect.objectContaining({ code: 'HW_ERR_INVALID_OPTION', message: expect.stringContaining('maxAliasBytes') }),
      );
    }
    expect(() => createHardenedServer({ maxAliasBytes: 256 })).not.toThrow();
    expect(() => createHardenedServer({ maxAliasBytes: 2 ** 30 })).not.toThrow();
  });
});

describe('maxAliasBytes on the client side', () => {
  it('a server that binds more bytes of names than the client allows gets ERROR HW_ERR_BAD_MESSAGE, and the client disconnects', async () => {
    const { server, tcpPort } = await startServer(defer, { udpPort: false });
    const connected = new Promise<Peer>((resolve) => server.once('connection', resolve));
    const c = await client(defer, { tcpPort, udpPort: false, maxAliasBytes: 600 });
    const peer = await connected;
    const disconnected = new Promise<Error | undefined>((resolve) => c.once('disconnect', resolve));
    const peerClosed = new Promise<Error | undefined>((resolve) => peer.once('close', resolve));
    const received: string[] = [];
    for (const i of [1, 2, 3]) c.handle(longName(i), () => received.push(longName(i).slice(0, 2)));
    // 2 × 255 bytes of names are within 600; the third makes 765.
    peer.send(longName(1), 'a');
    peer.send(longName(2), 'b');
    peer.send(longName(3), 'c');
    expect((await within(disconnected, 2000, 'the client disconnecting')) as { code?: string }).toMatchObject({ code: 'HW_ERR_BAD_MESSAGE' });
    expect((await within(peerClosed, 2000, 'the peer closing')) as { code?: string }).toMatchObject({ code: 'HW_ERR_BAD_MESSAGE' });
    expect(received).toEqual(['1:', '2:']);
  });
});
