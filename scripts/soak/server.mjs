// The server side of the soak: one hybridwire server in a process of its own (run with
// --expose-gc), answering the driver's requests for samples of what it holds.
import { readdirSync } from 'node:fs';
import { serveParent } from '../../bench/e2e/harness.mjs';
import { createServer } from '../../dist/index.js';

const pause = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
let server;

/** What the process holds right now, after forced collections: what must return to baseline. */
async function sample() {
  for (let i = 0; i < 3; i++) {
    globalThis.gc();
    await pause(50);
  }
  const { rss, heapUsed, external, arrayBuffers } = process.memoryUsage();
  const handles = {};
  for (const type of process.getActiveResourcesInfo()) handles[type] = (handles[type] ?? 0) + 1;
  const stats = server.stats();
  return {
    at: Date.now(),
    fds: readdirSync('/proc/self/fd').length,
    handles,
    rss,
    heapUsed,
    external,
    arrayBuffers,
    sessions: stats.connectedClients,
    stats,
  };
}

serveParent({
  async start({ heartbeatIntervalMs, heartbeatTimeoutMs }) {
    if (typeof globalThis.gc !== 'function') throw new Error('run with --expose-gc');
    server = createServer({ host: '127.0.0.1', tcpPort: 0, udpPort: 0, heartbeatIntervalMs, heartbeatTimeoutMs, builtins: true });
    server.handle('work', (payload) => payload);
    server.handle('note', () => {});
    // Peers that misbehave (killed mid-frame) are expected here; they must not stop the server.
    server.on('peerError', () => {});
    const { tcpPort, udpPort } = await server.listen();
    return { tcpPort, udpPort };
  },
  sample,
  async stop() {
    await server.close();
    return {};
  },
});
