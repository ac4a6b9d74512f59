/**
 * Compression over real sockets: each algorithm end to end with its stats, the choice from both
 * sides' lists, messages that would not shrink, and bombs from a raw peer refused with
 * HW_ERR_DECOMPRESSED_TOO_LARGE before the server spends the memory (docs/PROTOCOL.md, section 12).
 */
import { randomBytes } from 'node:crypto';
import zlib from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { codecOf } from '../../ts/compression/algorithms.js';
import { FrameEncoder, FrameFlag, FrameType, type Peer } from '../../ts/index.js';
import { RawPeer, nextEvent } from '../support/raw-peer.js';
import { closeAfterEach, startClient, startServer } from '../support/sessions.js';

closeAfterEach();

const TELEMETRY = { readings: Array.from({ length: 300 }, (_, i) => ({ device: `sensor-${i % 12}`, ts: 1764763000000 + i * 1000, temperature: 20 + (i % 9) * 0.25, ok: true })) };

async function session(serverCompression: object | undefined, clientCompression: object | undefined) {
  const { server, tcpPort } = await startServer({ udpPort: false, ...(serverCompression ? { compression: serverCompression } : {}) });
  server.handle('echo-big', (payload) => payload);
  const connected = nextEvent<[Peer]>(server, 'connection');
  const client = await startClient({ tcpPort, udpPort: false, ...(clientCompression ? { compression: clientCompression } : {}) });
  const [peer] = await connected;
  return { server, client, peer, tcpPort };
}

describe('compression between a client and a server', () => {
  for (const algorithm of ['lz4', 'zstd', 'gzip', 'deflate', 'brotli'] as const) {
    it(`${algorithm}: large messages go compressed both ways and arrive intact, counted in stats`, async () => {
      const { server, client, peer } = await session({ algorithm, threshold: 256 }, { algorithm: [algorithm], threshold: 256 });
      expect(await client.request('echo-big', TELEMETRY)).toEqual(TELEMETRY);
      expect(await client.request('echo-big', 'short')).toBe('short');
      const stats = client.stats!;
      expect(stats.compressionAlgorithm).toBe(algorithm);
      expect(peer.stats.compressionAlgorithm).toBe(algorithm);
      expect(stats.compressedOut).toBe(1);
      expect(stats.compressedIn).toBe(1);
      expect(stats.compression).toMatchObject({ algorithm, messagesCompressed: 1, messagesDecompressed: 1, refused: 0 });
      const plain = JSON.stringify(TELEMETRY).length;
      expect(stats.compression.plainBytesOut).toBeGreaterThan(plain);
      expect(stats.compression.ratioOut).toBeGreaterThan(3);
      expect(stats.compression.bytesSaved).toBeGreaterThan(plain);
      expect(stats.compression.timeMs).toBeGreaterThan(0);
      expect(server.stats().compression).toMatchObject({ algorithms: [algorithm], messagesCompressed: 1, messagesDecompressed: 1 });
      expect(server.stats().compression.ratioIn).toBeCloseTo(stats.compression.ratioOut, 5);
    });
  }

  it("uses the first of the client's list that the server has, or the server's order when it named its own", async () => {
    const first = await session(undefined, { algorithm: ['brotli', 'zstd'] });
    expect(first.client.stats!.compressionAlgorithm).toBe('brotli');
    const second = await session({ algorithm: ['gzip', 'zstd'] }, { algorithm: ['zstd', 'brotli', 'gzip'] });
    expect(second.client.stats!.compressionAlgorithm).toBe('gzip');
    expect(second.peer.stats.compressionAlgorithm).toBe('gzip');
  });

  it('without an algorithm in common the session has none, and large messages go as they are', async () => {
    const { client, peer } = await session({ algorithm: 'gzip', threshold: 256 }, { algorithm: ['zstd'], threshold: 256 });
    expect(client.stats!.compressionAlgorithm).toBeUndefined();
    expect(await client.request('echo-big', TELEMETRY)).toEqual(TELEMETRY);
    expect(client.stats!.compressedOut).toBe(0);
    expect(peer.stats.compressedOut).toBe(0);
  });

  it('sends a message that would not shrink as it is, and counts it', async () => {
    const { client } = await session(undefined, { algorithm: 'zstd', threshold: 256 });
    const noise = randomBytes(8192);
    expect(Buffer.from((await client.request('echo-big', noise)) as Uint8Array).equals(noise)).toBe(true);
    expect(client.stats!.compressedOut).toBe(0);
    expect(client.stats!.compression.messagesNotShrunk).toBe(1);
  });

  it('compressThreshold still turns compression on, with the algorithms both sides accept by default', async () => {
    const { server, tcpPort } = await startServer({ udpPort: false, compressThreshold: 256 });
    server.handle('echo-big', (payload) => payload);
    const client = await startClient({ tcpPort, udpPort: false, compressThreshold: 256 });
    expect(await client.request('echo-big', TELEMETRY)).toEqual(TELEMETRY);
    expect(client.stats).toMatchObject({ compressionAlgorithm: 'lz4', compressedOut: 1, compressedIn: 1 });
  });
});

