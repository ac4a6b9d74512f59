/**
 * Behaviour that docs/PROTOCOL.md states and a peer written from it relies on, checked on the wire
 * against a real server with a hand-driven peer (127.0.0.1, port 0). Each test names the section.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { createServer, FrameFlag, FrameType, lz4Compress, type Peer, type Server } from '../../ts/index.js';
import { RawPeer, nextEvent, type ReceivedFrame } from '../support/raw-peer.js';

const PATH_CHALLENGE = 0x0b;
const INLINE = 0xffff;
const Encoding = { BINARY: 0, JSON: 1, EMPTY: 2 } as const;
const Kind = { MESSAGE: 0, REQUEST: 1, RESPONSE: 2, ERROR: 3 } as const;

const cleanup: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const step of cleanup.splice(0).reverse()) await step();
});

async function listen(options: Parameters<typeof createServer>[0] = {}): Promise<{ server: Server; tcpPort: number }> {
  const server = createServer({ host: '127.0.0.1', udpPort: false, closeTimeoutMs: 300, ...options });
  const { tcpPort } = await server.listen();
  cleanup.push(() => server.close());
  return { server, tcpPort };
}

async function rawPeer(port: number): Promise<RawPeer> {
  const peer = await RawPeer.connect(port);
  cleanup.push(() => peer.destroy());
  return peer;
}

/** A MESSAGE payload written by hand from section 5 (not by the library under test). */
function message(alias: number, encoding: number, kind: number, requestId: number, body: string | Buffer, inlineName?: string): Buffer {
  const parts = [Buffer.from([alias & 0xff, alias >>> 8, encoding, kind])];
  if (kind !== Kind.MESSAGE) {
    const id = Buffer.alloc(4);
    id.writeUInt32LE(requestId, 0);
    parts.push(id);
  }
  if (inlineName !== undefined) parts.push(Buffer.from([Buffer.byteLength(inlineName)]), Buffer.from(inlineName));
  parts.push(Buffer.from(body));
  return Buffer.concat(parts);
}

interface Answer {
  kind: number;
  requestId: number;
  encoding: number;
  body: string;
  inBatch: boolean;
}

/** The answers (RESPONSE and ERROR kinds) in the MESSAGE frames a peer received, in order. */
function answers(frames: ReceivedFrame[]): Answer[] {
  const found: Answer[] = [];
  const read = (bytes: Buffer, inBatch: boolean) => {
    const kind = bytes[3]!;
    if (kind === Kind.RESPONSE || kind === Kind.ERROR) {
      found.push({ kind, requestId: bytes.readUInt32LE(4), encoding: bytes[2]!, body: bytes.subarray(8).toString(), inBatch });
    }
  };
  for (const frame of frames) {
    if (frame.type !== FrameType.MESSAGE) continue;
    if ((frame.flags & FrameFlag.BATCH) === 0) {
      read(frame.payload, false);
      continue;
    }
    for (let at = 0; at < frame.payload.length; ) {
      const length = frame.payload.readUInt32LE(at);
      read(frame.payload.subarray(at + 4, at + 4 + length), true);
      at += 4 + length;
    }
  }
  return found;
}

/** Waits until `count` answers have arrived, failing after `timeoutMs`. */
async function waitForAnswers(peer: RawPeer, count: number, timeoutMs = 5000): Promise<Answer[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const found = answers(peer.frames);
    if (found.length >= count) return found;
    if (peer.closed) throw new Error(`connection closed after ${found.length} of ${count} answers: ${JSON.stringify(peer.errorFrame())}`);
    if (Date.now() > deadline) throw new Error(`${found.length} of ${count} answers within ${timeoutMs} ms`);
    await nextChunk(peer, deadline - Date.now());
  }
}

