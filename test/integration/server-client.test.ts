import { afterEach, describe, expect, it } from 'vitest';
import { connect, createServer, type Client, type Peer, type Server } from '../../ts/index.js';
import { nextEvent } from '../support/raw-peer.js';

const cleanup: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const step of cleanup.splice(0).reverse()) await step().catch(() => {});
});

async function startServer(options: Parameters<typeof createServer>[0] = {}): Promise<{ server: Server; tcpPort: number; udpPort: number }> {
  const server = createServer({ host: '127.0.0.1', ...options });
  const { tcpPort, udpPort } = await server.listen();
  cleanup.push(() => server.close());
  return { server, tcpPort, udpPort: udpPort ?? 0 };
}

async function startClient(options: Parameters<typeof connect>[0]): Promise<Client> {
  const client = await connect(options);
  cleanup.push(() => client.close());
  return client;
}

function waitUntil(check: () => boolean, what: string, timeoutMs = 5000): Promise<void> {
  return new Promise((resolve, reject) => {
    const started = Date.now();
    const poll = () => {
      if (check()) return resolve();
      if (Date.now() - started > timeoutMs) return reject(new Error(`timed out waiting for ${what}`));
      setTimeout(poll, 5);
    };
    poll();
  });
}

describe.each([
  ['IPv4', '127.0.0.1'],
  ['IPv6', '::1'],
])('server and client over %s', (_name, host) => {
  it('handshakes, routes messages both ways, answers requests, and knows peer addresses', async () => {
    const { server, tcpPort, udpPort } = await startServer({ host });
    expect(tcpPort).toBeGreaterThan(0);
    expect(udpPort).toBeGreaterThan(0);
    const connected = nextEvent<[Peer]>(server, 'connection');
    server.handle<{ text: string }>('chat', (message, peer) => {
      peer.send('chat_response', { text: `echo: ${message.text}` });
    });
    server.handle<number[]>('sum', (numbers) => numbers.reduce((a, b) => a + b, 0));
    const client = await startClient({ host, tcpPort, udpPort, clientId: 'tester' });
    const [peer] = await connected;
    expect(peer.clientId).toBe('tester');
    expect(peer.tcpAddress.address).toBe(host);
    expect(server.peers.get(client.sessionId!)).toBe(peer);
    expect(client.supportsFeature('request')).toBe(true);
    expect(client.supportsFeature('no-such-feature')).toBe(false);

    const reply = new Promise((resolve) => client.handle('chat_response', resolve));
    expect(client.send('chat', { text: 'hi' })).toBe(true);
    expect(await reply).toEqual({ text: 'echo: hi' });
    expect(await client.request('sum', [1, 2, 3, 4])).toBe(10);

    // The server can request from the client too.
    client.handle<string>('whoami', () => 'client');
    expect(await peer.request('whoami')).toBe('client');

    // UDP: the server learns the client's UDP address from its datagrams.
    const udpMessage = new Promise<unknown[]>((resolve) => server.handle('pos', (pos, _peer, info) => resolve([pos, info.transport])));
    await waitUntil(() => client.udpReady, 'UDP to be ready');
    const resend = setInterval(() => client.send('pos', { x: 1 }, { transport: 'udp' }), 20);
    client.send('pos', { x: 1 }, { transport: 'udp' });
    expect(await udpMessage).toEqual([{ x: 1 }, 'udp']);
    clearInterval(resend);
    expect(peer.udpAddress?.address).toBe(host);

    // And the server can send datagrams back.
    const udpBack = new Promise<unknown[]>((resolve) => client.handle('tick', (value, _c, info) => resolve([value, info.transport])));
    const resendBack = setInterval(() => peer.send('tick', 7, { transport: 'udp' }), 20);
    expect(await udpBack).toEqual([7, 'udp']);
    clearInterval(resendBack);
  });
});

