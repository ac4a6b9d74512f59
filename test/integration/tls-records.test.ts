/**
 * The layout of writes in TLS records (ts/session/tls-records.ts, docs/PROTOCOL.md 3.5) over a
 * real node:tls session on loopback: each record reaches the receiver as one 'data' chunk, and
 * every chunk holds whole frames, so the receiving decoder never copies a frame split between two.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import type { Peer } from '../../ts/index.js';
import { FrameDecoder } from '../../ts/codec/frame-decoder.js';
import { FrameType } from '../../ts/codec/frame.js';
import { TLS_RECORD_BYTES } from '../../ts/session/tls-records.js';
import { testCertificates, type TestCertificates } from '../support/certificates.js';
import { nextEvent } from '../support/raw-peer.js';
import { closeAfterEach, startClient, startServer } from '../support/sessions.js';
import { waitUntil } from '../support/wait.js';

closeAfterEach();
let certs: TestCertificates;
beforeAll(async () => {
  certs = await testCertificates();
});

describe('TLS record layout', () => {
  it('delivers a burst in chunks of whole frames, one TLS record each, padded where a frame would cross', async () => {
    const { server, tcpPort } = await startServer({ udpPort: false, tls: { key: certs.server.key, cert: certs.server.cert } });
    const connected = nextEvent<[Peer]>(server, 'connection');
    const client = await startClient({ tcpPort, udpPort: false, tls: { ca: certs.ca.cert } });
    const [peer] = await connected;
    const received: number[] = [];
    client.handle<Uint8Array>('tick', (payload) => {
      received.push(new DataView(payload.buffer, payload.byteOffset, payload.length).getUint32(0, true));
    });
    // Every chunk the client's socket hands over, decoded on its own: a frame split between two
    // chunks would be left buffered.
    const decoder = new FrameDecoder();
    const chunks: number[] = [];
    const split: number[] = [];
    let padding = 0;
    client.connection!.socket.on('data', (chunk: Buffer) => {
      chunks.push(chunk.length);
      const count = decoder.push(chunk);
      for (let i = 0; i < count; i++) if (decoder.type(i) === FrameType.PADDING) padding++;
      if (decoder.bufferedBytes > 0) split.push(chunks.length - 1);
    });
    const count = 20_000;
    // One synchronous burst: its writes are joined by node:tls while the first is in flight.
    for (let i = 0; i < count; i++) {
      const payload = Buffer.alloc(64);
      payload.writeUInt32LE(i, 0);
      peer.send('tick', payload);
    }
    await waitUntil(() => received.length === count, 10_000, () => `${count} messages (got ${received.length})`);
    expect(received).toEqual(Array.from({ length: count }, (_, i) => i));
    expect(split).toEqual([]);
    expect(Math.max(...chunks)).toBe(TLS_RECORD_BYTES);
    expect(padding).toBeGreaterThan(0);
  });

  it('takes a burst the client sends as soon as connect() resolves, PADDING frames and all', async () => {
    const { server, tcpPort } = await startServer({ udpPort: false, tls: { key: certs.server.key, cert: certs.server.cert } });
    const received: number[] = [];
    server.handle<Uint8Array>('tick', (payload) => {
      received.push(new DataView(payload.buffer, payload.byteOffset, payload.length).getUint32(0, true));
    });
    const client = await startClient({ tcpPort, udpPort: false, tls: { ca: certs.ca.cert } });
    // In the turn connect() resolves in, right behind the handshake: a PADDING frame larger than
    // the handshake's frame limit must not be taken for a handshake frame.
    const count = 5000;
    for (let i = 0; i < count; i++) {
      const payload = Buffer.alloc(64);
      payload.writeUInt32LE(i, 0);
      client.send('tick', payload);
    }
    await waitUntil(() => received.length === count, 10_000, () => `${count} messages (got ${received.length})`);
    expect(received).toEqual(Array.from({ length: count }, (_, i) => i));
  });
});