/** Resolves at the next chunk (RawPeer, listening first, has recorded its frames) or close, or after `timeoutMs`. */
function nextChunk(peer: RawPeer, timeoutMs: number): Promise<void> {
  return new Promise<void>((resolve) => {
    const done = () => {
      clearTimeout(timer);
      peer.socket.off('data', done);
      peer.socket.off('close', done);
      resolve();
    };
    const timer = setTimeout(done, Math.max(1, timeoutMs));
    peer.socket.on('data', done);
    peer.socket.on('close', done);
  });
}

describe('section 3: handshake', () => {
  it('refuses a version that is not a semantic version in a HELLO_ACK, and a HELLO missing a field with an ERROR', async () => {
    const { tcpPort } = await listen();
    const loose = await rawPeer(tcpPort);
    // An ignorable frame type before the handshake is skipped (section 2).
    loose.sendFrame(0x90, Buffer.from('extension'));
    const ack = await loose.handshake({ version: '1.0' });
    expect(ack).toMatchObject({ accepted: false, code: 'HW_ERR_VERSION_MISMATCH' });
    await loose.waitClosed();
    // A refusal is a HELLO_ACK, then a graceful close: no ERROR frame.
    expect(loose.errorFrame()).toBeUndefined();
    const close = loose.frames.find((frame) => frame.type === FrameType.CLOSE);
    expect(JSON.parse(close!.payload.toString())).toMatchObject({ code: 'HW_OK' });

    const incomplete = await rawPeer(tcpPort);
    incomplete.sendJson(FrameType.HELLO, { version: '1.0.0', features: [], maxPacketSize: 1024, windowSize: 1 });
    await incomplete.waitClosed();
    expect(incomplete.frames.some((frame) => frame.type === FrameType.HELLO_ACK)).toBe(false);
    expect(incomplete.errorFrame()).toMatchObject({ code: 'HW_ERR_BAD_HANDSHAKE', message: expect.stringMatching(/mode/) });
  });

  it('with features [] still takes JSON and binary bodies, aliases, inline names, requests and empty batches', async () => {
    const { tcpPort } = await listen();
    const peer = await rawPeer(tcpPort);
    const ack = await peer.handshake({ features: [] });
    expect(ack).toMatchObject({ accepted: true, features: [], mode: 'burst' });
    await peer.waitFor(FrameType.ACK);
    peer.sendFrame(FrameType.TYPE_DEF, Buffer.concat([Buffer.from([1, 0]), Buffer.from('echo')]), 0);
    peer.sendFrame(FrameType.MESSAGE, message(1, Encoding.BINARY, Kind.REQUEST, 1, Buffer.from([1, 2, 3])), 1);
    peer.sendFrame(FrameType.MESSAGE, message(INLINE, Encoding.JSON, Kind.REQUEST, 2, '{"a":[1]}', 'echo'), 2);
    // A BATCH frame without entries is valid and takes its sequence number (section 5).
    for (const buffer of peer.encoder.encode([{ type: FrameType.MESSAGE, flags: FrameFlag.BATCH, sequence: 3 }])) peer.socket.write(buffer);
    peer.sendFrame(FrameType.MESSAGE, message(INLINE, Encoding.EMPTY, Kind.REQUEST, 3, '', 'ping'), 4);
    const found = await waitForAnswers(peer, 3);
    expect(found.map(({ kind, requestId, encoding, body }) => ({ kind, requestId, encoding, body }))).toEqual([
      { kind: Kind.RESPONSE, requestId: 1, encoding: Encoding.BINARY, body: '\x01\x02\x03' },
      { kind: Kind.RESPONSE, requestId: 2, encoding: Encoding.JSON, body: '{"a":[1]}' },
      { kind: Kind.RESPONSE, requestId: 3, encoding: Encoding.JSON, body: '"pong"' },
    ]);
    // In burst mode every answer comes inside a BATCH frame: batch decoding is mandatory.
    expect(found.every((answer) => answer.inBatch)).toBe(true);
    expect(peer.closed).toBe(false);
  });

  it('in step mode sends each answer in a frame of its own', async () => {
    const { tcpPort } = await listen();
    const peer = await rawPeer(tcpPort);
    expect(await peer.handshake({ mode: 'step', windowSize: 64 })).toMatchObject({ mode: 'step', windowSize: 1 });
    peer.sendFrame(FrameType.MESSAGE, message(INLINE, Encoding.JSON, Kind.REQUEST, 9, '"x"', 'echo'), 0);
    const [answer] = await waitForAnswers(peer, 1);
    expect(answer).toEqual({ kind: Kind.RESPONSE, requestId: 9, encoding: Encoding.JSON, body: '"x"', inBatch: false });
  });
});

