/**
 * Issue 11, point 6: a peer that never reads. Every byte the server sends it (replies, PONGs,
 * ACKs, ERRORs) counts against its queue: past highWaterMark the server stops reading it, past
 * maxQueueBytes (or with writes stalled for sendStallTimeoutMs) it is closed with
 * HW_ERR_SEND_QUEUE_FULL, while other peers keep being served. PINGs carry at most 64 bytes.
 */
import net from 'node:net';
import { describe, expect, it } from 'vitest';
import { FrameDecoder, FrameEncoder, FrameFlag, FrameType, lz4Compress, type FrameSpec, type Peer, type Server } from '../../ts/index.js';
import { answerHello, parseHello } from '../../ts/session/handshake.js';
import { cleanupAfterEach, client, rawSession, startServer } from '../support/abuse.js';
import { nextEvent } from '../support/raw-peer.js';
import { waitUntil, within } from '../support/wait.js';
import { Encoding, Kind, message, messagesOf, typeDef } from '../support/wire.js';

const defer = cleanupAfterEach();

const KIB = 1024;
const MIB = 1024 * KIB;
const LIMITS = { maxQueueBytes: 256 * KIB, highWaterMark: 64 * KIB, sendStallTimeoutMs: 1000 };

/**
 * Waits until the server drops `peer`, sampling its queue meanwhile; resolves with the error it
 * was dropped with and the largest queue seen.
 */
async function droppedWith(server: Server, peer: Peer, timeoutMs: number): Promise<{ code: string | undefined; largestQueue: number }> {
  let largestQueue = 0;
  const sample = setInterval(() => {
    if (server.peers.get(peer.id) === peer) largestQueue = Math.max(largestQueue, peer.stats.queuedBytes);
  }, 5);
  try {
    const [, error] = await within(
      new Promise<[Peer, Error | undefined]>((resolve) => {
        const listener = (gone: Peer, error: Error | undefined) => {
          if (gone !== peer) return;
          server.off('disconnect', listener);
          resolve([gone, error]);
        };
        server.on('disconnect', listener);
      }),
      timeoutMs,
      'the server to drop the peer that never reads',
    );
    return { code: (error as { code?: string } | undefined)?.code, largestQueue };
  } catch (error) {
    throw new Error(`${(error as Error).message} (its queue reached ${largestQueue} bytes; maxQueueBytes is ${LIMITS.maxQueueBytes})`);
  } finally {
    clearInterval(sample);
  }
}

describe('a peer that never reads', () => {
  it('sending compressed echo requests is dropped with HW_ERR_SEND_QUEUE_FULL, its queue near maxQueueBytes, while another client is served', async () => {
    const { server, tcpPort } = await startServer(defer, LIMITS);
    const bystander = await client(defer, { tcpPort, udpPort: false });
    const connected = nextEvent<[Peer]>(server, 'connection');
    const { peer } = await rawSession(defer, tcpPort, { features: ['json', 'binary', 'request', 'lz4'], windowSize: 1024 });
    const [serverSide] = await connected;
    peer.socket.pause();
    // 32 requests of ~4 KiB on the wire, each answered with 1 MiB.
    const frames: FrameSpec[] = [{ type: FrameType.TYPE_DEF, sequence: 0, payload: typeDef(1, 'echo') }];
    for (let id = 1; id <= 32; id++) {
      const plain = message({ alias: 1, encoding: Encoding.BINARY, kind: Kind.REQUEST, requestId: id, body: Buffer.alloc(MIB) });
      const size = Buffer.alloc(4);
      size.writeUInt32LE(plain.length, 0);
      frames.push({ type: FrameType.MESSAGE, flags: FrameFlag.COMPRESSED, sequence: id, payload: Buffer.concat([size, lz4Compress(plain)]) });
    }
    const bytes = Buffer.concat(new FrameEncoder().encode(frames));
    expect(bytes.length).toBeLessThan(256 * KIB);
    peer.socket.write(bytes);
    const served = bystander.request('echo', 'during', { timeoutMs: 3000 });
    const { code, largestQueue } = await droppedWith(server, serverSide, 5000);
    expect(code).toBe('HW_ERR_SEND_QUEUE_FULL');
    // One reply may overshoot the bound before it is seen; never more.
    expect(largestQueue, `largest queue seen for the slow peer: ${largestQueue} bytes`).toBeLessThanOrEqual(LIMITS.maxQueueBytes + MIB + 64 * KIB);
    expect(await served).toBe('during');
    expect(await bystander.request('echo', 'after')).toBe('after');
  });

  it('sending PINGs is dropped with HW_ERR_SEND_QUEUE_FULL: PONGs count against its queue', async () => {
    const { server, tcpPort } = await startServer(defer, LIMITS);
    const bystander = await client(defer, { tcpPort, udpPort: false });
    const connected = nextEvent<[Peer]>(server, 'connection');
    const { peer } = await rawSession(defer, tcpPort);
    const [serverSide] = await connected;
    peer.socket.pause();
    // 20 MiB of 64-byte PINGs: 20 MiB of PONGs, far past what the kernel's buffers hold.
    const ping = Buffer.concat(new FrameEncoder().encode([{ type: FrameType.PING, sequence: 1, payload: Buffer.alloc(64, 0x70) }]));
    peer.socket.write(Buffer.concat(Array(Math.ceil((20 * MIB) / ping.length)).fill(ping)));
    const { code, largestQueue } = await droppedWith(server, serverSide, 5000);
    expect(code).toBe('HW_ERR_SEND_QUEUE_FULL');
    expect(largestQueue, `largest queue seen for the slow peer: ${largestQueue} bytes`).toBeLessThanOrEqual(LIMITS.maxQueueBytes + 128 * KIB);
    expect(await bystander.request('echo', 'after')).toBe('after');
  });
});

