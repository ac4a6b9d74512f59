// The server side of the scale benchmark, run with --expose-gc: memory before and after N idle
// connections (each read after forced GCs), and when the last one was accepted.
import { notifyParent, serveParent } from './harness.mjs';
import { loadSystem } from './systems/index.mjs';

const pause = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

async function memory() {
  for (let i = 0; i < 3; i++) {
    globalThis.gc();
    await pause(50);
  }
  const { rss, heapUsed, heapTotal, external, arrayBuffers } = process.memoryUsage();
  return { rss, heapUsed, heapTotal, external, arrayBuffers };
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
  async stop() {
    await Promise.race([server?.close(), pause(15_000)]);
  },
});