describe('section 5: messages', () => {
  it('keeps JSON null apart from the empty encoding, and ignores bytes after the empty encoding', async () => {
    const { tcpPort } = await listen();
    const peer = await rawPeer(tcpPort);
    await peer.handshake();
    peer.sendFrame(FrameType.MESSAGE, message(INLINE, Encoding.JSON, Kind.REQUEST, 1, 'null', 'echo'), 0);
    peer.sendFrame(FrameType.MESSAGE, message(INLINE, Encoding.EMPTY, Kind.REQUEST, 2, '', 'echo'), 1);
    peer.sendFrame(FrameType.MESSAGE, message(INLINE, Encoding.EMPTY, Kind.REQUEST, 3, 'ignored', 'echo'), 2);
    const found = await waitForAnswers(peer, 3);
    expect(found.map(({ requestId, encoding, body }) => ({ requestId, encoding, body }))).toEqual([
      { requestId: 1, encoding: Encoding.JSON, body: 'null' },
      { requestId: 2, encoding: Encoding.EMPTY, body: '' },
      { requestId: 3, encoding: Encoding.EMPTY, body: '' },
    ]);
  });

  it('answers a request for an unknown type with HW_ERR_NO_HANDLER, and a one-way message of it with nothing', async () => {
    const { server, tcpPort } = await listen();
    const unhandled = nextEvent<[string]>(server, 'message');
    const peer = await rawPeer(tcpPort);
    await peer.handshake();
    peer.sendFrame(FrameType.MESSAGE, message(INLINE, Encoding.JSON, Kind.MESSAGE, 0, '1', 'nosuch'), 0);
    peer.sendFrame(FrameType.MESSAGE, message(INLINE, Encoding.JSON, Kind.REQUEST, 5, '2', 'nosuch'), 1);
    peer.sendFrame(FrameType.MESSAGE, message(INLINE, Encoding.JSON, Kind.REQUEST, 6, '3', 'echo'), 2);
    expect((await unhandled)[0]).toBe('nosuch');
    const found = await waitForAnswers(peer, 2);
    expect(found.map(({ kind, requestId }) => ({ kind, requestId }))).toEqual([
      { kind: Kind.ERROR, requestId: 5 },
      { kind: Kind.RESPONSE, requestId: 6 },
    ]);
    expect(JSON.parse(found[0]!.body)).toMatchObject({ code: 'HW_ERR_NO_HANDLER' });
    // The two answers are all the MESSAGE content that came back.
    const entries = peer.frames.filter((frame) => frame.type === FrameType.MESSAGE).reduce((sum, frame) => sum + (frame.flags & FrameFlag.BATCH ? countEntries(frame.payload) : 1), 0);
    expect(entries).toBe(2);
  });

  it('refuses a compressed block that decodes to more than its size claims with HW_ERR_LZ4_OUTPUT_TOO_LARGE', async () => {
    const { tcpPort } = await listen();
    const peer = await rawPeer(tcpPort);
    await peer.handshake({ features: ['json', 'lz4'] });
    const plain = message(INLINE, Encoding.JSON, Kind.MESSAGE, 0, JSON.stringify('a'.repeat(200)), 'echo');
    const size = Buffer.alloc(4);
    size.writeUInt32LE(plain.length - 1, 0);
    for (const buffer of peer.encoder.encode([{ type: FrameType.MESSAGE, flags: FrameFlag.COMPRESSED, payload: Buffer.concat([size, lz4Compress(plain)]) }])) peer.socket.write(buffer);
    await peer.waitClosed();
    expect(peer.errorFrame()?.code).toBe('HW_ERR_LZ4_OUTPUT_TOO_LARGE');
  });
});

