/**
 * Streams over the reliable UDP channel (ts/streams, transport 'udp') when the client's datagrams
 * pass through a chaos proxy that drops, duplicates, reorders, delays and corrupts: what the
 * server echoes back is what was sent, byte for byte.
 */
import { createHash, randomBytes } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { connect, createServer, type HybridwireStream } from '../../ts/index.js';
import { UdpChaosProxy } from './udp-chaos-proxy.js';
import { waitUntil, within } from '../support/wait.js';

const cleanup: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const step of cleanup.splice(0).reverse()) await step();
});

function sha256(bytes: Buffer): string {
  return createHash('sha256').update(bytes).digest('hex');
}

function readAll(stream: HybridwireStream): Promise<Buffer> {
  const chunks: Buffer[] = [];
  return new Promise((resolve, reject) => {
    stream.on('data', (chunk: Buffer) => chunks.push(chunk));
    stream.once('end', () => resolve(Buffer.concat(chunks)));
    stream.once('error', reject);
  });
}

describe('a UDP stream through loss, duplication, reordering and corruption', () => {
  it('echoes 4 MiB intact', async () => {
    const server = createServer({ host: '127.0.0.1', closeTimeoutMs: 500, streamWindowBytes: 128 * 1024 });
    const { tcpPort, udpPort } = await server.listen();
    cleanup.push(() => server.close());
    const proxy = await UdpChaosProxy.start({
      target: { port: udpPort!, address: '127.0.0.1' },
      seed: 1805,
      loss: 0.05,
      duplicate: 0.02,
      reorder: 0.05,
      delayMs: 2,
      reorderDelayMs: 5,
      corrupt: 0.01,
      corruptFrom: 8,
    });
    cleanup.push(() => proxy.close());
    server.on('stream', (stream: HybridwireStream) => stream.pipe(stream));
    const client = await connect({ host: '127.0.0.1', tcpPort, udpPort: proxy.port, closeTimeoutMs: 500, udpMinRtoMs: 20 });
    cleanup.push(() => client.close());
    await waitUntil(() => client.udpReady, 10_000, "the client's UDP path");

    const payload = randomBytes(4 * 1024 * 1024);
    const stream = client.openStream('through chaos', { transport: 'udp' });
    const echoed = readAll(stream);
    stream.end(payload);
    const back = await within(echoed, 60_000, 'the echo');
    expect(back.length).toBe(payload.length);
    expect(sha256(back)).toBe(sha256(payload));
    // The proxy did get in the way.
    expect(proxy.counts.dropped).toBeGreaterThan(0);
  }, 90_000);
});
