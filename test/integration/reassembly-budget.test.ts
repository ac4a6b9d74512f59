import { afterEach, describe, expect, it } from 'vitest';
import { connect, createServer, FrameType, type Client, type Server } from '../../ts/index.js';
import { UdpChaosProxy } from '../chaos/udp-chaos-proxy.js';
import { nextEvent } from '../support/raw-peer.js';
import { pseudoRandomBytes as pattern } from '../support/bytes.js';

// The reassembly budget a server's sessions share (udpReassemblyTotalBytes, 64 MiB by default)
// held hostage: sessions that send the first fragment of a 4 MiB reliable message and nothing
// more. Each hostile client goes through a relay that lets its first MESSAGE datagram through and
// drops the rest (its retransmissions included), so the server holds a partial message for it.

const MiB = 1024 * 1024;
const HOSTILE = 20;

/** Whether a datagram (token, then frames) carries a MESSAGE frame. */
function carriesMessage(datagram: Buffer): boolean {
  for (let at = 8; at + 16 <= datagram.length; at += 16 + datagram.readUInt32LE(at + 8)) {
    if (datagram[at + 1] === FrameType.MESSAGE) return true;
  }
  return false;
}

/** Polls `condition` until it holds; fails after `timeoutMs`. */
async function until(condition: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

interface Hostile {
  client: Client;
  proxy: UdpChaosProxy;
}

async function hostile(tcpPort: number, udpPort: number): Promise<Hostile> {
  let passed = false;
  const proxy = await UdpChaosProxy.start({
    target: { port: udpPort, address: '127.0.0.1' },
    filter: (datagram, direction) => {
      if (direction === 'backward' || !carriesMessage(datagram)) return true;
      if (passed) return false;
      passed = true;
      return true;
    },
  });
  const client = await connect({ host: '127.0.0.1', tcpPort, udpPort: proxy.port, closeTimeoutMs: 500 });
  client.on('error', () => {});
  // As large as the session's 4 MiB reassembly budget allows.
  client.send('bulk', Buffer.alloc(4 * MiB - 1024), { transport: 'udp', reliable: true });
  return { client, proxy };
}

describe('the shared UDP reassembly budget', () => {
  let server: Server | undefined;
  const cleanup: Array<() => Promise<void> | void> = [];

  afterEach(async () => {
    for (const step of cleanup.splice(0).reverse()) await step();
    await server?.close();
    server = undefined;
  });

  it('a well-behaved client gets fragmented reliable UDP through while 20 sessions hold partial 4 MiB messages, and their memory is back the moment they close', async () => {
    // A long timeout: the partial messages must be held for the whole test, not evicted as stalled.
    server = createServer({ tcpPort: 0, udpPort: 0, host: '127.0.0.1', udpReassemblyTimeoutMs: 120_000 });
    const received: Buffer[] = [];
    server.handle('good', (payload) => {
      received.push(Buffer.from(payload as Uint8Array));
    });
    server.handle('bulk', () => {
      throw new Error('no hostile message may be delivered');
    });
    const { tcpPort, udpPort } = await server.listen();
    const hostiles = await Promise.all(Array.from({ length: HOSTILE }, () => hostile(tcpPort, udpPort!)));
    cleanup.push(async () => {
      for (const { client, proxy } of hostiles) {
        await client.close();
        proxy.close();
      }
    });
    // Every hostile first fragment has been either taken (a partial message held) or refused.
    const budget = () => server!.stats().udpReassembly;
    await until(() => budget().holders + budget().refusedCharges >= HOSTILE, 'every hostile fragment reached the server');
    const held = budget().holders;
    expect(held).toBeGreaterThan(10);
    expect(budget().usedBytes).toBeGreaterThan(held * (4 * MiB - 2048));
    // One fair share of 64 MiB stays free.
    expect(budget().usedBytes).toBeLessThanOrEqual(64 * MiB - (64 * MiB) / (held + 1));

    const good = await connect({ host: '127.0.0.1', tcpPort, udpPort: udpPort!, closeTimeoutMs: 500 });
    cleanup.push(() => good.close());
    const messages = [pattern(1 * MiB, 11), pattern(2 * MiB, 12), pattern(256 * 1024, 13)];
    for (const message of messages) good.send('good', message, { transport: 'udp', reliable: true });
    await until(() => received.length === messages.length, 'the good client\'s messages arrived', 20_000);
    expect(received.map((payload, index) => payload.equals(messages[index]!))).toEqual([true, true, true]);
    expect(budget().holders).toBe(held);

    // The hostile sessions close: what they held goes back at once, with no garbage collection.
    const disconnected = Promise.all(hostiles.map(() => nextEvent(server!, 'disconnect', 10_000)));
    await Promise.all(hostiles.map(({ client }) => client.close()));
    await disconnected;
    expect(budget()).toMatchObject({ usedBytes: 0, holders: 0 });
  }, 60_000);

  it('a session whose reliable message stops making progress is closed with HW_ERR_REASSEMBLY_TIMEOUT, and its memory given back', async () => {
    server = createServer({ tcpPort: 0, udpPort: 0, host: '127.0.0.1', udpReassemblyTimeoutMs: 300 });
    server.handle('bulk', () => {});
    const { tcpPort, udpPort } = await server.listen();
    const { client, proxy } = await hostile(tcpPort, udpPort!);
    cleanup.push(() => proxy.close());
    const budget = () => server!.stats().udpReassembly;
    await until(() => budget().holders === 1, 'the partial message is held');
    const [peer, error] = await nextEvent<[unknown, Error]>(server, 'disconnect', 10_000);
    // The peer that stalled, not some other session.
    expect((peer as { id?: unknown }).id).toBe(client.sessionId);
    expect(error).toMatchObject({ code: 'HW_ERR_REASSEMBLY_TIMEOUT' });
    expect(budget()).toMatchObject({ usedBytes: 0, holders: 0 });
    // The peer is told why, on its TCP connection, and its session ends.
    const [closedWith] = await nextEvent<[Error | undefined]>(client, 'disconnect', 10_000);
    expect(closedWith).toMatchObject({ code: 'HW_ERR_REASSEMBLY_TIMEOUT' });
    await client.close();
  }, 30_000);
});