describe('messages', () => {
  it('passes Uint8Array payloads through as bytes, and JSON values of every kind', async () => {
    const { server, tcpPort } = await startServer({ udpPort: false });
    const received: unknown[] = [];
    server.handle('data', (payload) => {
      received.push(payload);
    });
    server.handle('done', () => received.length);
    const client = await startClient({ tcpPort, udpPort: false });
    const bytes = Buffer.from([0, 1, 2, 255]);
    const values = [bytes, 'text', 42, null, true, [1, 'a'], { nested: { ok: true } }, undefined];
    for (const value of values) client.send('data', value as never);
    expect(await client.request('done')).toBe(values.length);
    expect(received[0]).toBeInstanceOf(Uint8Array);
    expect(Buffer.from(received[0] as Uint8Array)).toEqual(bytes);
    expect(received.slice(1)).toEqual(values.slice(1));
  });

  it('keeps order across many messages in burst and step modes', async () => {
    const { server, tcpPort } = await startServer({ udpPort: false, windowSize: 16 });
    for (const mode of ['burst', 'step'] as const) {
      const seen: number[] = [];
      server.handle<number>(`n-${mode}`, (n) => {
        seen.push(n);
      });
      server.handle(`count-${mode}`, () => seen.length);
      const client = await startClient({ tcpPort, udpPort: false, mode, windowSize: 8 });
      const total = mode === 'step' ? 200 : 5000;
      for (let i = 0; i < total; i++) client.send(`n-${mode}`, i);
      expect(await client.request(`count-${mode}`, undefined, { timeoutMs: 20_000 })).toBe(total);
      expect(seen).toEqual(Array.from({ length: total }, (_, i) => i));
    }
  });

  it('delivers large messages intact', async () => {
    const { server, tcpPort } = await startServer({ udpPort: false });
    server.handle('big', (payload: Uint8Array) => payload.length);
    const client = await startClient({ tcpPort, udpPort: false });
    const big = Buffer.alloc(5 * 1024 * 1024);
    for (let i = 0; i < big.length; i += 4096) big[i] = i & 0xff;
    server.handle('checksum', (payload: Uint8Array) => Buffer.from(payload).equals(big));
    expect(await client.request('big', big, { timeoutMs: 20_000 })).toBe(big.length);
    expect(await client.request('checksum', big, { timeoutMs: 20_000 })).toBe(true);
  });

  it('emits message for types without a handler, and requests get HW_ERR_NO_HANDLER', async () => {
    const { server, tcpPort } = await startServer({ udpPort: false });
    const client = await startClient({ tcpPort, udpPort: false });
    const unhandled = nextEvent<[string, unknown, Peer]>(server, 'message');
    client.send('mystery', { a: 1 });
    const [type, payload] = await unhandled;
    expect(type).toBe('mystery');
    expect(payload).toEqual({ a: 1 });
    await expect(client.request('mystery')).rejects.toMatchObject({ code: 'HW_ERR_NO_HANDLER' });
  });
});

describe('compression', () => {
  it('sends large messages LZ4-compressed when asked, and they arrive intact', async () => {
    const { server, tcpPort } = await startServer({ udpPort: false, compressThreshold: 256 });
    const connected = nextEvent<[Peer]>(server, 'connection');
    server.handle('echo-big', (payload) => payload);
    const client = await startClient({ tcpPort, udpPort: false, compressThreshold: 256 });
    const [peer] = await connected;
    const text = { rows: Array.from({ length: 500 }, (_, i) => ({ id: i, name: `row ${i}`, ok: i % 2 === 0 })) };
    const zeros = new Uint8Array(64 * 1024);
    zeros[100] = 7;
    expect(await client.request('echo-big', text)).toEqual(text);
    const back = (await client.request('echo-big', zeros)) as Uint8Array;
    expect(Buffer.from(back).equals(Buffer.from(zeros))).toBe(true);
    // Small messages and incompressible ones go as they are.
    expect(await client.request('echo-big', 'short')).toBe('short');
    expect(client.stats!.compressedOut).toBe(2);
    expect(peer.stats.compressedIn).toBe(2);
    expect(peer.stats.compressedOut).toBe(2);
    expect(client.stats!.tcp.bytesOut).toBeLessThan(20_000);
  });
});