describe('section 2: frame types by transport', () => {
  it('closes a TCP connection that carries a PATH_CHALLENGE, a UDP-only critical type, with HW_ERR_UNKNOWN_FRAME_TYPE', async () => {
    const { tcpPort } = await listen();
    const peer = await rawPeer(tcpPort);
    await peer.handshake();
    peer.sendFrame(PATH_CHALLENGE, Buffer.alloc(8, 7));
    await peer.waitClosed();
    expect(peer.errorFrame()?.code).toBe('HW_ERR_UNKNOWN_FRAME_TYPE');
  });
});

describe('sections 6 and 8: heartbeats and closing', () => {
  it('keeps alive a peer that only answers PINGs, past heartbeatTimeoutMs; silence then ends it', async () => {
    const { server, tcpPort } = await listen({ heartbeatIntervalMs: 100, heartbeatTimeoutMs: 1000 });
    const connected = nextEvent<[Peer]>(server, 'connection');
    const peer = await rawPeer(tcpPort);
    await peer.handshake();
    const [serverSide] = await connected;
    const pingsToAnswer = 15;
    let answered = 0;
    let answering = true;
    const enough = new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${answered} of ${pingsToAnswer} PINGs within 10 s`)), 10_000);
      peer.socket.once('close', () => reject(new Error(`the server closed the session after ${answered} answered PINGs`)));
      // Runs after RawPeer's own listener has recorded the chunk's frames.
      peer.socket.on('data', () => {
        const pings = peer.frames.filter((frame) => frame.type === FrameType.PING);
        while (answering && answered < pings.length) {
          const ping = pings[answered++]!;
          peer.sendFrame(FrameType.PONG, ping.payload, ping.sequence);
        }
        if (answered >= pingsToAnswer) {
          clearTimeout(timer);
          resolve();
        }
      });
    });
    await enough;
    // 15 intervals of 100 ms: well past the 1000 ms timeout, with nothing sent but PONGs.
    expect(server.peers.get(serverSide.id)).toBe(serverSide);
    expect(peer.closed).toBe(false);
    answering = false;
    const [gone, error] = await nextEvent<[Peer, Error]>(server, 'disconnect', 10_000);
    expect(gone).toBe(serverSide);
    expect((error as { code?: string }).code).toBe('HW_ERR_HEARTBEAT_TIMEOUT');
    // Sections 6 and 8: the peer is told why, in an ERROR frame, before the connection closes.
    await peer.waitClosed();
    expect(peer.errorFrame()?.code).toBe('HW_ERR_HEARTBEAT_TIMEOUT');
  });

  it('answers a CLOSE by ending the stream, not with a CLOSE', async () => {
    const { server, tcpPort } = await listen();
    const peer = await rawPeer(tcpPort);
    const connected = nextEvent<[Peer]>(server, 'connection');
    await peer.handshake();
    await connected;
    await peer.waitFor(FrameType.ACK);
    const received = peer.frames.length;
    const disconnected = nextEvent<[Peer, Error | undefined]>(server, 'disconnect');
    peer.sendJson(FrameType.CLOSE, { code: 'HW_OK', reason: 'done' });
    peer.socket.end();
    await peer.waitClosed();
    const [, error] = await disconnected;
    expect(error).toBeUndefined();
    expect(peer.frames.slice(received).filter((frame) => frame.type === FrameType.CLOSE || frame.type === FrameType.ERROR)).toEqual([]);
  });
});

function countEntries(payload: Buffer): number {
  let count = 0;
  for (let at = 0; at < payload.length; count++) at += 4 + payload.readUInt32LE(at);
  return count;
}