describe('a peer that reads slowly', () => {
  it('is no longer read once its queue passes highWaterMark, and is read again, losing nothing, once it drains', async () => {
    const HIGH_WATER = 256 * KIB;
    const { server, tcpPort } = await startServer(defer, { highWaterMark: HIGH_WATER, sendStallTimeoutMs: 30_000, udpPort: false });
    const connected = nextEvent<[Peer]>(server, 'connection');
    const { peer } = await rawSession(defer, tcpPort);
    const [serverSide] = await connected;
    peer.socket.pause();
    // 32 echo requests of 1 MiB: 32 MiB of replies, far more than the kernel's buffers hold.
    const body = Buffer.alloc(MIB, 0x33);
    const frames: FrameSpec[] = [{ type: FrameType.TYPE_DEF, sequence: 0, payload: typeDef(1, 'echo') }];
    for (let id = 1; id <= 32; id++) frames.push({ type: FrameType.MESSAGE, sequence: id, payload: message({ alias: 1, encoding: Encoding.BINARY, kind: Kind.REQUEST, requestId: id, body }) });
    for (const buffer of peer.encoder.encode(frames)) peer.socket.write(buffer);
    let largestQueue = 0;
    await waitUntil(() => {
      largestQueue = Math.max(largestQueue, serverSide.stats.queuedBytes);
      return largestQueue >= HIGH_WATER;
    }, 5000, 'the queue for the peer to pass highWaterMark');
    // It stays there while the peer does not read: what the peer sends is not taken. (The wait
    // is the load's, a fixed number of the server's turns, not a synchronisation.)
    for (let i = 0; i < 20; i++) {
      await new Promise((resolve) => setImmediate(resolve));
      largestQueue = Math.max(largestQueue, serverSide.stats.queuedBytes);
    }
    // At most the reply that crossed the mark, and one more whose request was already read.
    expect(largestQueue, `largest queue seen: ${largestQueue} bytes`).toBeLessThanOrEqual(HIGH_WATER + 2 * MIB + 64 * KIB);
    expect(serverSide.stats.tcp.bytesIn, 'bytes the server read').toBeLessThan(32 * MIB);
    peer.acknowledgeAll();
    peer.socket.resume();
    const replies = () => peer.frames.filter((frame) => frame.type === FrameType.MESSAGE).flatMap((frame) => messagesOf(frame));
    await peer.waitUntil(() => replies().length >= 32, 20_000, '32 echo replies');
    expect(replies().map((reply) => [reply.requestId, reply.body.equals(body)])).toEqual(Array.from({ length: 32 }, (_, i) => [i + 1, true]));
    expect(server.peers.get(serverSide.id)).toBe(serverSide);
  });
});