describe('requests', () => {
  it('times out, aborts, and carries handler errors with their codes', async () => {
    const { server, tcpPort } = await startServer({ udpPort: false, closeTimeoutMs: 100 });
    server.handle('never', () => new Promise(() => {}));
    server.handle('fail', () => {
      throw Object.assign(new Error('nope'), { code: 'HW_ERR_CUSTOM_FAILURE' });
    });
    server.handle('reject', async () => {
      throw new Error('async nope');
    });
    server.handle('slow', (value) => new Promise((resolve) => setTimeout(() => resolve(value), 20)));
    const client = await startClient({ tcpPort, udpPort: false });
    await expect(client.request('never', undefined, { timeoutMs: 50 })).rejects.toMatchObject({ code: 'HW_ERR_REQUEST_TIMEOUT' });
    const controller = new AbortController();
    const aborted = client.request('never', undefined, { signal: controller.signal });
    controller.abort();
    await expect(aborted).rejects.toMatchObject({ name: 'AbortError', code: 'ABORT_ERR' });
    await expect(client.request('fail')).rejects.toMatchObject({ name: 'RemoteError', code: 'HW_ERR_CUSTOM_FAILURE', message: 'nope' });
    await expect(client.request('reject')).rejects.toMatchObject({ code: 'HW_ERR_HANDLER_FAILED' });
    expect(await client.request('slow', 'later')).toBe('later');
  });

  it.each(['burst', 'step'] as const)('answers binary requests, many in flight, whatever the handler does (%s mode)', async (mode) => {
    const { server, tcpPort } = await startServer({ udpPort: false });
    server.handle<Uint8Array>('twice', (bytes) => Buffer.concat([bytes, bytes]));
    server.handle<Uint8Array>('later', (bytes) => new Promise((resolve) => setImmediate(() => resolve(bytes.subarray(1)))));
    server.handle<Uint8Array>('info', (bytes, _peer, info) => Buffer.from(`${info.type}:${info.requestId === undefined ? 'none' : 'id'}:${bytes.length}`));
    server.handle<Uint8Array>('throws', (bytes) => {
      throw Object.assign(new Error(`refused ${bytes.length}`), { code: 'HW_ERR_REFUSED' });
    });
    server.handle('rejects', async () => {
      throw new Error('later no');
    });
    server.handle('nothing', () => undefined);
    const client = await startClient({ tcpPort, udpPort: false, mode });
    // Several rounds: the first request of a type defines its alias, later ones take the shorter way.
    for (let round = 0; round < 3; round++) {
      const inputs = Array.from({ length: 40 }, (_, i) => Buffer.from([round, i, 1, 2, 3].slice(0, 1 + (i % 5))));
      const replies = await Promise.all(inputs.map((input) => client.request('twice', input)));
      replies.forEach((reply, i) => {
        expect(reply).toBeInstanceOf(Uint8Array);
        expect(Buffer.from(reply as Uint8Array).equals(Buffer.concat([inputs[i]!, inputs[i]!]))).toBe(true);
      });
      expect(Buffer.from((await client.request('later', Buffer.from([9, 8, 7]))) as Uint8Array)).toEqual(Buffer.from([8, 7]));
      expect(Buffer.from((await client.request('info', Buffer.alloc(5))) as Uint8Array).toString()).toBe('info:id:5');
      await expect(client.request('throws', Buffer.alloc(3))).rejects.toMatchObject({ name: 'RemoteError', code: 'HW_ERR_REFUSED', message: 'refused 3' });
      await expect(client.request('rejects', Buffer.alloc(1))).rejects.toMatchObject({ code: 'HW_ERR_HANDLER_FAILED' });
      expect(await client.request('nothing', Buffer.alloc(2))).toBeUndefined();
      expect(Buffer.from((await client.request('twice', new Uint8Array(0))) as Uint8Array).length).toBe(0);
    }
    expect(client.stats!.pendingRequests).toBe(0);
  });

  it('bounds pending requests and fails them when the connection goes', async () => {
    const { server, tcpPort } = await startServer({ udpPort: false });
    server.handle('never', () => new Promise(() => {}));
    const connected = nextEvent<[Peer]>(server, 'connection');
    const client = await startClient({ tcpPort, udpPort: false, maxPendingRequests: 2 });
    const [peer] = await connected;
    const first = client.request('never');
    const second = client.request('never');
    await expect(client.request('never')).rejects.toMatchObject({ code: 'HW_ERR_TOO_MANY_REQUESTS' });
    peer.connection.destroy();
    await expect(first).rejects.toMatchObject({ code: 'HW_ERR_CONNECTION_CLOSED' });
    await expect(second).rejects.toMatchObject({ code: 'HW_ERR_CONNECTION_CLOSED' });
  });
});

