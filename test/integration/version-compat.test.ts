/**
 * Version compatibility (docs/PROTOCOL.md 3.6): a client of the first wire version, replayed from
 * the frozen bytes of test/support/first-wire-client.ts, against the current server; and what the
 * server does with a higher minor version, a higher major one, and unknown optional and required
 * features.
 */
import { describe, expect, it } from 'vitest';
import { FrameFlag, FrameType, type Peer } from '../../ts/index.js';
import { FIRST_HELLO_BURST, FIRST_HELLO_STEP, FIRST_MESSAGES, firstHelloDone } from '../support/first-wire-client.js';
import { RawPeer, nextEvent, type ReceivedFrame } from '../support/raw-peer.js';
import { closeAfterEach, startServer } from '../support/sessions.js';

closeAfterEach();

interface Message {
  alias: number;
  kind: number;
  requestId: number;
  body: string;
}

/** A message as the first wire version read it: alias, encoding, kind, request id, body. */
function readMessage(payload: Buffer): Message {
  const kind = payload[3]!;
  return { alias: payload.readUInt16LE(0), kind, requestId: kind === 0 ? 0 : payload.readUInt32LE(4), body: payload.subarray(kind === 0 ? 4 : 8).toString() };
}

/** The messages of a MESSAGE frame: one, or a BATCH frame's entries. */
function messagesOf(frame: ReceivedFrame): Message[] {
  if ((frame.flags & FrameFlag.BATCH) === 0) return [readMessage(frame.payload)];
  const messages: Message[] = [];
  for (let at = 0; at < frame.payload.length; ) {
    const length = frame.payload.readUInt32LE(at);
    messages.push(readMessage(frame.payload.subarray(at + 4, at + 4 + length)));
    at += 4 + length;
  }
  return messages;
}

async function firstVersionSession(hello: Buffer, step = false) {
  const { server, tcpPort } = await startServer({ udpPort: false });
  const notes: unknown[] = [];
  server.handle('note', (payload) => void notes.push(payload));
  const connected = nextEvent<[Peer]>(server, 'connection');
  const peer = await RawPeer.connect(tcpPort);
  peer.socket.write(hello);
  const ack = JSON.parse((await peer.waitFor(FrameType.HELLO_ACK)).payload.toString()) as Record<string, unknown>;
  peer.sendFrame(FrameType.HELLO_DONE, firstHelloDone(ack.sessionId as string));
  const [serverPeer] = await connected;
  peer.acknowledgeAll();
  for (const [index, frame] of FIRST_MESSAGES.entries()) {
    peer.socket.write(frame);
    // In step mode that client sent each frame once the one before was acknowledged.
    if (step) await peer.waitUntil(() => peer.frames.some((ack) => ack.type === FrameType.ACK && ack.sequence > index), 5000, `the ACK of frame ${index}`);
  }
  return { server, peer, ack, notes, serverPeer };
}

describe('a client of the first wire version against the current server', () => {
  it('is accepted with the HELLO_ACK fields it reads, and exchanges requests and messages (burst mode)', async () => {
    const { peer, ack, notes, serverPeer } = await firstVersionSession(FIRST_HELLO_BURST);
    try {
      expect(ack).toMatchObject({ accepted: true, version: '1.0.0', mode: 'burst', windowSize: 8192, maxPacketSize: expect.any(Number), heartbeatIntervalMs: expect.any(Number), heartbeatTimeoutMs: expect.any(Number), udpPort: 0 });
      expect(ack.token).toMatch(/^[0-9a-f]{16}$/);
      // It offered lz4 and no algorithm list: the 1.0 answer, with no `compression` field.
      expect(ack.features).toEqual(['json', 'binary', 'type-alias', 'request', 'heartbeat', 'udp', 'reliable-udp', 'lz4']);
      expect('compression' in ack).toBe(false);
      await peer.waitUntil(() => peer.frames.some((frame) => frame.type === FrameType.MESSAGE), 5000, 'the answer to request 1');
      const answers = peer.frames.filter((frame) => frame.type === FrameType.MESSAGE).flatMap(messagesOf);
      expect(answers).toEqual([{ alias: 0, kind: 2, requestId: 1, body: '"hello from 1.0"' }]);
      await peer.waitUntil(() => notes.length === 1, 5000, 'the note');
      expect(notes).toEqual([{ n: 1 }]);
      expect(serverPeer.stats.compressionAlgorithm).toBe('lz4');
      expect(peer.closed).toBe(false);
    } finally {
      peer.destroy();
    }
  });

  it('in step mode gets every frame as the first version could read it: one message per frame, no flags', async () => {
    const { peer, ack, notes, serverPeer } = await firstVersionSession(FIRST_HELLO_STEP, true);
    try {
      expect(ack).toMatchObject({ accepted: true, mode: 'step', windowSize: 1 });
      await peer.waitUntil(() => notes.length === 1, 5000, 'the note');
      serverPeer.send('greeting', { from: 'server' });
      await peer.waitUntil(() => peer.frames.filter((frame) => frame.type === FrameType.MESSAGE).length === 2, 5000, 'the answer and the greeting');
      const sequenced = peer.frames.filter((frame) => frame.type === FrameType.MESSAGE || frame.type === FrameType.TYPE_DEF);
      expect(sequenced.every((frame) => frame.flags === 0)).toBe(true);
      expect(sequenced.map((frame) => (frame.type === FrameType.TYPE_DEF ? `TYPE_DEF ${frame.payload.subarray(2).toString()}` : readMessage(frame.payload)))).toEqual([
        { alias: 0, kind: 2, requestId: 1, body: '"hello from 1.0"' },
        'TYPE_DEF greeting',
        { alias: 1, kind: 0, requestId: 0, body: '{"from":"server"}' },
      ]);
      expect(peer.closed).toBe(false);
    } finally {
      peer.destroy();
    }
  });
});

describe('the semver negotiation of docs/PROTOCOL.md 3.6', () => {
  async function hello(fields: Record<string, unknown>) {
    const { tcpPort } = await startServer({ udpPort: false });
    const peer = await RawPeer.connect(tcpPort);
    return { ack: await peer.handshake(fields), peer };
  }

  it('a higher minor version with unknown optional features and fields is accepted; the server answers with its own version', async () => {
    const { ack, peer } = await hello({ version: '1.9.3', features: ['json', 'hologram', 'lz4'], hologramDepth: 3 });
    expect(ack).toMatchObject({ accepted: true, version: '1.0.0', features: ['json', 'lz4'] });
    peer.destroy();
  });

  it('a higher major version is refused with HW_ERR_VERSION_MISMATCH', async () => {
    const { ack, peer } = await hello({ version: '2.0.0' });
    expect(ack).toMatchObject({ accepted: false, version: '1.0.0', code: 'HW_ERR_VERSION_MISMATCH' });
    await peer.waitClosed();
  });

  it('an unknown required feature is refused with HW_ERR_UNSUPPORTED_FEATURE; known ones are accepted', async () => {
    const refused = await hello({ features: ['json', 'hologram'], required: ['hologram'] });
    expect(refused.ack).toMatchObject({ accepted: false, code: 'HW_ERR_UNSUPPORTED_FEATURE', reason: expect.stringContaining("'hologram'") });
    await refused.peer.waitClosed();
    const accepted = await hello({ features: ['json', 'request'], required: ['request'] });
    expect(accepted.ack).toMatchObject({ accepted: true, features: ['json', 'request'] });
    accepted.peer.destroy();
  });
});
