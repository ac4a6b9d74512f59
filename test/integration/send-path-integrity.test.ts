/**
 * The send path writes its slabs again (ts/codec/frame-encoder.ts, reuseSlabs) only once the
 * socket has written everything it was given: over a real socket whose reader stops and starts,
 * every message arrives intact and in order. A slab written again too early would corrupt frames
 * still queued in the socket (a checksum failure closes the session) or their bodies.
 */
import { describe, expect, it } from 'vitest';
import type { Peer } from '../../ts/api/peer.js';
import { nextEvent } from '../support/raw-peer.js';
import { closeAfterEach, startClient, startServer, waitUntil } from '../support/sessions.js';

closeAfterEach();

const COUNT = 6000;
const SIZE = 1000;

/** Message `i`: its index in the first 4 bytes, then bytes that depend on it. */
function messageOf(i: number): Buffer {
  const bytes = Buffer.alloc(SIZE);
  bytes.writeUInt32LE(i, 0);
  for (let at = 4; at < SIZE; at++) bytes[at] = (i * 31 + at) & 0xff;
  return bytes;
}

describe('send path slabs', () => {
  it('are not written again while the socket still holds what was written from them: a reader that stops and starts gets every message intact', async () => {
    const { server, tcpPort } = await startServer({ udpPort: false });
    let next = 0;
    let bad = 0;
    server.handle('m', (payload: Uint8Array) => {
      if (Buffer.compare(Buffer.from(payload), messageOf(next)) !== 0) bad++;
      next++;
    });
    const connection = nextEvent<[Peer]>(server, 'connection');
    const client = await startClient({ tcpPort, udpPort: false });
    const [peer] = await connection;
    for (let round = 0; round < 3; round++) {
      // The reader stops: what is sent now fills the socket and spans many slabs.
      peer.connection.socket.pause();
      const first = (round * COUNT) / 3;
      for (let i = first; i < first + COUNT / 3; i++) {
        if (!client.send('m', messageOf(i))) await new Promise((resolve) => setImmediate(resolve));
      }
      await new Promise((resolve) => setImmediate(resolve));
      peer.connection.socket.resume();
      await waitUntil(() => next === first + COUNT / 3, `messages up to ${first + COUNT / 3}`, 20_000);
    }
    expect(next).toBe(COUNT);
    expect(bad).toBe(0);
  });
});