describe('a server that never reads', () => {
  it('is closed by the client with HW_ERR_SEND_QUEUE_FULL once the PONGs it is owed pass maxQueueBytes', async () => {
    // The server, played by hand: it completes the handshake, then stops reading and sends PINGs.
    const hostile = net.createServer((socket) => {
      const decoder = new FrameDecoder();
      const encoder = new FrameEncoder();
      socket.on('error', () => {});
      socket.on('data', (chunk) => {
        const count = decoder.push(chunk);
        for (let i = 0; i < count; i++) {
          if (decoder.type(i) === FrameType.HELLO) {
            const limits = { maxPacketSize: MIB, windowSize: 64, heartbeatIntervalMs: 60_000, heartbeatTimeoutMs: 120_000, udpPort: 0, udp: { mtu: 1200, window: 64, reassemblyBytes: MIB } };
            const ack = answerHello(parseHello(decoder.payload(i)), limits, 'hostile', '0011223344556677');
            for (const buffer of encoder.encode([{ type: FrameType.HELLO_ACK, payload: Buffer.from(JSON.stringify(ack)) }])) socket.write(buffer);
          } else if (decoder.type(i) === FrameType.HELLO_DONE) {
            socket.pause();
            const ping = Buffer.concat(encoder.encode([{ type: FrameType.PING, sequence: 1, payload: Buffer.alloc(64, 0x70) }]));
            const ready = Buffer.concat(encoder.encode([{ type: FrameType.ACK, sequence: 0 }]));
            socket.write(Buffer.concat([ready, ...Array<Buffer>(Math.ceil((40 * MIB) / ping.length)).fill(ping)]));
          }
        }
      });
    });
    await new Promise<void>((resolve) => hostile.listen(0, '127.0.0.1', resolve));
    defer(() => new Promise<void>((resolve) => hostile.close(() => resolve())));
    const sockets: net.Socket[] = [];
    hostile.on('connection', (socket) => sockets.push(socket));
    defer(() => sockets.forEach((socket) => socket.destroy()));
    // The ERROR can never reach a server that does not read: the socket goes at closeTimeoutMs.
    const victim = await client(defer, { tcpPort: (hostile.address() as net.AddressInfo).port, udpPort: false, closeTimeoutMs: 200, ...LIMITS });
    let largestQueue = 0;
    const sample = setInterval(() => {
      largestQueue = Math.max(largestQueue, victim.stats?.queuedBytes ?? 0);
    }, 5);
    try {
      const [error] = await nextEvent<[Error | undefined]>(victim, 'disconnect', 5000);
      expect((error as { code?: string } | undefined)?.code).toBe('HW_ERR_SEND_QUEUE_FULL');
    } finally {
      clearInterval(sample);
    }
    expect(largestQueue, `largest queue seen at the client: ${largestQueue} bytes`).toBeLessThanOrEqual(LIMITS.maxQueueBytes + 128 * KIB);
  });
});

describe('PING payloads', () => {
  it('64 bytes are echoed in the PONG; 65 bytes are a bad frame: ERROR and close', async () => {
    const { tcpPort } = await startServer(defer);
    const { peer: fine } = await rawSession(defer, tcpPort);
    const payload = Buffer.alloc(64, 0x61);
    fine.sendFrame(FrameType.PING, payload, 9);
    const pong = await fine.waitFor(FrameType.PONG);
    expect(pong.payload.equals(payload)).toBe(true);

    const { peer: oversized } = await rawSession(defer, tcpPort);
    oversized.sendFrame(FrameType.PING, Buffer.alloc(65, 0x61), 9);
    await oversized.waitClosed(2000);
    // docs/PROTOCOL.md, section 6: a PING or PONG payload over 64 bytes is HW_ERR_FRAME_TOO_LARGE.
    expect(oversized.errorFrame()?.code).toBe('HW_ERR_FRAME_TOO_LARGE');
    expect(oversized.frames.some((frame) => frame.type === FrameType.PONG)).toBe(false);
  });

  it('a PONG over 64 bytes is refused the same way', async () => {
    const { tcpPort } = await startServer(defer);
    const { peer } = await rawSession(defer, tcpPort);
    peer.sendFrame(FrameType.PONG, Buffer.alloc(65, 0x61), 1);
    await peer.waitClosed(2000);
    expect(peer.errorFrame()?.code).toBe('HW_ERR_FRAME_TOO_LARGE');
  });
});
