/**
 * A client's side of the UDP path (docs/PROTOCOL.md 4, 4.1, 4.3): it takes datagrams only from the
 * server's address and port, answers only the server's challenges, and refuses a PATH_RESPONSE.
 */
import dgram from 'node:dgram';
import net from 'node:net';
import { once } from 'node:events';
import { describe, expect, it } from 'vitest';
import { FrameDecoder, FrameEncoder, FrameType, connect, type Client, type Peer } from '../../ts/index.js';
import { cleanupAfterEach, client, startServer, udpCounters } from '../support/abuse.js';
import { waitUntil, within } from '../support/wait.js';
import { Encoding, INLINE, Kind, PATH_CHALLENGE, PATH_RESPONSE, datagram, message } from '../support/wire.js';

const defer = cleanupAfterEach();

/** A UDP socket bound to `host` and `port` (0: any free one), closed after the test. */
async function socketAt(host: string, port = 0): Promise<dgram.Socket> {
  const socket = dgram.createSocket('udp4');
  socket.on('error', () => {});
  socket.bind(port, host);
  await once(socket, 'listening');
  defer(() => new Promise<void>((resolve) => socket.close(() => resolve())));
  return socket;
}

function sendFrom(socket: dgram.Socket, bytes: Buffer, port: number): Promise<void> {
  return new Promise((resolve, reject) => socket.send(bytes, port, '127.0.0.1', (error) => (error ? reject(error) : resolve())));
}

/** A server, a client whose UDP path is validated, the server's view of it, and the session's token. */
async function scene(): Promise<{ udpPort: number; c: Client; peer: Peer; token: Buffer; news: string[] }> {
  const { server, tcpPort, udpPort } = await startServer(defer);
  const c = await client(defer, { tcpPort, udpPort });
  await waitUntil(() => c.udpReady, 5000, "the client's UDP path");
  const peer = server.peers.get(c.sessionId!)!;
  const token = Buffer.from(peer.connection.udpPath!.token);
  const news: string[] = [];
  c.handle('news', (payload) => {
    news.push(String(payload));
  });
  return { udpPort, c, peer, token, news };
}

function forgedNews(token: Buffer, text: string): Buffer {
  return datagram(token, [{ type: FrameType.MESSAGE, payload: message({ alias: INLINE, encoding: Encoding.JSON, kind: Kind.MESSAGE, inlineName: 'news', body: JSON.stringify(text) }) }]);
}

describe("a client's UDP socket", () => {
  it("drops datagrams with its token from another address at the server's port, or from another port", async () => {
    const s = await scene();
    const clientPort = s.peer.udpAddress!.port;
    // 127.0.0.2 is another address on loopback; the server's UDP socket is bound to 127.0.0.1.
    const otherAddress = await socketAt('127.0.0.2', s.udpPort);
    const otherPort = await socketAt('127.0.0.1');
    await sendFrom(otherAddress, forgedNews(s.token, 'from 127.0.0.2'), clientPort);
    await sendFrom(otherPort, forgedNews(s.token, 'from another port'), clientPort);
    // Sent after the forged ones, into the same socket: once it is in, they were read before it.
    s.peer.send('news', 'from the server', { transport: 'udp' });
    await waitUntil(() => s.news.length > 0, 3000, 'the server\'s message');
    expect(s.news).toEqual(['from the server']);
  });

  it("answers only the server's PATH_CHALLENGEs: one from another address draws no PATH_RESPONSE", async () => {
    const { server, tcpPort, udpPort } = await startServer(defer);
    const c = await client(defer, { tcpPort, udpPort });
    await waitUntil(() => c.udpReady, 5000, "the client's UDP path");
    const peer = server.peers.get(c.sessionId!)!;
    const token = Buffer.from(peer.connection.udpPath!.token);
    const other = await socketAt('127.0.0.2', udpPort);
    await sendFrom(other, datagram(token, [{ type: PATH_CHALLENGE, payload: Buffer.alloc(8, 0x77) }]), peer.udpAddress!.port);
    // A request over TCP after it: its answer comes after any PATH_RESPONSE the client would have sent.
    expect(await c.request('echo', 'after')).toBe('after');
    expect(udpCounters(server).unmatchedPathResponses).toBe(0);
  });
});

describe('a client on TCP', () => {
  it('closes with HW_ERR_UNKNOWN_FRAME_TYPE on a PATH_RESPONSE (clients send them, servers do not)', async () => {
    // A raw server: accepts the handshake, confirms it, then sends a PATH_RESPONSE.
    const encoder = new FrameEncoder();
    const listener = net.createServer((socket) => {
      const decoder = new FrameDecoder();
      socket.on('error', () => {});
      socket.on('data', (chunk) => {
        const count = decoder.push(chunk);
        for (let i = 0; i < count; i++) {
          if (decoder.type(i) === FrameType.HELLO) {
            const ack = {
              accepted: true,
              version: '1.0.0',
              sessionId: 'raw',
              token: '746f6b656e414141',
              features: [],
              mode: 'burst',
              maxPacketSize: 65536,
              windowSize: 64,
              heartbeatIntervalMs: 1000,
              heartbeatTimeoutMs: 5000,
              udpPort: 0,
            };
            for (const b of encoder.encode([{ type: FrameType.HELLO_ACK, payload: Buffer.from(JSON.stringify(ack)) }])) socket.write(b);
          } else if (decoder.type(i) === FrameType.HELLO_DONE) {
            for (const b of encoder.encode([{ type: FrameType.ACK }, { type: PATH_RESPONSE, payload: Buffer.alloc(8) }])) socket.write(b);
          }
        }
      });
    });
    await new Promise<void>((resolve) => listener.listen(0, '127.0.0.1', resolve));
    defer(() => new Promise<void>((resolve) => listener.close(() => resolve())));
    const tcpPort = (listener.address() as net.AddressInfo).port;
    const c = await connect({ host: '127.0.0.1', tcpPort, udpPort: false });
    defer(() => c.close());
    const [error] = (await within(once(c, 'disconnect'), 3000, 'the client to close')) as [Error & { code?: string }];
    expect(error.code).toBe('HW_ERR_UNKNOWN_FRAME_TYPE');
  });
});