describe('built-in types and broadcast', () => {
  it('with builtins: true, answers ping, echo, stats and relays broadcasts to the other peers', async () => {
    const { server, tcpPort, udpPort } = await startServer({ builtins: true });
    const a = await startClient({ tcpPort, udpPort });
    const b = await startClient({ tcpPort, udpPort });
    expect(await a.request('ping')).toBe('pong');
    // A measured round trip: a positive, finite number of milliseconds.
    const roundTrip = await a.ping();
    expect(Number.isFinite(roundTrip) && roundTrip > 0).toBe(true);
    expect(await a.request('echo', { deep: [1, 2] })).toEqual({ deep: [1, 2] });
    const got = new Promise((resolve) => b.handle('broadcast', resolve));
    const aGot: unknown[] = [];
    a.handle('broadcast', (m) => {
      aGot.push(m);
    });
    expect(await a.request('broadcast', { text: 'all' })).toBe(1);
    expect(await got).toEqual({ from: a.sessionId, payload: { text: 'all' } });
    const stats = (await a.request('stats')) as { connectedClients: number; uptimeMs: number; tcp: { messagesIn: number; bytesIn: number } };
    expect(stats.connectedClients).toBe(2);
    expect(stats.tcp.messagesIn).toBeGreaterThanOrEqual(4);
    expect(stats.tcp.bytesIn).toBeGreaterThan(0);
    expect(aGot).toEqual([]);
    expect(server.broadcast('note', 'x')).toBe(2);
  });
});

describe('handshake', () => {
  it('refuses sessions past maxConnections with HW_ERR_SERVER_FULL', async () => {
    const { tcpPort } = await startServer({ udpPort: false, maxConnections: 1 });
    await startClient({ tcpPort, udpPort: false });
    await expect(connect({ tcpPort, udpPort: false })).rejects.toMatchObject({ code: 'HW_ERR_SERVER_FULL' });
  });

  it('negotiates the window down to the server limit and step mode to 1', async () => {
    const { server, tcpPort } = await startServer({ udpPort: false, windowSize: 32 });
    const connected = nextEvent<[Peer]>(server, 'connection');
    await startClient({ tcpPort, udpPort: false, windowSize: 1000 });
    const [peer] = await connected;
    expect(peer.supportsFeature('json')).toBe(true);
  });
});

describe('liveness and shutdown', () => {
  it('measures heartbeat RTT', async () => {
    const { server, tcpPort } = await startServer({ udpPort: false, heartbeatIntervalMs: 20, heartbeatTimeoutMs: 2000 });
    const connected = nextEvent<[Peer]>(server, 'connection');
    const client = await startClient({ tcpPort, udpPort: false });
    const [peer] = await connected;
    await waitUntil(() => client.rttMs !== undefined && peer.rttMs !== undefined, 'RTT samples');
    // Samples of a real round trip: positive and finite on both sides.
    for (const rtt of [client.rttMs!, peer.rttMs!]) expect(Number.isFinite(rtt) && rtt > 0).toBe(true);
  });

  it('reconnects with backoff after the server goes away, and reports each state', async () => {
    const first = await startServer({ udpPort: false });
    const client = await startClient({ tcpPort: first.tcpPort, udpPort: false, reconnect: { initialDelayMs: 20, maxDelayMs: 100, maxAttempts: 50 } });
    const states: string[] = [];
    client.on('state', (state) => states.push(state));
    const reconnecting = nextEvent<[{ attempt: number; delayMs: number }]>(client, 'reconnecting');
    await first.server.close();
    const [info] = await reconnecting;
    expect(info.attempt).toBe(1);
    expect(info.delayMs).toBeGreaterThan(0);
    // A new server on the same port: the client finds it again.
    const second = createServer({ host: '127.0.0.1', tcpPort: first.tcpPort, udpPort: false });
    await second.listen();
    cleanup.push(() => second.close());
    await nextEvent(client, 'reconnect', 10_000);
    expect(await client.request('ping')).toBe('pong');
    expect(states).toContain('reconnecting');
    expect(states.at(-1)).toBe('connected');
  });

  it('gives up after maxAttempts with reconnect_failed', async () => {
    const { server, tcpPort } = await startServer({ udpPort: false });
    const client = await startClient({ tcpPort, udpPort: false, reconnect: { initialDelayMs: 5, maxDelayMs: 10, maxAttempts: 3 } });
    const attempts: number[] = [];
    client.on('reconnecting', ({ attempt }) => attempts.push(attempt));
    const failed = nextEvent(client, 'reconnect_failed', 10_000);
    await server.close();
    await failed;
    expect(attempts).toEqual([1, 2, 3]);
    expect(client.state).toBe('closed');
  });

  it('closes gracefully: in-flight messages are delivered before the sockets close', async () => {
    const { server, tcpPort } = await startServer({ udpPort: false });
    let count = 0;
    server.handle('m', () => {
      count++;
    });
    const client = await startClient({ tcpPort, udpPort: false });
    const disconnected = nextEvent(server, 'disconnect');
    for (let i = 0; i < 10_000; i++) client.send('m', i);
    await client.close();
    await disconnected;
    expect(count).toBe(10_000);
  });

  it('server.close() tells clients, which see a disconnect', async () => {
    const { server, tcpPort } = await startServer({ udpPort: false });
    const client = await startClient({ tcpPort, udpPort: false });
    const gone = nextEvent(client, 'disconnect');
    await server.close();
    await gone;
    expect(client.state).toBe('closed');
    expect(() => client.send('x')).toThrow(expect.objectContaining({ code: 'HW_ERR_NOT_CONNECTED' }));
  });
});

