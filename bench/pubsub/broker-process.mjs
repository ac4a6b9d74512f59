// A Node broker in a process of its own (aedes on a net server, or a hybridwire server), started
// and stopped by the runner over IPC.
import net from 'node:net';
import { serveParent } from '../e2e/harness.mjs';

let broker;

async function aedes({ host }) {
  const { Aedes } = await import('aedes');
  const instance = await Aedes.createBroker();
  const server = net.createServer(instance.handle);
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, host, resolve);
  });
  return {
    address: { host, port: server.address().port },
    close: () =>
      new Promise((resolve) => {
        server.close(() => resolve());
        instance.close(() => {});
      }),
  };
}

async function hybridwire({ host }) {
  const { listen } = await import('./clients/hybridwire.mjs');
  return listen({ host });
}

const kinds = { aedes, hybridwire };

serveParent({
  async start({ system, host }) {
    broker = await kinds[system]({ host });
    return { address: broker.address };
  },
  /** The broker's own counters, where it has them (hybridwire: stats().pubsub). */
  stats() {
    return broker?.stats?.();
  },
  async stop() {
    await Promise.race([broker?.close(), new Promise((resolve) => setTimeout(resolve, 2000))]);
  },
});
