/** `hybridwire serve --metrics-port N`: GET /metrics over HTTP, read with an exposition-format parser. */
import http from 'node:http';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type Library, ensureBuilt, eventLine, killAll, loadLibrary, startCli } from '../support/cli-process.js';
import { Exposition } from '../support/prometheus.js';

let lib: Library;
beforeAll(async () => {
  await ensureBuilt();
  lib = await loadLibrary();
}, 240_000);
afterEach(() => killAll());
afterAll(() => killAll());

function get(port: number, path: string, method = 'GET'): Promise<{ status: number; type: string | undefined; body: string }> {
  return new Promise((resolve, reject) => {
    const request = http.request({ host: '127.0.0.1', port, path, method, timeout: 5000 }, (response) => {
      let body = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => (body += chunk));
      response.on('end', () => resolve({ status: response.statusCode ?? 0, type: response.headers['content-type'], body }));
    });
    request.on('timeout', () => request.destroy(new Error(`GET ${path} timed out`)));
    request.on('error', reject);
    request.end();
  });
}

describe('hybridwire serve --metrics-port', () => {
  it('serves GET /metrics; its listening line gains metricsPort; the counts follow the traffic', async () => {
    const serve = startCli(['serve', '--host', '127.0.0.1', '--tcp-port', '0', '--udp-port', '0', '--metrics-port', '0']);
    const { line } = await serve.waitForLine(/^\{"event":"listening"/, { timeoutMs: 10_000 });
    const listening = JSON.parse(line) as { tcpPort: number; udpPort: number; metricsPort: number };
    expect(Object.keys(listening)).toEqual(['event', 'tcpPort', 'udpPort', 'metricsPort']);
    expect(listening.metricsPort).toBeGreaterThan(0);

    const client = await lib.connect({ host: '127.0.0.1', tcpPort: listening.tcpPort, udpPort: false });
    await serve.waitForLine(eventLine({ event: 'connection', peer: client.sessionId! }));
    for (let i = 0; i < 5; i++) await client.request('echo', i);

    const response = await get(listening.metricsPort, '/metrics');
    expect(response.status).toBe(200);
    expect(response.type).toMatch(/^text\/plain; version=0\.0\.4/);
    const metrics = new Exposition(response.body);
    expect(metrics.value('hybridwire_sessions')).toBe(1);
    expect(metrics.value('hybridwire_handshakes_total', { result: 'accepted' })).toBe(1);
    expect(metrics.value('hybridwire_messages_received_total', { transport: 'tcp' })).toBe(5);
    expect(metrics.value('hybridwire_messages_sent_total', { transport: 'tcp' })).toBe(5);
    expect(metrics.value('hybridwire_handled_messages_total', { type: 'echo' })).toBe(5);
    // The process's own metrics come along.
    expect(metrics.families.has('process_resident_memory_bytes')).toBe(true);

    expect((await get(listening.metricsPort, '/')).status).toBe(404);
    expect((await get(listening.metricsPort, '/metrics', 'POST')).status).toBe(405);
    await client.close();
    serve.signal('SIGTERM');
    expect(await serve.waitForExit()).toEqual({ code: 0, signal: null });
  });
});

describe('hybridwire serve --dashboard-port', () => {
  it('serves the dashboard page; its listening line gains dashboardPort (after metricsPort when both are asked for)', async () => {
    const serve = startCli(['serve', '--host', '127.0.0.1', '--tcp-port', '0', '--udp-port', '0', '--metrics-port', '0', '--dashboard-port', '0']);
    const { line } = await serve.waitForLine(/^\{"event":"listening"/, { timeoutMs: 10_000 });
    const listening = JSON.parse(line) as { tcpPort: number; metricsPort: number; dashboardPort: number };
    expect(Object.keys(listening)).toEqual(['event', 'tcpPort', 'udpPort', 'metricsPort', 'dashboardPort']);
    const page = await get(listening.dashboardPort, '/');
    expect(page.status).toBe(200);
    expect(page.body).toContain('<title>hybridwire dashboard</title>');
    expect((await get(listening.dashboardPort, '/uPlot.iife.min.js')).status).toBe(200);
    const figures = JSON.parse((await get(listening.dashboardPort, '/api/figures')).body) as { target: string; stats: { connectedClients: number } };
    expect(figures.target).toBe(`127.0.0.1:${listening.tcpPort}`);
    expect(figures.stats.connectedClients).toBe(0);
    serve.signal('SIGTERM');
    expect(await serve.waitForExit()).toEqual({ code: 0, signal: null });
  });
});
