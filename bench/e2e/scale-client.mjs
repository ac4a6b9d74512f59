// Idle clients for the scale benchmark: opens `count` connections with at most `concurrency`
// connects in flight, holds them, and closes them when told to.
import { serveParent } from './harness.mjs';
import { loadSystem } from './systems/index.mjs';

let connections = [];

serveParent({
  async connect({ system: name, address, count, concurrency }) {
    const system = await loadSystem(name);
    let next = 0;
    let failures = 0;
    let lastError;
    const worker = async () => {
      while (next < count) {
        next++;
        try {
          connections.push(await system.connect(address, { mode: 'sink' }));
        } catch (error) {
          failures++;
          lastError = error.message;
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(concurrency, count) }, worker));
    return { connected: connections.length, failures, lastError };
  },
  async stop() {
    const closing = Promise.allSettled(connections.map((connection) => connection.close()));
    await Promise.race([closing, new Promise((resolve) => setTimeout(resolve, 15_000))]);
    connections = [];
  },
});
