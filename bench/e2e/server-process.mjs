// A benchmark server in a process of its own: runs one system as a sink (counting at the
// receiver) or an echo server, and answers the runner over IPC.
import { Counter } from './counter.mjs';
import { serveParent } from './ipc.mjs';
import { loadSystem } from './systems/index.mjs';

let counter;
let server;

serveParent({
  async start({ system: name, host, mode, stampEach }) {
    const system = await loadSystem(name);
    counter = new Counter({ stampEach });
    server = await system.listen({ host, mode, counter });
    return { address: server.address };
  },
  reset() {
    counter.reset();
  },
  expect({ target, quietMs, timeoutMs }) {
    return counter.expect(target, { quietMs, timeoutMs });
  },
  async stop() {
    counter?.close();
    await Promise.race([server?.close(), new Promise((resolve) => setTimeout(resolve, 2000))]);
  },
});
