/**
 * A server's UDP side over real sockets (ts/api/server-udp.ts): the one rule for bad datagrams
 * (docs/PROTOCOL.md 4), path validation's PATH_RESPONSE on TCP (4.1), what waits for a validated
 * address, and the counters of server.stats().
 */
import { describe, expect, it } from 'vitest';
import { FrameFlag, FrameType, type FrameSpec } from '../../ts/index.js';
import { cleanupAfterEach, client, rawPeer, rawSession, startServer, udpAttacker, udpCounters } from '../support/abuse.js';
import { validateUdpPath } from '../support/udp-attacker.js';
import { waitUntil, within } from '../support/wait.js';
import { Encoding, INLINE, Kind, PATH_CHALLENGE, PATH_RESPONSE, datagram, message } from '../support/wire.js';

const defer = cleanupAfterEach();
const NO_DISCOVERY = { mtu: 1200, window: 64, reassemblyBytes: 1 << 20, span: 16384, maxMtu: 1200 };

function note(text: string, flags = 0, sequence = 0): FrameSpec {
  return { type: FrameType.MESSAGE, flags, sequence, payload: message({ alias: INLINE, encoding: Encoding.JSON, kind: Kind.MESSAGE, inlineName: 'note', body: JSON.stringify(text) }) };
}

/** A server that records 'note' messages, and a raw session whose UDP address is validated. */
async function validatedSession() {
  const { server, tcpPort, udpPort } = await startServer(defer);
  const notes: string[] = [];
  server.handle('note', (payload) => {
    notes.push(String(payload));
  });
  const session = await rawSession(defer, tcpPort, { udp: NO_DISCOVERY });
  const udp = await udpAttacker(defer);
  await validateUdpPath(session.peer, udp, session.token, udpPort);
  const peer = server.peers.get(session.sessionId)!;
  /** Sends frames from the validated address and waits until the server has taken them in. */
  const send = async (frames: FrameSpec[], bytes = datagram(session.token, frames)) => {
    const before = server.stats().udpSocket!.datagramsReceived;
    await udp.send(bytes, udpPort);
    await waitUntil(() => server.stats().udpSocket!.datagramsReceived > before, 2000, 'the server to receive the datagram');
  };
  return { server, udpPort, session, udp, peer, notes, send };
}

/** Frames that make a datagram malformed, each after a good note (docs/PROTOCOL.md 4, step 2). */
const BAD: Array<[string, FrameSpec]> = [
  ['a TCP-only frame (TYPE_DEF)', { type: FrameType.TYPE_DEF, payload: Buffer.from([1, 0, 0x6e]) }],
  ['a PATH_RESPONSE', { type: PATH_RESPONSE, payload: Buffer.alloc(8) }],
  ['an unknown critical type', { type: 0x3f }],
  ['a COMPRESSED message', { ...note('compressed'), flags: FrameFlag.COMPRESSED }],
  ['a BATCH message', { type: FrameType.MESSAGE, flags: FrameFlag.BATCH, payload: Buffer.alloc(0) }],
  ['a PING of 65 bytes', { type: FrameType.PING, payload: Buffer.alloc(65) }],
];

