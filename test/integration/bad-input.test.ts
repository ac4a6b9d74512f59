import dgram from 'node:dgram';
import { afterEach, describe, expect, it } from 'vitest';
import { connect, createServer, FrameEncoder, FrameFlag, FrameType, lz4Compress, type Client, type Peer, type Server } from '../../ts/index.js';
import { RawPeer, nextEvent } from '../support/raw-peer.js';

const cleanup: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const step of cleanup.splice(0).reverse()) await step();
});

async function setup(options: Parameters<typeof createServer>[0] = {}): Promise<{ server: Server; tcpPort: number; udpPort: number; bystander: Client }> {
  const server = createServer({ host: '127.0.0.1', closeTimeoutMs: 200, ...options });
  const { tcpPort, udpPort } = await server.listen();
  cleanup.push(() => server.close());
  // A well-behaved client that must keep being served whatever the others do.
  const bystander = await connect({ host: '127.0.0.1', tcpPort, udpPort: udpPort ?? false });
  cleanup.push(() => bystander.close());
  return { server, tcpPort, udpPort: udpPort ?? 0, bystander };
}

async function rawPeer(port: number): Promise<RawPeer> {
  const peer = await RawPeer.connect(port);
  cleanup.push(() => peer.destroy());
  return peer;
}

async function stillServed(client: Client): Promise<void> {
  expect(await client.request('echo', 'still here', { timeoutMs: 2000 })).toBe('still here');
}

