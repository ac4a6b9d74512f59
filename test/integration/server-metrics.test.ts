/**
 * server.metrics() over real sockets on loopback, read back through an exposition-format parser:
 * the figures match server.stats() and what the test sent.
 */
import dgram from 'node:dgram';
import { once } from 'node:events';
import { Counter, Registry } from 'prom-client';
import { afterEach, describe, expect, it } from 'vitest';
import { connect, createServer, type Client, type Server } from '../../ts/index.js';
import { SAMPLE_EVERY } from '../../ts/session/handler-calls.js';
import { Exposition } from '../support/prometheus.js';

const cleanup: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const step of cleanup.splice(0).reverse()) await step().catch(() => {});
});

async function started(options: Parameters<typeof createServer>[0] = {}): Promise<{ server: Server; tcpPort: number; udpPort: number }> {
  const server = createServer({ host: '127.0.0.1', tcpPort: 0, udpPort: 0, ...options });
  const { tcpPort, udpPort } = await server.listen();
  cleanup.push(() => server.close());
  return { server, tcpPort, udpPort: udpPort! };
}

async function client(tcpPort: number, udpPort: number | false = false, options = {}): Promise<Client> {
  const c = await connect({ host: '127.0.0.1', tcpPort, udpPort, ...options });
  cleanup.push(() => c.close());
  return c;
}

