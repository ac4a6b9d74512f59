/**
 * Issue 11, point 7: request floods. maxPendingHandlers must hold within one BATCH frame too
 * (dispatch stops at the limit mid-batch and resumes as handlers finish), and a peer the server
 * has stopped reading (because of that limit) must not be timed out for the silence the server
 * itself caused.
 */
import { describe, expect, it } from 'vitest';
import { FrameFlag, FrameType, type Peer } from '../../ts/index.js';
import { cleanupAfterEach, client, rawSession, startServer } from '../support/abuse.js';
import { waitUntil } from '../support/wait.js';
import { Encoding, Kind, batch, message, messagesOf, typeDef } from '../support/wire.js';
import type { RawPeer } from '../support/raw-peer.js';

const defer = cleanupAfterEach();

/** Counts the RESPONSE messages that have come to `peer`, reading each frame once. */
function responseCounter(peer: RawPeer): () => number {
  let seen = 0;
  let responses = 0;
  return () => {
    for (; seen < peer.frames.length; seen++) {
      const frame = peer.frames[seen]!;
      if (frame.type !== FrameType.MESSAGE) continue;
      for (const parsed of messagesOf(frame)) if (parsed.kind === Kind.RESPONSE) responses++;
    }
    return responses;
  };
}

describe('maxPendingHandlers', () => {
  it('holds within one BATCH frame of 100,000 requests, and every request is answered once the handlers are released', async () => {
    const LIMIT = 16;
    const REQUESTS = 100_000;
    const { server, tcpPort } = await startServer(defer, { maxPendingHandlers: LIMIT, udpPort: false });
    const bystander = await client(defer, { tcpPort, udpPort: false });
    let calls = 0;
    let running = 0;
    let mostAtOnce = 0;
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    server.handle('slow', async (payload: Uint8Array) => {
      calls++;
      mostAtOnce = Math.max(mostAtOnce, ++running);
      try {
        await released;
        return payload;
      } finally {
        running--;
      }
    });
    const { peer } = await rawSession(defer, tcpPort, { features: ['json', 'binary', 'request'] });
    const entries = Array.from({ length: REQUESTS }, (_, id) => message({ alias: 1, encoding: Encoding.BINARY, kind: Kind.REQUEST, requestId: id + 1 }));
    peer.sendFrame(FrameType.TYPE_DEF, typeDef(1, 'slow'), 0);
    for (const buffer of peer.encoder.encode([{ type: FrameType.MESSAGE, flags: FrameFlag.BATCH, sequence: 1, payload: batch(entries) }])) peer.socket.write(buffer);

    await waitUntil(() => calls >= LIMIT, 3000, () => `${LIMIT} handlers to start (${calls} so far)`);
    // Round trips of another client: the server has had turns of its event loop to start more.
    for (let i = 0; i < 3; i++) expect(await bystander.request('echo', i)).toBe(i);
    expect(mostAtOnce, `${mostAtOnce} handlers ran at once`).toBeLessThanOrEqual(LIMIT);
    expect(calls).toBe(LIMIT);

    release();
    peer.acknowledgeAll();
    const responses = responseCounter(peer);
    await peer.waitUntil(() => responses() >= REQUESTS, 20_000, `${REQUESTS} responses`);
    expect(responses()).toBe(REQUESTS);
    expect(calls).toBe(REQUESTS);
    expect(mostAtOnce).toBeLessThanOrEqual(LIMIT);
  });

  it('a healthy client with more requests than the limit to a slow handler is not dropped as silent', async () => {
    const { server, tcpPort } = await startServer(defer, { maxPendingHandlers: 16, heartbeatIntervalMs: 100, heartbeatTimeoutMs: 500, udpPort: false });
    // The handler's own duration, three times the heartbeat timeout: the load, not a synchronisation.
    server.handle('slow', (payload: number) => new Promise((resolve) => setTimeout(() => resolve(payload), 1500)));
    const drops: Array<{ peer: Peer; error: Error | undefined }> = [];
    server.on('disconnect', (peer, error) => drops.push({ peer, error }));
    const healthy = await client(defer, { tcpPort, udpPort: false });
    const ids = Array.from({ length: 24 }, (_, i) => i);
    const replies = await Promise.allSettled(ids.map((id) => healthy.request('slow', id, { timeoutMs: 10_000 })));
    if (replies.some((reply) => reply.status === 'rejected')) {
      // Learn why: the server reports the drop once its side of the connection is closed.
      await waitUntil(() => drops.length > 0, 2000, 'the server to report the drop').catch(() => {});
    }
    expect(drops.map((drop) => (drop.error as { code?: string } | undefined)?.code ?? String(drop.error)), 'the server dropped the client').toEqual([]);
    expect(replies.map((reply) => (reply.status === 'fulfilled' ? reply.value : (reply.reason as Error).message))).toEqual(ids);
    expect(healthy.state).toBe('connected');
  });
});

describe('maxPendingHandlers over UDP', () => {
  it('holds for UDP requests and one-way messages: past the limit requests are answered HW_ERR_TOO_MANY_REQUESTS and messages dropped, without starting a handler', async () => {
    const LIMIT = 4;
    const { server, tcpPort, udpPort } = await startServer(defer, { maxPendingHandlers: LIMIT });
    let calls = 0;
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    defer(() => release());
    server.handle('slow', async (payload: unknown) => {
      calls++;
      await released;
      return payload;
    });
    const sender = await client(defer, { tcpPort, udpPort });
    const answers = Array.from({ length: LIMIT + 6 }, (_, i) =>
      sender.request('slow', i, { transport: 'udp', timeoutMs: 10_000 }).then(
        (value) => ({ value }),
        (error: { code?: string }) => ({ code: error.code }),
      ),
    );
    await waitUntil(() => calls === LIMIT, 5000, () => `${LIMIT} handlers to start (${calls} so far)`);
    for (let i = 0; i < 10; i++) sender.send('slow', i, { transport: 'udp' });
    // A round trip over UDP after them (refused too: at the limit nothing more is dispatched, as
    // over TCP): the server has read the datagrams sent before it.
    await expect(sender.request('echo', 'after', { transport: 'udp', timeoutMs: 5000 })).rejects.toMatchObject({ code: 'HW_ERR_TOO_MANY_REQUESTS' });
    expect(calls, `${calls} handlers started`).toBe(LIMIT);
    release();
    const settled = await Promise.all(answers);
    expect(settled.filter((answer) => 'value' in answer)).toHaveLength(LIMIT);
    expect(settled.filter((answer) => 'code' in answer && answer.code === 'HW_ERR_TOO_MANY_REQUESTS')).toHaveLength(6);
  });
});