describe('compression over reliable UDP', () => {
  it('reliable UDP messages go compressed both ways once the session agreed udp-compression; unreliable ones never', async () => {
    const { server, tcpPort, udpPort } = await startServer({ compression: { algorithm: 'lz4', threshold: 256 } });
    server.handle('echo-big', (payload) => payload);
    const connected = nextEvent<[Peer]>(server, 'connection');
    const client = await startClient({ tcpPort, udpPort, compression: { algorithm: 'lz4', threshold: 256 } });
    const [peer] = await connected;
    // The path is ready once the first reliable request has its answer.
    expect(await client.request('echo-big', TELEMETRY, { transport: 'udp', reliable: true })).toEqual(TELEMETRY);
    expect(client.stats).toMatchObject({ compressionAlgorithm: 'lz4', compressedOut: 1, compressedIn: 1 });
    expect(peer.stats).toMatchObject({ compressedOut: 1, compressedIn: 1 });
    // Far fewer bytes than the message crossed UDP each way.
    expect(client.stats!.udp.bytesOut).toBeLessThan(JSON.stringify(TELEMETRY).length / 3);
    const before = client.stats!.compressedOut;
    client.send('echo-big', TELEMETRY, { transport: 'udp' });
    expect(client.stats!.compressedOut).toBe(before);
  });
});

describe('compression bombs from a raw peer', () => {
  /** A COMPRESSED MESSAGE frame whose payload states `size` and carries `data`. */
  const compressedFrame = (size: number, data: Buffer, sequence = 0) => {
    const stated = Buffer.alloc(4);
    stated.writeUInt32LE(size, 0);
    return Buffer.concat(new FrameEncoder().encode([{ type: FrameType.MESSAGE, flags: FrameFlag.COMPRESSED, sequence, payload: Buffer.concat([stated, data]) }]));
  };

  async function bombed(algorithm: string, frame: Buffer): Promise<{ code: string | undefined; served: unknown }> {
    const { tcpPort, client } = await session({ maxFrameSize: 1 << 20 }, undefined).then(async (s) => s);
    const peer = await RawPeer.connect(tcpPort);
    try {
      const ack = await peer.handshake({ compression: [algorithm] });
      expect(ack.compression).toBe(algorithm);
      peer.socket.write(frame);
      await peer.waitClosed();
      return { code: peer.errorFrame()?.code, served: await client.request('echo-big', 'still here', { timeoutMs: 2000 }) };
    } finally {
      peer.destroy();
    }
  }

  for (const algorithm of ['zstd', 'gzip', 'deflate', 'brotli', 'lz4']) {
    it(`${algorithm}: 64 MiB of zeros stated as 1000 bytes is refused with HW_ERR_DECOMPRESSED_TOO_LARGE; other sessions go on`, async () => {
      const codec = codecOf(algorithm)!;
      const bomb = codec.compress(Buffer.alloc(64 << 20), codec.levels.default);
      const heapBefore = process.memoryUsage().arrayBuffers;
      const { code, served } = await bombed(algorithm, compressedFrame(1000, bomb));
      expect(code).toBe('HW_ERR_DECOMPRESSED_TOO_LARGE');
      expect(served).toBe('still here');
      // The 64 MiB were never made: far less than that was allocated outside the heap meanwhile.
      expect(process.memoryUsage().arrayBuffers - heapBefore).toBeLessThan(32 << 20);
    });
  }

  it('a stated size above maxFrameSize is refused before decompressing', async () => {
    const { code, served } = await bombed('gzip', compressedFrame(64 << 20, zlib.gzipSync(Buffer.alloc(64 << 20))));
    expect(code).toBe('HW_ERR_DECOMPRESSED_TOO_LARGE');
    expect(served).toBe('still here');
  });
});
