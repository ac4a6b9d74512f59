/**
 * Issue 11, "also": a request whose payload cannot be parsed is answered with an error reply
 * HW_ERR_BAD_MESSAGE, and the session stays (the request is bad, not the stream); a MESSAGE frame
 * with both BATCH and COMPRESSED is refused with HW_ERR_BAD_MESSAGE, whichever way it would parse.
 */
import { describe, expect, it } from 'vitest';
import { FrameFlag, FrameType, lz4Decompress } from '../../ts/index.js';
import { cleanupAfterEach, rawSession, startServer, udpAttacker } from '../support/abuse.js';
import { validateUdpPath } from '../support/udp-attacker.js';
import type { RawPeer } from '../support/raw-peer.js';
import { Encoding, INLINE, Kind, datagram, errorReply, message, messagesOf, typeDef, type ParsedMessage } from '../support/wire.js';

const defer = cleanupAfterEach();

/** Waits for the answer (RESPONSE or ERROR kind) to request `id`. */
async function answerTo(peer: RawPeer, id: number): Promise<ParsedMessage> {
  let found: ParsedMessage | undefined;
  await peer.waitUntil(
    () => {
      for (const frame of peer.frames) {
        if (frame.type !== FrameType.MESSAGE) continue;
        found = messagesOf(frame).find((m) => (m.kind === Kind.RESPONSE || m.kind === Kind.ERROR) && m.requestId === id);
        if (found) return true;
      }
      return false;
    },
    2000,
    `the answer to request ${id}`,
  );
  return found!;
}

describe('a request whose payload cannot be parsed', () => {
  it.each([
    ['text that is not JSON', '{not json'],
    // Node 20's JSON.parse takes it, but whatever recurses on the value next (here the echo's
    // JSON.stringify) overflows the stack: bodies nested deeper than 1000 do not decode.
    ['JSON nested 200,000 deep', '['.repeat(200_000) + ']'.repeat(200_000)],
  ])('%s gets an error reply HW_ERR_BAD_MESSAGE, and the session stays open', async (_, body) => {
    const { tcpPort } = await startServer(defer);
    const { peer } = await rawSession(defer, tcpPort);
    peer.sendFrame(FrameType.TYPE_DEF, typeDef(1, 'echo'), 0);
    peer.sendFrame(FrameType.MESSAGE, message({ alias: 1, encoding: Encoding.JSON, kind: Kind.REQUEST, requestId: 7, body }), 1);
    const answer = await answerTo(peer, 7);
    expect(answer.kind).toBe(Kind.ERROR);
    expect(errorReply(answer).code).toBe('HW_ERR_BAD_MESSAGE');
    peer.sendFrame(FrameType.MESSAGE, message({ alias: 1, encoding: Encoding.JSON, kind: Kind.REQUEST, requestId: 8, body: '"fine"' }), 2);
    const next = await answerTo(peer, 8);
    expect(next.kind).toBe(Kind.RESPONSE);
    expect(next.body.toString()).toBe('"fine"');
    expect(peer.errorFrame()).toBeUndefined();
    expect(peer.closed).toBe(false);
  });
});

describe('a request over UDP whose payload cannot be parsed', () => {
  it('gets an error reply HW_ERR_BAD_MESSAGE over UDP, and the session stays', async () => {
    const { tcpPort, udpPort } = await startServer(defer);
    const { peer, token } = await rawSession(defer, tcpPort, { features: ['json', 'binary', 'udp', 'request'] });
    const udp = await udpAttacker(defer);
    await validateUdpPath(peer, udp, token, udpPort);
    // Unreliable frames: each datagram a fresh sequence, or a resend would be dropped as a duplicate.
    let sequence = 0;
    const request = (requestId: number, body: string) =>
      datagram(token, [{ type: FrameType.MESSAGE, sequence: sequence++, payload: message({ alias: INLINE, inlineName: 'echo', encoding: Encoding.JSON, kind: Kind.REQUEST, requestId, body }) }]);
    /** The answer to `id`, resending the request while none has come (a datagram may be lost). */
    const answer = async (id: number, body: string): Promise<ParsedMessage> => {
      for (let attempt = 0; attempt < 20; attempt++) {
        const from = udp.arrivals.length;
        await udp.send(request(id, body), udpPort);
        const found = await udp
          .waitFor(
            () => udp.arrivals.slice(from).flatMap((arrival) => arrival.frames.filter((frame) => frame.type === FrameType.MESSAGE).flatMap((frame) => messagesOf(frame))).find((m) => m.requestId === id),
            250,
            `the answer to request ${id}`,
          )
          .catch(() => undefined);
        if (found) return found;
      }
      throw new Error(`no answer to request ${id} over UDP`);
    };
    const bad = await answer(7, '{not json');
    expect(bad.kind).toBe(Kind.ERROR);
    expect(errorReply(bad).code).toBe('HW_ERR_BAD_MESSAGE');
    const fine = await answer(8, '"fine"');
    expect(fine.kind).toBe(Kind.RESPONSE);
    expect(fine.body.toString()).toBe('"fine"');
    expect(peer.errorFrame()).toBeUndefined();
    expect(peer.closed).toBe(false);
  });
});

describe('a BATCH inside a COMPRESSED frame', () => {
  it('is refused with HW_ERR_BAD_MESSAGE and a close', async () => {
    const { server, tcpPort } = await startServer(defer);
    const unhandled: string[] = [];
    server.on('message', (type) => unhandled.push(type));
    const { peer } = await rawSession(defer, tcpPort, { features: ['json', 'binary', 'request', 'lz4'] });
    // A payload that is valid both ways. Decompressed, it is one echo request (id 7): the
    // 8-byte prefix, then 4 bytes copied by an LZ4 match (offset 4, length 4), then 8 literals.
    const plain = Buffer.concat([message({ alias: 1, encoding: Encoding.BINARY, kind: Kind.REQUEST, requestId: 7 }), Buffer.from([7, 0, 0, 0]), Buffer.from('abcdefgh')]);
    const block = Buffer.concat([Buffer.from([0x80]), plain.subarray(0, 8), Buffer.from([4, 0, 0x80]), Buffer.from('abcdefgh')]);
    expect(Buffer.from(lz4Decompress(block, plain.length)).equals(plain)).toBe(true);
    // Read as a batch instead, [u32 20][20 bytes] is one entry: a binary MESSAGE of alias 0x180.
    expect(block.length).toBe(plain.length);
    const size = Buffer.alloc(4);
    size.writeUInt32LE(plain.length, 0);
    peer.sendFrame(FrameType.TYPE_DEF, typeDef(1, 'echo'), 0);
    peer.sendFrame(FrameType.TYPE_DEF, typeDef(0x180, 'shadow'), 1);
    for (const buffer of peer.encoder.encode([{ type: FrameType.MESSAGE, flags: FrameFlag.COMPRESSED | FrameFlag.BATCH, sequence: 2, payload: Buffer.concat([size, block]) }])) {
      peer.socket.write(buffer);
    }
    await peer.waitClosed(2000);
    expect(peer.errorFrame()?.code).toBe('HW_ERR_BAD_MESSAGE');
    expect(unhandled).toEqual([]);
  });
});
