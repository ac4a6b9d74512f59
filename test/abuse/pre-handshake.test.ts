/**
 * Issue 11, point 5: before its handshake completes a connection may make the server buffer no
 * more than the HELLO limit (8 KiB). A frame header announcing more is refused as soon as it is
 * complete, with ERROR HW_ERR_FRAME_TOO_LARGE, before its body is sent.
 */
import net from 'node:net';
import { describe, expect, it } from 'vitest';
import { FrameEncoder, FrameType, PROTOCOL_SEMVER, connect } from '../../ts/index.js';
import { cleanupAfterEach, client, rawPeer, startServer } from '../support/abuse.js';
import type { RawPeer } from '../support/raw-peer.js';
import { Encoding, Kind, message, messagesOf, typeDef } from '../support/wire.js';

const defer = cleanupAfterEach();

const HELLO_LIMIT = 8192;

/** A frame header alone, announcing `length` bytes of payload that never follow. */
function headerOnly(type: number, length: number): Buffer {
  const header = Buffer.concat(new FrameEncoder().encode([{ type, payload: Buffer.alloc(1) }])).subarray(0, 16);
  header.writeUInt32LE(length, 8);
  return header;
}

async function refusedAsTooLarge(peer: RawPeer): Promise<void> {
  await peer.waitClosed(2000);
  expect(peer.errorFrame()?.code).toBe('HW_ERR_FRAME_TOO_LARGE');
}

describe('frames before the handshake completes', () => {
  it('32 connections announcing 16 MiB frames (HELLO or MESSAGE) before HELLO are each refused with HW_ERR_FRAME_TOO_LARGE and closed, without the body', async () => {
    // The handshake timeout is far away: only the frame limit can close them in time.
    const { tcpPort } = await startServer(defer, { handshakeTimeoutMs: 30_000 });
    const bystander = await client(defer, { tcpPort, udpPort: false });
    const peers: RawPeer[] = [];
    for (let i = 0; i < 32; i++) {
      const peer = await rawPeer(defer, tcpPort);
      peer.socket.write(headerOnly(i % 2 === 0 ? FrameType.HELLO : FrameType.MESSAGE, 16 * 1024 * 1024));
      peers.push(peer);
    }
    for (const peer of peers) await refusedAsTooLarge(peer);
    expect(await bystander.request('echo', 'still served')).toBe('still served');
  });

  it('the limit is the HELLO limit: 8193 bytes announced is refused, a HELLO of exactly 8192 bytes is accepted', async () => {
    const { tcpPort } = await startServer(defer, { handshakeTimeoutMs: 30_000 });
    const over = await rawPeer(defer, tcpPort);
    over.socket.write(headerOnly(FrameType.HELLO, HELLO_LIMIT + 1));
    await refusedAsTooLarge(over);

    const exact = await rawPeer(defer, tcpPort);
    const hello = JSON.stringify({ version: PROTOCOL_SEMVER, features: ['json'], mode: 'burst', maxPacketSize: 1 << 20, windowSize: 64 });
    exact.sendFrame(FrameType.HELLO, Buffer.from(hello.padEnd(HELLO_LIMIT, ' ')));
    const ack = JSON.parse((await exact.waitFor(FrameType.HELLO_ACK)).payload.toString()) as Record<string, unknown>;
    expect(ack.accepted).toBe(true);
  });

  it('between HELLO_ACK and HELLO_DONE the limit still holds', async () => {
    const { tcpPort } = await startServer(defer, { handshakeTimeoutMs: 30_000 });
    const peer = await rawPeer(defer, tcpPort);
    peer.sendJson(FrameType.HELLO, { version: PROTOCOL_SEMVER, features: ['json'], mode: 'burst', maxPacketSize: 1 << 20, windowSize: 64 });
    await peer.waitFor(FrameType.HELLO_ACK);
    peer.socket.write(headerOnly(FrameType.HELLO_DONE, 16 * 1024 * 1024));
    await refusedAsTooLarge(peer);
  });

  it('after the handshake, frames up to maxFrameSize are accepted as before', async () => {
    const { tcpPort } = await startServer(defer);
    const good = await client(defer, { tcpPort, udpPort: false });
    const big = Buffer.alloc(1024 * 1024, 0x42);
    expect(Buffer.from((await good.request('echo', big)) as Uint8Array).equals(big)).toBe(true);
  });

  it('a frame over the HELLO limit in the same write as the HELLO_DONE that completes the handshake is the open session\'s: accepted', async () => {
    const { tcpPort } = await startServer(defer, { handshakeTimeoutMs: 30_000 });
    const peer = await rawPeer(defer, tcpPort);
    peer.sendJson(FrameType.HELLO, { version: PROTOCOL_SEMVER, features: ['json', 'binary', 'request'], mode: 'burst', maxPacketSize: 1 << 20, windowSize: 64 });
    const ack = JSON.parse((await peer.waitFor(FrameType.HELLO_ACK)).payload.toString()) as Record<string, unknown>;
    const body = Buffer.alloc(3 * HELLO_LIMIT, 0x5a);
    // docs/PROTOCOL.md 3.3: a client may send messages right after HELLO_DONE, in the same segment.
    const frames = new FrameEncoder().encode([
      { type: FrameType.HELLO_DONE, payload: Buffer.from(JSON.stringify({ sessionId: ack.sessionId })) },
      { type: FrameType.TYPE_DEF, sequence: 0, payload: typeDef(1, 'echo') },
      { type: FrameType.MESSAGE, sequence: 1, payload: message({ alias: 1, encoding: Encoding.BINARY, kind: Kind.REQUEST, requestId: 7, body }) },
    ]);
    peer.socket.write(Buffer.concat(frames));
    await peer.waitUntil(() => peer.frames.some((frame) => frame.type === FrameType.MESSAGE), 3000, 'the echo reply');
    const reply = peer.frames.filter((frame) => frame.type === FrameType.MESSAGE).flatMap((frame) => messagesOf(frame));
    expect(reply.map((entry) => [entry.kind, entry.requestId, entry.body.equals(body)])).toEqual([[Kind.RESPONSE, 7, true]]);
    expect(peer.errorFrame()).toBeUndefined();
  });
});

describe('frames before the handshake completes, at the client', () => {
  it('a server answering with a 16 MiB HELLO_ACK header is refused with HW_ERR_FRAME_TOO_LARGE at once, without the body', async () => {
    const impostor = net.createServer((socket) => {
      socket.on('error', () => {});
      socket.once('data', () => socket.write(headerOnly(FrameType.HELLO_ACK, 16 * 1024 * 1024)));
    });
    await new Promise<void>((resolve) => impostor.listen(0, '127.0.0.1', resolve));
    defer(() => new Promise<void>((resolve) => impostor.close(() => resolve())));
    const { port } = impostor.address() as net.AddressInfo;
    // The connect timeout is far away: only the frame limit can end the attempt in time.
    const attempt = connect({ host: '127.0.0.1', tcpPort: port, udpPort: false, connectTimeoutMs: 60_000, reconnect: false });
    await expect(attempt).rejects.toMatchObject({ code: 'HW_ERR_FRAME_TOO_LARGE' });
  }, 10_000);
});