describe('backpressure', () => {
  it('send() returns false past highWaterMark and drain follows', async () => {
    const { server, tcpPort } = await startServer({ udpPort: false });
    let received = 0;
    server.handle('blob', () => {
      received++;
    });
    const client = await startClient({ tcpPort, udpPort: false, windowSize: 4, highWaterMark: 64 * 1024 });
    const blob = Buffer.alloc(16 * 1024);
    let sent = 0;
    while (client.send('blob', blob)) sent++;
    sent++;
    expect(sent).toBeLessThan(10);
    expect(client.queuedBytes).toBeGreaterThanOrEqual(64 * 1024);
    await nextEvent(client, 'drain');
    expect(client.queuedBytes).toBeLessThan(64 * 1024);
    await waitUntil(() => received === sent, 'every queued message to arrive');
  });

  it('a receiver whose handlers fall behind stops reading; the sender hits maxQueueBytes', async () => {
    const { server, tcpPort } = await startServer({ udpPort: false, maxPendingHandlers: 2, closeTimeoutMs: 100 });
    const stalled: Array<() => void> = [];
    server.handle('job', () => new Promise<void>((resolve) => stalled.push(resolve)));
    const client = await startClient({ tcpPort, udpPort: false, windowSize: 8, highWaterMark: 16 * 1024, maxQueueBytes: 256 * 1024 });
    const blob = Buffer.alloc(16 * 1024);
    let accepted = 0;
    expect(() => {
      for (let i = 0; i < 1000; i++) {
        client.send('job', blob);
        accepted++;
      }
    }).toThrow(expect.objectContaining({ code: 'HW_ERR_SEND_QUEUE_FULL' }));
    expect(accepted).toBeLessThan(1000);
    await waitUntil(() => stalled.length >= 2, 'the server to start two jobs');
    // Reading paused at maxPendingHandlers: no more jobs start while those two hang.
    await new Promise((resolve) => setImmediate(resolve));
    expect(stalled.length).toBeLessThanOrEqual(8);
    // Releasing the jobs lets everything through.
    const release = setInterval(() => stalled.splice(0).forEach((resolve) => resolve()), 5);
    await waitUntil(() => client.queuedBytes === 0, 'the queue to empty', 10_000);
    clearInterval(release);
  });

  it('sendWhenReady() waits for room instead of overrunning maxQueueBytes', async () => {
    const { server, tcpPort } = await startServer({ udpPort: false });
    let received = 0;
    server.handle('blob', () => {
      received++;
    });
    const client = await startClient({ tcpPort, udpPort: false, windowSize: 4, highWaterMark: 32 * 1024, maxQueueBytes: 128 * 1024 });
    const blob = Buffer.alloc(16 * 1024);
    let peak = 0;
    for (let i = 0; i < 200; i++) {
      await client.sendWhenReady('blob', blob);
      peak = Math.max(peak, client.queuedBytes);
    }
    expect(peak).toBeLessThanOrEqual(128 * 1024);
    await waitUntil(() => received === 200, 'all 200 messages');
  });

  it('validates options, naming the option and its range', () => {
    expect(() => createServer({ windowSize: 0 })).toThrow(/windowSize.*1/);
    expect(() => createServer({ tcpPort: 70000 })).toThrow(/tcpPort/);
    expect(() => createServer({ highWaterMark: 10, maxQueueBytes: 5 })).toThrow(/highWaterMark/);
    return expect(connect({ tcpPort: 1, mode: 'fast' as never })).rejects.toThrow(/mode/);
  });
});
