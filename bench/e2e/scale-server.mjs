// The server side of the scale benchmark, run with --expose-gc: memory before and after N idle
// connections (each read after forced GCs), when the last one was accepted, and on request a heap
// snapshot (bench/e2e/heap-summary.mjs compares two).
import v8 from 'node:v8';
import { notifyParent, serveParent } from './harness.mjs';
import { loadSystem } from './systems/index.mjs';

const pause = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

async function memory() {
  for (let i = 0; i < 3; i++) {
    globalThis.gc();
    await pause(50);
  }
  const { rss, heapUsed, heapTotal, external, arrayBuffers } = process.memoryUsage();
  const spaces = Object.fromEntries(v8.getHeapSpaceStatistics().map((space) => [space.space_name, { size: space.space_size, used: space.space_used_size }]));
  return { rss, heapUsed, heapTotal, external, arrayBuffers, spaces };
}

let server;
let accepted = 0;
let firstAt = 0;
let lastAt = 0;

serveParent({
  async start({ system: name, host, expected }) {
    if (typeof globalThis.gc !== 'function') throw new Error('run with --expose-gc');
    const system = await loadSystem(name);
    const onConnection = () => {
      accepted++;
      if (accepted === 1) firstAt = performance.now();
      if (accepted === expected) {
        lastAt = performance.now();
        notifyParent('accepted', { accepted, firstToLastMs: lastAt - firstAt });
      }
    };
    server = await system.listen({ host, mode: 'sink', counter: { add() {} }, maxConnections: expected + 16, onConnection });
    await pause(200);
    return { address: server.address, before: await memory() };
  },
  async measure() {
    return { accepted, after: await memory() };
  },
  /** Writes a heap snapshot (after forced GCs) and returns memory as it is afterwards. */
  async snapshot({ file }) {
    await memory();
    v8.writeHeapSnapshot(file);
    return memory();
  },
  async stop() {
    await Promise.race([server?.close(), pause(15_000)]);
  },
});
