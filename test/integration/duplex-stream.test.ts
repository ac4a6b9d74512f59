/**
 * ts/streams (client.openStream, peer.openStream, the 'stream' events) over real sockets on
 * 127.0.0.1: files carried intact over TCP and reliable UDP, names on both sides, flow control
 * per stream (a reader that does not read stalls nothing else), half-close each way, resets with
 * codes, the stream limit, and the statistics.
 */
import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Client, HybridwireStream, Peer, Server } from '../../ts/index.js';
import { closeAfterEach, startClient, startServer } from '../support/sessions.js';
import { nextEvent } from '../support/raw-peer.js';
import { waitUntil, within } from '../support/wait.js';

closeAfterEach();

const MiB = 1024 * 1024;
let directory: string;
let bigFile: string;
let bigHash: string;

beforeAll(async () => {
  directory = await fs.promises.mkdtemp(path.join(os.tmpdir(), 'hybridwire-streams-'));
  bigFile = path.join(directory, 'hundred-mib.bin');
  // 100 MiB of random bytes, written in 1 MiB pieces and hashed as they are written.
  const hash = createHash('sha256');
  const out = fs.createWriteStream(bigFile);
  for (let i = 0; i < 100; i++) {
    const piece = randomBytes(MiB);
    hash.update(piece);
    if (!out.write(piece)) await once(out, 'drain');
  }
  out.end();
  await once(out, 'finish');
  bigHash = hash.digest('hex');
}, 60_000);

afterAll(async () => {
  await fs.promises.rm(directory, { recursive: true, force: true });
});

async function pair(options: Record<string, number> = {}): Promise<{ server: Server; client: Client }> {
  const { server, tcpPort } = await startServer(options);
  const client = await startClient({ tcpPort, ...options });
  return { server, client };
}

async function udpPair(options: Record<string, number> = {}): Promise<{ server: Server; client: Client }> {
  const result = await pair(options);
  await waitUntil(() => result.client.udpReady, 5000, "the client's UDP path");
  return result;
}

/** Resolves with the SHA-256 and length of everything read from `stream`. */
async function digest(stream: NodeJS.ReadableStream): Promise<{ hash: string; bytes: number }> {
  const hash = createHash('sha256');
  let bytes = 0;
  for await (const chunk of stream as AsyncIterable<Buffer>) {
    hash.update(chunk);
    bytes += chunk.length;
  }
  return { hash: hash.digest('hex'), bytes };
}

/** Reads all of `stream` into one buffer. */
async function readAll(stream: NodeJS.ReadableStream): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream as AsyncIterable<Buffer>) chunks.push(chunk);
  return Buffer.concat(chunks);
}

/** The next stream `emitter` announces. */
function nextStream(emitter: NodeJS.EventEmitter, timeoutMs = 5000): Promise<[HybridwireStream, Peer | Client]> {
  return nextEvent<[HybridwireStream, Peer | Client]>(emitter, 'stream', timeoutMs);
}

describe('a file through stream.pipeline', () => {
  for (const transport of ['tcp', 'udp'] as const) {
    it(`carries 100 MiB intact over ${transport === 'tcp' ? 'TCP' : 'reliable UDP'} (SHA-256)`, async () => {
      const { server, client } = transport === 'tcp' ? await pair() : await udpPair();
      const received = nextStream(server).then(([stream]) => digest(stream));
      const stream = client.openStream('upload', { transport });
      await within(pipeline(fs.createReadStream(bigFile), stream), 120_000, 'the file to be written');
      const { hash, bytes } = await within(received, 120_000, 'the file to arrive');
      expect(bytes).toBe(100 * MiB);
      expect(hash).toBe(bigHash);
      expect(stream.bytesOut).toBe(100 * MiB);
      expect(client.stats!.streams!.bytesOut).toBe(100 * MiB);
      expect(server.stats().streams.bytesIn).toBe(100 * MiB);
      // The bytes went the way asked, not the other.
      const sent = client.stats!;
      const [used, other] = transport === 'tcp' ? [sent.tcp, sent.udp] : [sent.udp, sent.tcp];
      expect(used.bytesOut).toBeGreaterThan(100 * MiB);
      expect(other.bytesOut).toBeLessThan(MiB);
    }, 180_000);
  }
});
