// A hybridwire connection through its public API (dist/index.js): `client.subscribe(filter,
// handler, { qos })` and `client.publish(topic, payload, { qos })` over TCP.
import { pathToFileURL } from 'node:url';

export const topic = 'bench/fanout';

let api;
/** Loads dist/index.js; returns a reason string when pub/sub is not there yet. */
export async function loadHybridwire() {
  if (api) return undefined;
  try {
    const module = await import(process.env.HYBRIDWIRE_DIST ? pathToFileURL(process.env.HYBRIDWIRE_DIST).href : '../../../dist/index.js');
    if (typeof module.createServer !== 'function' || typeof module.connect !== 'function') return 'dist/index.js does not export createServer() and connect()';
    const probe = module.createServer({ host: '127.0.0.1', tcpPort: 0 });
    const hasPubsub = typeof probe.publish === 'function';
    await probe.close?.().catch?.(() => {});
    if (!hasPubsub) return 'this build of hybridwire has no pub/sub (server.publish is missing)';
    api = module;
    return undefined;
  } catch (error) {
    return `dist/index.js failed to load: ${error.message}`;
  }
}

/**
 * A hybridwire server (its broker) on `host`, port 0. Its per-session queue of QoS ≥ 1 deliveries
 * waiting past maxInflight is unbounded here (the default drops the oldest past 1,000 messages or
 * 1 MiB), as mosquitto's is with `max_queued_messages 0`: the benchmark counts every delivery.
 * With `cluster` (`{ nats, name }`) the server is one node of a cluster over that NATS server.
 */
export async function listen({ host, cluster }) {
  const reason = await loadHybridwire();
  if (reason) throw new Error(reason);
  const server = api.createServer({ host, tcpPort: 0, maxOfflineMessages: 10_000_000, maxOfflineBytes: 2 ** 40, ...(cluster ? { cluster } : {}) });
  server.on('error', () => {});
  const { tcpPort } = await server.listen();
  return {
    address: { host, port: tcpPort },
    close: () => server.close(),
    stats: () => server.stats().pubsub,
    /** Cluster node: resolves once NATS has processed this node's subscriptions (server.cluster.flush()). */
    settle: () => server.cluster?.flush(),
  };
}

export async function connect({ host, port }) {
  const reason = await loadHybridwire();
  if (reason) throw new Error(reason);
  const client = await api.connect({ host, tcpPort: port });
  client.on('error', () => {});
  return {
    /** Resolves once the server has confirmed the subscription. */
    async subscribe(qos, onMessage) {
      await client.subscribe(topic, (message) => onMessage(message.payload), { qos });
    },
    /** `done` runs once the publish has resolved: written (QoS 0) or acknowledged (QoS 1). */
    publish(payload, qos, done) {
      client.publish(topic, payload, { qos }).then(() => done(), done);
    },
    flush: () => Promise.resolve(),
    close: () => client.close(),
  };
}