/** Waits for `condition`, checking every few ms; fails after `timeoutMs`. */
async function until(condition: () => boolean, what: string, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`${what} did not happen within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

describe('server.metrics()', () => {
  it('gives sessions, handshakes, messages and bytes per transport, handled messages by type and handler latency, matching stats()', async () => {
    const { server, tcpPort } = await started({ metrics: true });
    let handled = 0;
    server.handle('work', () => {
      handled++;
    });
    const c = await client(tcpPort);
    const count = 3 * SAMPLE_EVERY + 5;
    for (let i = 0; i < count; i++) c.send('work', new Uint8Array(16));
    await until(() => handled === count, `${count} messages handled`);

    const metrics = new Exposition(await server.metrics());
    const stats = server.stats();
    expect(metrics.value('hybridwire_sessions')).toBe(1);
    expect(metrics.family('hybridwire_sessions').type).toBe('GAUGE');
    expect(metrics.value('hybridwire_handshakes_total', { result: 'accepted' })).toBe(1);
    expect(metrics.value('hybridwire_handshakes_total', { result: 'refused' })).toBe(0);
    for (const transport of ['tcp', 'udp'] as const) {
      expect(metrics.value('hybridwire_messages_received_total', { transport })).toBe(stats[transport].messagesIn);
      expect(metrics.value('hybridwire_messages_sent_total', { transport })).toBe(stats[transport].messagesOut);
      expect(metrics.value('hybridwire_received_bytes_total', { transport })).toBe(stats[transport].bytesIn);
      expect(metrics.value('hybridwire_sent_bytes_total', { transport })).toBe(stats[transport].bytesOut);
    }
    expect(metrics.value('hybridwire_messages_received_total', { transport: 'tcp' })).toBe(count);
    expect(metrics.family('hybridwire_messages_received_total').type).toBe('COUNTER');
    expect(metrics.value('hybridwire_handled_messages_total', { type: 'work' })).toBe(count);
    // Calls 256 and 512 are timed; 768 too unless the two before came within a millisecond of each
    // other, which doubles the step (the parser reads a histogram with labels only where it has one series).
    const latency = metrics.histogram('hybridwire_handler_duration_seconds');
    expect([2, 3]).toContain(latency.count);
    for (const family of metrics.families.keys()) expect(family).toMatch(/^hybridwire_/);
  });

  it('counts refused and failed handshakes, and keeps the counts of sessions that ended', async () => {
    const { server, tcpPort } = await started({ maxConnections: 1, metrics: true });
    server.handle('work', () => {});
    const first = await client(tcpPort);
    await expect(connect({ host: '127.0.0.1', tcpPort, udpPort: false })).rejects.toMatchObject({ code: 'HW_ERR_SERVER_FULL' });
    for (let i = 0; i < 10; i++) first.send('work', i);
    await first.request('ping');
    const gone = once(server, 'disconnect');
    await first.close();
    await gone;
    const metrics = new Exposition(await server.metrics());
    expect(metrics.value('hybridwire_sessions')).toBe(0);
    expect(metrics.value('hybridwire_handshakes_total', { result: 'refused' })).toBe(1);
    expect(metrics.value('hybridwire_messages_received_total', { transport: 'tcp' })).toBe(11);
    expect(metrics.value('hybridwire_handled_messages_total', { type: 'work' })).toBe(10);
  });

  it('counts datagrams dropped for want of a session token', async () => {
    const { server, udpPort } = await started({ metrics: true });
    const socket = dgram.createSocket('udp4');
    cleanup.push(() => new Promise<void>((resolve) => socket.close(() => resolve())));
    for (let i = 0; i < 3; i++) socket.send(Buffer.alloc(4 + i), udpPort, '127.0.0.1');
    await until(() => server.stats().udp.droppedUnauthenticated === 3, 'three unauthenticated datagrams');
    const metrics = new Exposition(await server.metrics());
    expect(metrics.value('hybridwire_drops_total', { cause: 'unauthenticated' })).toBe(3);
    expect(metrics.value('hybridwire_drops_total', { cause: 'malformed' })).toBe(0);
  });

  it('records heartbeat round trips in hybridwire_rtt_seconds', async () => {
    const { server, tcpPort } = await started({ metrics: true, heartbeatIntervalMs: 20, heartbeatTimeoutMs: 5000 });
    const arrived = once(server, 'connection');
    await client(tcpPort, false, { heartbeatIntervalMs: 20, heartbeatTimeoutMs: 5000 });
    const [peer] = await arrived;
    const pongs = [];
    for (let i = 0; i < 2; i++) pongs.push((await once(peer.connection, 'pong'))[0] as number);
    const rtt = new Exposition(await server.metrics()).histogram('hybridwire_rtt_seconds');
    expect(rtt.count).toBeGreaterThanOrEqual(2);
    expect(server.metricsSnapshot().rtt.meanMs).toBeGreaterThan(0);
  });

  it('registers in an application registry, beside its own metrics; metrics() prints the server\'s alone', async () => {
    const registry = new Registry();
    const own = new Counter({ name: 'app_requests_total', help: 'The application\'s own.', registers: [registry] });
    own.inc(7);
    const { tcpPort } = await started({ metrics: { registry } });
    await client(tcpPort);
    const all = new Exposition(await registry.metrics());
    expect(all.value('app_requests_total')).toBe(7);
    expect(all.value('hybridwire_sessions')).toBe(1);
    const { server } = await started({ metrics: true });
    expect(new Exposition(await server.metrics()).families.has('app_requests_total')).toBe(false);
  });

  it('is off until asked for: no call is timed before; the first metrics() turns timing on and counts from then', async () => {
    const { server, tcpPort } = await started();
    const handler = () => 'ok';
    server.handle('probe', handler);
    const handlers = (server as unknown as { handlers: { handlerFor(type: string): unknown; callsFor(type: string): { calls: number; timedAt: number } } }).handlers;
    const c = await client(tcpPort);
    await c.request('probe');
    expect(handlers.callsFor('probe')).toMatchObject({ calls: 1, timedAt: 0 });
    const metrics = new Exposition(await server.metrics());
    expect(handlers.handlerFor('probe')).toBe(handler);
    expect(handlers.callsFor('probe').timedAt).toBe(1 + SAMPLE_EVERY);
    expect(metrics.value('hybridwire_messages_received_total', { transport: 'tcp' })).toBe(1);
    await c.request('probe');
    expect(new Exposition(await server.metrics()).value('hybridwire_handled_messages_total', { type: 'probe' })).toBe(1);
  });

  it('refuses a metrics option that is neither a boolean nor { registry }', () => {
    expect(() => createServer({ metrics: 'yes' as never })).toThrow(/option metrics must be a boolean or \{ registry \}/);
  });
});
