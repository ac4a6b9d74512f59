// A Node broker in a process of its own (aedes on a net server, a hybridwire server, or one node of
// a hybridwire cluster over NATS), started and stopped by the runner over IPC.
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

async function hybridwireClusterNode({ host, nats, name }) {
  const { listen } = await import('./clients/hybridwire.mjs');
  return listen({ host, cluster: { nats, name } });
}

const kinds = { aedes, hybridwire, 'hybridwire-cluster': hybridwireClusterNode };

serveParent({
  async start({ system, host, nats, name }) {
    broker = await kinds[system]({ host, nats, name });
    return { address: broker.address };
  },
  /** A cluster node: resolves once NATS has processed its subscriptions. */
  async settle() {
    await broker?.settle?.();
  },
  /** The broker's own counters, where it has them (hybridwire: stats().pubsub). */
  stats() {
    return broker?.stats?.();
  },
  async stop() {
    await Promise.race([broker?.close(), new Promise((resolve) => setTimeout(resolve, 2000))]);
  },
});