describe('a malformed datagram from the validated address', () => {
  for (const [what, bad] of BAD) {
    it(`with ${what} is dropped whole: the note before it is not delivered, the session stays`, async () => {
      const s = await validatedSession();
      const before = udpCounters(s.server).droppedMalformed;
      await s.send([note('in a bad datagram'), bad]);
      await s.send([note('after')]);
      await waitUntil(() => s.notes.includes('after'), 2000, 'the good datagram after the bad one');
      expect(s.notes).toEqual(['after']);
      expect(udpCounters(s.server).droppedMalformed - before).toBe(1);
      expect(s.peer.udpStats()!.drops.malformed).toBe(1);
      expect(s.session.peer.closed).toBe(false);
    });
  }

  it('with a bad checksum in its last frame is dropped whole and counted in droppedMalformed too', async () => {
    const s = await validatedSession();
    const bytes = datagram(s.session.token, [note('first'), note('second')]);
    bytes[bytes.length - 1]! ^= 1;
    const before = udpCounters(s.server).droppedMalformed;
    await s.send([], bytes);
    await s.send([note('after')]);
    await waitUntil(() => s.notes.includes('after'), 2000, 'the good datagram after the bad one');
    expect(s.notes).toEqual(['after']);
    expect(s.peer.udpStats()!.drops.badChecksum).toBe(1);
    expect(udpCounters(s.server).droppedMalformed - before).toBe(1);
  });

  it('sums the sessions\' reliable-UDP drops in server.stats().udpReliable, closed sessions included', async () => {
    const s = await validatedSession();
    const bytes = datagram(s.session.token, [note('x')]);
    bytes[bytes.length - 1]! ^= 1;
    await s.send([], bytes);
    await s.send([{ type: FrameType.PING, payload: Buffer.alloc(65) }]);
    expect(s.server.stats().udpReliable.drops).toMatchObject({ badChecksum: 1, malformed: 1 });
    const closed = new Promise((resolve) => s.peer.once('close', resolve));
    s.session.peer.destroy();
    await within(closed, 2000, 'the session to close');
    expect(s.server.stats().udpReliable.drops).toMatchObject({ badChecksum: 1, malformed: 1 });
    expect(udpCounters(s.server).droppedMalformed).toBe(2);
  });
});

describe('a datagram with a valid token from an address that is not validated', () => {
  it('malformed: counted in droppedMalformed, not droppedUnvalidated, and draws no challenge', async () => {
    const s = await validatedSession();
    const stranger = await udpAttacker(defer);
    const before = { ...udpCounters(s.server) };
    const received = s.server.stats().udpSocket!.datagramsReceived;
    await stranger.send(datagram(s.session.token, [note('forged'), { type: FrameType.CLOSE }]), s.udpPort);
    await waitUntil(() => s.server.stats().udpSocket!.datagramsReceived > received, 2000, 'the server to receive the datagram');
    const after = udpCounters(s.server);
    expect(after.droppedMalformed - before.droppedMalformed).toBe(1);
    expect(after.droppedUnvalidated).toBe(before.droppedUnvalidated);
    expect(after.pathChallenges).toBe(before.pathChallenges);
    // A well-formed one from the same address does draw a challenge.
    await stranger.send(datagram(s.session.token, [note('forged')]), s.udpPort);
    const challenge = await stranger.waitForFrame(PATH_CHALLENGE, 2000);
    expect(challenge.payload.length).toBe(8);
    expect(udpCounters(s.server).droppedUnvalidated - before.droppedUnvalidated).toBe(1);
    expect(stranger.arrivals.length).toBe(1);
    expect(s.notes).toEqual([]);
  });
});