describe('bad input closes only the offending peer, with an ERROR frame and a code', () => {
  it('garbage bytes', async () => {
    const { server, tcpPort, bystander } = await setup();
    const errors: unknown[] = [];
    server.on('peerError', (_peer, error) => errors.push(error));
    const peer = await rawPeer(tcpPort);
    peer.socket.write(Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n'));
    await peer.waitClosed();
    expect(peer.errorFrame()?.code).toBe('HW_ERR_BAD_VERSION');
    await stillServed(bystander);
    expect(server.stats().protocolErrors).toBeGreaterThanOrEqual(1);
    expect(errors.length).toBeGreaterThanOrEqual(1);
  });

  it('a frame with a bad checksum, after a good handshake', async () => {
    const { server, tcpPort, bystander } = await setup();
    const peer = await rawPeer(tcpPort);
    const connected = nextEvent<[Peer]>(server, 'connection');
    await peer.handshake();
    const [serverSide] = await connected;
    const disconnected = nextEvent<[Peer, Error]>(server, 'disconnect');
    const frame = Buffer.concat(new FrameEncoder().encode([{ type: FrameType.PING, payload: Buffer.alloc(8) }]));
    frame[frame.length - 1]! ^= 0xff;
    peer.socket.write(frame);
    await peer.waitClosed();
    expect(peer.errorFrame()?.code).toBe('HW_ERR_BAD_CHECKSUM');
    const [gone, error] = await disconnected;
    expect(gone).toBe(serverSide);
    expect((error as { code?: string }).code).toBe('HW_ERR_BAD_CHECKSUM');
    await stillServed(bystander);
  });

  it('an oversized length is refused as soon as the header arrives', async () => {
    const { tcpPort, bystander } = await setup({ maxFrameSize: 64 * 1024 });
    const peer = await rawPeer(tcpPort);
    const header = Buffer.concat(new FrameEncoder().encode([{ type: FrameType.MESSAGE, payload: Buffer.alloc(4) }])).subarray(0, 16);
    header.writeUInt32LE(0x7fffffff, 8);
    peer.socket.write(header);
    await peer.waitClosed();
    expect(peer.errorFrame()?.code).toBe('HW_ERR_FRAME_TOO_LARGE');
    await stillServed(bystander);
  });

  it('a handshake out of order: a message before HELLO, HELLO_DONE before HELLO, two HELLOs', async () => {
    const { tcpPort, bystander } = await setup();
    const early = await rawPeer(tcpPort);
    early.sendFrame(FrameType.MESSAGE, Buffer.from([1, 0, 1, 0, 0x31]));
    await early.waitClosed();
    expect(early.errorFrame()?.code).toBe('HW_ERR_HANDSHAKE_ORDER');

    const done = await rawPeer(tcpPort);
    done.sendJson(FrameType.HELLO_DONE, { sessionId: 'x' });
    await done.waitClosed();
    expect(done.errorFrame()?.code).toBe('HW_ERR_HANDSHAKE_ORDER');

    const twice = await rawPeer(tcpPort);
    await twice.handshake();
    twice.sendJson(FrameType.HELLO, { version: '1.0.0', features: [], mode: 'burst', maxPacketSize: 1024, windowSize: 1 });
    await twice.waitClosed();
    expect(twice.errorFrame()?.code).toBe('HW_ERR_HANDSHAKE_ORDER');
    await stillServed(bystander);
  });

  it('a malformed HELLO and an incompatible major version are refused with clear errors', async () => {
    const { tcpPort, bystander } = await setup();
    const malformed = await rawPeer(tcpPort);
    malformed.sendFrame(FrameType.HELLO, Buffer.from('{not json'));
    await malformed.waitClosed();
    expect(malformed.errorFrame()?.code).toBe('HW_ERR_BAD_HANDSHAKE');

    const future = await rawPeer(tcpPort);
    const ack = await future.handshake({ version: '2.0.0', features: ['json', 'teleport'] });
    expect(ack).toMatchObject({ accepted: false, code: 'HW_ERR_VERSION_MISMATCH' });
    expect(String(ack.reason)).toMatch(/2\.0\.0.*1\.\d+\.\d+/);
    await future.waitClosed();

    // Unknown features are ignored, not refused.
    const newer = await rawPeer(tcpPort);
    const accepted = await newer.handshake({ version: '1.9.0', features: ['json', 'teleport'], udp: { mtu: 600, window: 8, reassemblyBytes: 1 << 30 } });
    expect(accepted).toMatchObject({ accepted: true, features: ['json'] });
    // UDP settings both ends must share come back as the smaller of each offer (the span 1024, and
    // the largest datagram the mtu, when the client names none); the ack delay, which each end's
    // timers must allow for, as the larger (10 ms when the client names none).
    expect(accepted.udp).toEqual({ mtu: 600, window: 8, reassemblyBytes: 4 * 1024 * 1024, ackDelayMs: 10, span: 1024, maxMtu: 600 });
    const slowAcker = await rawPeer(tcpPort);
    const slow = await slowAcker.handshake({ version: '1.0.0', features: ['json'], udp: { mtu: 1200, window: 64, reassemblyBytes: 65536, ackDelayMs: 25, span: 65536 } });
    expect(slow.udp).toEqual({ mtu: 1200, window: 64, reassemblyBytes: 65536, ackDelayMs: 25, span: 16384, maxMtu: 1200 });
    // A client that offers no udp object gets the server's values, but the span and largest
    // datagram of a peer that names none.
    const silent = await rawPeer(tcpPort);
    expect((await silent.handshake({ version: '1.0.0', features: ['json'] })).udp).toEqual({
      mtu: 1200,
      window: 16384,
      reassemblyBytes: 4 * 1024 * 1024,
      ackDelayMs: 10,
      span: 1024,
      maxMtu: 1200,
    });
    const narrow = await rawPeer(tcpPort);
    expect((await narrow.handshake({ version: '1.0.0', features: ['json'], udp: { mtu: 1200, window: 64, reassemblyBytes: 65536, span: 2048, maxMtu: 9000 } })).udp).toMatchObject({
      span: 2048,
      maxMtu: 9000,
    });

    const badDelay = await rawPeer(tcpPort);
    badDelay.sendJson(FrameType.HELLO, { version: '1.0.0', features: [], mode: 'burst', maxPacketSize: 1024, windowSize: 1, udp: { mtu: 1200, window: 1, reassemblyBytes: 4096, ackDelayMs: 5000 } });
    await badDelay.waitClosed();
    expect(badDelay.errorFrame()?.code).toBe('HW_ERR_BAD_HANDSHAKE');

    const badMaxMtu = await rawPeer(tcpPort);
    badMaxMtu.sendJson(FrameType.HELLO, { version: '1.0.0', features: [], mode: 'burst', maxPacketSize: 1024, windowSize: 1, udp: { mtu: 1200, window: 1, reassemblyBytes: 4096, maxMtu: 1000 } });
    await badMaxMtu.waitClosed();
    expect(badMaxMtu.errorFrame()?.message).toMatch(/udp\.maxMtu must be from mtu to 65507/);

    const badSpan = await rawPeer(tcpPort);
    badSpan.sendJson(FrameType.HELLO, { version: '1.0.0', features: [], mode: 'burst', maxPacketSize: 1024, windowSize: 1, udp: { mtu: 1200, window: 1, reassemblyBytes: 4096, span: 3000 } });
    await badSpan.waitClosed();
    expect(badSpan.errorFrame()?.code).toBe('HW_ERR_BAD_HANDSHAKE');
    expect(badSpan.errorFrame()?.message).toMatch(/udp\.span must be a power of two/);

    const badUdp = await rawPeer(tcpPort);
    badUdp.sendJson(FrameType.HELLO, { version: '1.0.0', features: [], mode: 'burst', maxPacketSize: 1024, windowSize: 1, udp: { mtu: 5, window: 1, reassemblyBytes: 4096 } });
    await badUdp.waitClosed();
    expect(badUdp.errorFrame()?.code).toBe('HW_ERR_BAD_HANDSHAKE');
    await stillServed(bystander);
  });

  it('a client gets HW_ERR_VERSION_MISMATCH from a server of another major version', async () => {
    const fake = createServer({ host: '127.0.0.1', udpPort: false });
    const { tcpPort } = await fake.listen();
    await fake.close();
    // A raw "server" that answers every HELLO with a refusal, as a 2.x server would.
    const net = await import('node:net');
    const listener = net.createServer((socket) => {
      socket.once('data', () => {
        const refusal = Buffer.from(JSON.stringify({ accepted: false, version: '2.0.0', code: 'HW_ERR_VERSION_MISMATCH', reason: 'this server speaks 2.0.0' }));
        for (const b of new FrameEncoder().encode([{ type: FrameType.HELLO_ACK, payload: refusal }])) socket.write(b);
        socket.end();
      });
    });
    await new Promise<void>((resolve) => listener.listen(tcpPort, '127.0.0.1', resolve));
    cleanup.push(() => new Promise<void>((resolve) => listener.close(() => resolve())));
    await expect(connect({ tcpPort, udpPort: false })).rejects.toMatchObject({ code: 'HW_ERR_VERSION_MISMATCH', message: expect.stringMatching(/2\.0\.0/) });
  });

  it('a peer that goes silent is declared dead after heartbeatTimeoutMs and cleaned up', async () => {
    const { server, tcpPort, bystander } = await setup({ heartbeatIntervalMs: 20, heartbeatTimeoutMs: 150 });
    const silent = await rawPeer(tcpPort);
    const connected = nextEvent<[Peer]>(server, 'connection');
    await silent.handshake();
    const [peer] = await connected;
    expect(server.peers.has(peer.id)).toBe(true);
    // The raw peer never answers PINGs nor sends anything.
    const [gone, error] = await nextEvent<[Peer, Error]>(server, 'disconnect', 5000);
    expect(gone).toBe(peer);
    expect((error as { code?: string }).code).toBe('HW_ERR_HEARTBEAT_TIMEOUT');
    expect(server.peers.has(peer.id)).toBe(false);
    expect(silent.frames.some((frame) => frame.type === FrameType.PING)).toBe(true);
    await silent.waitClosed();
    expect(silent.errorFrame()?.code).toBe('HW_ERR_HEARTBEAT_TIMEOUT');
    await stillServed(bystander);
  });

  it('a client whose server goes silent tells it HW_ERR_HEARTBEAT_TIMEOUT in an ERROR frame, then disconnects', async () => {
    const net = await import('node:net');
    const { answerHello, parseHello } = await import('../../ts/session/handshake.js');
    const { FrameDecoder } = await import('../../ts/index.js');
    // A raw "server": it completes the handshake with a short heartbeat, then sends nothing more.
    const received: number[] = [];
    let errorCode: string | undefined;
    const serverSockets: Array<import('node:net').Socket> = [];
    const listener = net.createServer((socket) => {
      serverSockets.push(socket);
      const decoder = new FrameDecoder();
      const encoder = new FrameEncoder();
      socket.on('error', () => {});
      socket.on('data', (chunk) => {
        const count = decoder.push(chunk);
        for (let i = 0; i < count; i++) {
          const type = decoder.type(i);
          received.push(type);
          if (type === FrameType.HELLO) {
            const limits = { maxPacketSize: 1 << 20, windowSize: 64, heartbeatIntervalMs: 20, heartbeatTimeoutMs: 150, udpPort: 0, udp: { mtu: 1200, window: 64, reassemblyBytes: 1 << 20 } };
            const ack = answerHello(parseHello(decoder.payload(i)), limits, 'silent', '0011223344556677');
            for (const buffer of encoder.encode([{ type: FrameType.HELLO_ACK, payload: Buffer.from(JSON.stringify(ack)) }])) socket.write(buffer);
          } else if (type === FrameType.HELLO_DONE) {
            for (const buffer of encoder.encode([{ type: FrameType.ACK, sequence: 0 }])) socket.write(buffer);
          } else if (type === FrameType.ERROR) {
            errorCode = (JSON.parse(Buffer.from(decoder.payload(i)).toString()) as { code: string }).code;
          }
        }
      });
    });
    await new Promise<void>((resolve) => listener.listen(0, '127.0.0.1', resolve));
    cleanup.push(() => new Promise<void>((resolve) => listener.close(() => resolve())));
    cleanup.push(() => serverSockets.forEach((socket) => socket.destroy()));
    const client = await connect({ host: '127.0.0.1', tcpPort: (listener.address() as import('node:net').AddressInfo).port, udpPort: false, closeTimeoutMs: 200 });
    cleanup.push(() => client.close());
    const [error] = await nextEvent<[Error | undefined]>(client, 'disconnect', 5000);
    expect((error as { code?: string } | undefined)?.code).toBe('HW_ERR_HEARTBEAT_TIMEOUT');
    expect(received).toContain(FrameType.PING);
    expect(errorCode).toBe('HW_ERR_HEARTBEAT_TIMEOUT');
  });

  it('a connection that never completes the handshake is closed after handshakeTimeoutMs', async () => {
    const { tcpPort, bystander } = await setup({ handshakeTimeoutMs: 100 });
    const silent = await rawPeer(tcpPort);
    await silent.waitClosed(3000);
    expect(silent.errorFrame()?.code).toBe('HW_ERR_HANDSHAKE_TIMEOUT');
    await stillServed(bystander);
  });

  it('a peer that ignores the delivery window is cut off with HW_ERR_WINDOW_OVERFLOW', async () => {
    const { tcpPort, bystander } = await setup({ windowSize: 4 });
    const peer = await rawPeer(tcpPort);
    await peer.handshake({ windowSize: 4 });
    peer.sendFrame(FrameType.TYPE_DEF, Buffer.concat([Buffer.from([1, 0]), Buffer.from('flood')]), 0);
    const frames = Array.from({ length: 20 }, (_, i) => ({ type: FrameType.MESSAGE, sequence: i + 1, payload: Buffer.from([1, 0, 2, 0]) }));
    peer.socket.write(Buffer.concat(new FrameEncoder().encode(frames)));
    await peer.waitClosed();
    expect(peer.errorFrame()?.code).toBe('HW_ERR_WINDOW_OVERFLOW');
    await stillServed(bystander);
  });

  it('compressed frames that lie about their size, or are corrupt, close the peer', async () => {
    const { tcpPort, bystander } = await setup({ maxFrameSize: 64 * 1024 });
    const bomb = await rawPeer(tcpPort);
    await bomb.handshake({ features: ['json', 'lz4'] });
    const claim = Buffer.alloc(4);
    claim.writeUInt32LE(1 << 30, 0);
    bomb.socket.write(Buffer.concat(new FrameEncoder().encode([{ type: FrameType.MESSAGE, flags: FrameFlag.COMPRESSED, payload: Buffer.concat([claim, lz4Compress(Buffer.alloc(1000))]) }])));
    await bomb.waitClosed();
    expect(bomb.errorFrame()?.code).toBe('HW_ERR_FRAME_TOO_LARGE');
    const corrupt = await rawPeer(tcpPort);
    await corrupt.handshake({ features: ['json', 'lz4'] });
    const size = Buffer.alloc(4);
    size.writeUInt32LE(100, 0);
    corrupt.socket.write(Buffer.concat(new FrameEncoder().encode([{ type: FrameType.MESSAGE, flags: FrameFlag.COMPRESSED, payload: Buffer.concat([size, Buffer.from([0xf0, 0xff, 0xff])]) }])));
    await corrupt.waitClosed();
    expect(corrupt.errorFrame()?.code).toBe('HW_ERR_LZ4_CORRUPT');
    await stillServed(bystander);
  });

  it('sequence gaps, unknown aliases and unknown critical frame types', async () => {
    const { tcpPort, bystander } = await setup();
    const gap = await rawPeer(tcpPort);
    await gap.handshake();
    gap.sendFrame(FrameType.MESSAGE, Buffer.from([1, 0, 2, 0]), 5);
    await gap.waitClosed();
    expect(gap.errorFrame()?.code).toBe('HW_ERR_SEQUENCE');

    const alias = await rawPeer(tcpPort);
    await alias.handshake();
    alias.sendFrame(FrameType.MESSAGE, Buffer.from([9, 0, 2, 0]), 0);
    await alias.waitClosed();
    expect(alias.errorFrame()?.code).toBe('HW_ERR_UNKNOWN_ALIAS');

    const unknown = await rawPeer(tcpPort);
    await unknown.handshake();
    unknown.sendFrame(0xc0, Buffer.from('ignorable extension'));
    unknown.sendFrame(0x70, Buffer.from('critical'));
    await unknown.waitClosed();
    expect(unknown.errorFrame()?.code).toBe('HW_ERR_UNKNOWN_FRAME_TYPE');
    await stillServed(bystander);
  });

  it('a flood of unauthenticated or corrupt datagrams is dropped and counted, never handled', async () => {
    const { server, udpPort, bystander } = await setup();
    let handled = 0;
    server.handle('evil', () => {
      handled++;
    });
    const socket = dgram.createSocket('udp4');
    cleanup.push(() => new Promise<void>((resolve) => socket.close(() => resolve())));
    const message = Buffer.concat(new FrameEncoder().encode([{ type: FrameType.MESSAGE, payload: Buffer.concat([Buffer.from([0xff, 0xff, 2, 0, 4]), Buffer.from('evil')]) }]));
    const before = server.stats().udp;
    const socketBefore = server.stats().udpSocket!;
    const sent = 2000;
    // Paced in small batches so that the kernel's receive buffer, not the test, decides little.
    for (let i = 0; i < sent; i++) {
      const token = Buffer.alloc(8);
      token.writeUInt32LE(i + 1, 0);
      socket.send(i % 2 === 0 ? Buffer.concat([token, message]) : Buffer.from([i & 0xff]), udpPort, '127.0.0.1');
      if (i % 50 === 49) await new Promise((resolve) => setTimeout(resolve, 1));
    }
    await stillServed(bystander);
    const deadline = Date.now() + 5000;
    while (server.stats().udp.droppedUnauthenticated - before.droppedUnauthenticated < sent * 0.9 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    const after = server.stats().udp;
    const arrived = after.datagramsIn - before.datagramsIn;
    expect(arrived).toBeGreaterThanOrEqual(sent * 0.9);
    // The flood was dropped and counted (the bystander's own datagrams may arrive meanwhile);
    // none reached a handler.
    const dropped = after.droppedUnauthenticated - before.droppedUnauthenticated;
    expect(dropped).toBeGreaterThanOrEqual(sent * 0.9);
    expect(dropped).toBeLessThanOrEqual(arrived);
    expect(after.messagesIn).toBe(before.messagesIn);
    expect(handled).toBe(0);
    // The socket's own count saw every datagram the server did.
    expect(server.stats().udpSocket!.datagramsReceived - socketBefore.datagramsReceived).toBeGreaterThanOrEqual(arrived);

    // A datagram with the bystander's real token but a corrupted frame is dropped as malformed.
    const token = Buffer.from((bystander as unknown as { connection: { udpPath: { token: Buffer } } }).connection.udpPath.token);
    const corrupt = Buffer.from(message);
    corrupt[corrupt.length - 1]! ^= 1;
    const malformedBefore = server.stats().udp.droppedMalformed;
    // Loopback can still drop a datagram: resend until one is counted.
    const resend = setInterval(() => socket.send(Buffer.concat([token, corrupt]), udpPort, '127.0.0.1'), 20);
    const until = Date.now() + 5000;
    while (server.stats().udp.droppedMalformed === malformedBefore && Date.now() < until) await new Promise((r) => setTimeout(r, 10));
    clearInterval(resend);
    expect(server.stats().udp.droppedMalformed).toBeGreaterThan(malformedBefore);
    expect(handled).toBe(0);
    await stillServed(bystander);
  });
});