describe('PATH_RESPONSE on TCP', () => {
  it('one matching no challenge is ignored and counted; the session stays', async () => {
    const s = await validatedSession();
    const before = udpCounters(s.server).unmatchedPathResponses;
    s.session.peer.sendFrame(PATH_RESPONSE, Buffer.alloc(8, 0x5a));
    await waitUntil(() => udpCounters(s.server).unmatchedPathResponses === before + 1, 2000, 'the unmatched PATH_RESPONSE to be counted');
    await s.send([note('still served')]);
    await waitUntil(() => s.notes.includes('still served'), 2000, 'a note after it');
    expect(s.session.peer.closed).toBe(false);
  });

  it('on a server without UDP, one is ignored and counted too (no challenge went out, so it matches none)', async () => {
    const { server, tcpPort } = await startServer(defer, { udpPort: false });
    const session = await rawSession(defer, tcpPort);
    await session.peer.waitFor(FrameType.ACK);
    session.peer.sendFrame(PATH_RESPONSE, Buffer.alloc(8));
    await waitUntil(() => udpCounters(server).unmatchedPathResponses === 1, 2000, 'the PATH_RESPONSE to be counted');
    // Still served: a PING after it is answered.
    session.peer.sendFrame(FrameType.PING, Buffer.from('still open'), 9);
    await session.peer.waitUntil(() => session.peer.frames.some((frame) => frame.type === FrameType.PONG && frame.sequence === 9), 2000, 'the PONG');
    expect(session.peer.closed).toBe(false);
  });

  it('one whose payload is not 8 bytes is ERROR HW_ERR_BAD_MESSAGE and close', async () => {
    const { tcpPort } = await startServer(defer);
    const session = await rawSession(defer, tcpPort, { udp: NO_DISCOVERY });
    await session.peer.waitFor(FrameType.ACK);
    session.peer.sendFrame(PATH_RESPONSE, Buffer.alloc(7));
    await session.peer.waitClosed(2000);
    expect(session.peer.errorFrame()?.code).toBe('HW_ERR_BAD_MESSAGE');
  });

  it('one before the handshake completes is ERROR HW_ERR_HANDSHAKE_ORDER and close', async () => {
    const { tcpPort } = await startServer(defer);
    const early = await rawPeer(defer, tcpPort);
    early.sendFrame(PATH_RESPONSE, Buffer.alloc(8));
    await early.waitClosed(2000);
    expect(early.errorFrame()?.code).toBe('HW_ERR_HANDSHAKE_ORDER');
  });

  it('validates the challenged address: the PONG (sequence 0, empty) and then the session\'s datagrams go there', async () => {
    const { server, tcpPort, udpPort } = await startServer(defer);
    const session = await rawSession(defer, tcpPort, { udp: NO_DISCOVERY });
    await session.peer.waitFor(FrameType.ACK);
    const peer = server.peers.get(session.sessionId)!;
    const udp = await udpAttacker(defer);
    // A reliable message sent before any address is validated waits for one.
    peer.send('news', 'held', { transport: 'udp', reliable: true });
    await udp.send(datagram(session.token, [{ type: FrameType.PING, sequence: 1, payload: Buffer.alloc(8) }]), udpPort);
    const challenge = await udp.waitForFrame(PATH_CHALLENGE, 2000);
    expect(peer.udpAddress).toBeUndefined();
    expect(udp.framesOfType(FrameType.MESSAGE)).toEqual([]);
    session.peer.sendFrame(PATH_RESPONSE, Buffer.from(challenge.payload));
    const pong = await udp.waitForFrame(FrameType.PONG, 2000);
    expect(pong.sequence).toBe(0);
    expect(pong.payload.length).toBe(0);
    expect(peer.udpAddress).toMatchObject({ address: '127.0.0.1', port: udp.port, family: 'IPv4' });
    const news = await udp.waitForFrame(FrameType.MESSAGE, 3000);
    expect(news.payload.subarray(-6).toString()).toBe('"held"');
    // It waited for the address rather than being sent into the void and retransmitted.
    expect(peer.udpStats()!.retransmissions).toBe(0);
    expect(udpCounters(server)).toMatchObject({ pathChallenges: 1, pathValidations: 1, droppedUnvalidated: 1 });
  });
});

describe('through the client', () => {
  it('a client\'s UDP messages sent at once after connect() all arrive, unreliable ones included', async () => {
    const { server, tcpPort, udpPort } = await startServer(defer);
    const notes: number[] = [];
    server.handle<number>('n', (n) => {
      notes.push(n);
    });
    const c = await client(defer, { tcpPort, udpPort });
    expect(c.udpReady).toBe(false);
    for (let i = 0; i < 50; i++) c.send('n', i, { transport: 'udp' });
    await waitUntil(() => notes.length === 50, 5000, () => `50 messages (got ${notes.length})`);
    expect(notes).toEqual(Array.from({ length: 50 }, (_, i) => i));
    expect(c.udpReady).toBe(true);
  });
});
