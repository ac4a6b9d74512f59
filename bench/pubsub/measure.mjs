// One measurement: a fresh broker, subscriber processes and a publisher process for one system and
// one case, all stopped (by PID) afterwards whatever happens. A warm-up of a tenth of the messages
// runs through the same processes first; then the throughput run (the publisher as fast as its
// window allows: deliveries/s), then the latency run (the publisher paced to `latencyRate`
// deliveries per second in all, a load every system carries, so that latency is not the depth of
// a saturated broker's queues). Every wait is bounded.
import { fileURLToPath } from 'node:url';
import { Child } from '../e2e/harness.mjs';
import { startBroker } from './brokers.mjs';
import { Latencies } from './latencies.mjs';
import { systemNamed } from './systems.mjs';

const here = (file) => fileURLToPath(new URL(file, import.meta.url));
const SUBSCRIBER = here('./subscriber-process.mjs');
const PUBLISHER = here('./publisher-process.mjs');
const QUIET_MS = 3_000;

/** Splits `connections` over at most `processes` processes. */
export function spread(connections, processes) {
  const count = Math.max(1, Math.min(connections, processes));
  const shares = [];
  for (let i = 0; i < count; i++) shares.push(Math.floor(connections / count) + (i < connections % count ? 1 : 0));
  return shares;
}

/** Publishes `count` messages and waits for every subscriber process to count its deliveries. */
async function phase({ publisher, subscribers, shares, count, qos, settings, perSecond }) {
  await Promise.all(subscribers.map((child) => child.call('reset')));
  const timeoutMs = settings.timeoutMs;
  const expecting = subscribers.map((child, i) => child.call('expect', { target: count * shares[i], quietMs: QUIET_MS, timeoutMs }, timeoutMs + 15_000));
  const published = await publisher.call('publish', { count, qos, window: settings.window, timeoutMs, perSecond }, timeoutMs + 15_000);
  const got = await Promise.all(expecting);
  const delivered = got.reduce((sum, result) => sum + result.count, 0);
  const lastNs = got.reduce((latest, result) => (BigInt(result.lastNs) > latest ? BigInt(result.lastNs) : latest), 0n);
  const latencies = got.reduce((all, result) => all.add(new Latencies(result.latencies)), new Latencies());
  return { published, delivered, expected: count * shares.reduce((a, b) => a + b, 0), lastNs, latencies };
}

/** The broker's counters (hybridwire's stats().pubsub), for an error that says where deliveries went. */
async function brokerCounters(broker) {
  const stats = await broker.stats?.().catch(() => undefined);
  return stats ? ` (broker: messages out ${JSON.stringify(stats.messagesOut)}, dropped ${JSON.stringify(stats.dropped)}, inflight ${stats.inflight})` : '';
}

export async function measure(systemName, benchCase, settings) {
  const system = systemNamed(systemName);
  const broker = await startBroker(system.broker, settings.host);
  const subscribers = [];
  let publisher;
  const shares = spread(benchCase.subscribers, settings.subscriberProcesses);
  try {
    await Promise.all(
      shares.map(async (share, i) => {
        const child = new Child(SUBSCRIBER, { name: `${systemName} subscribers` });
        subscribers.push(child);
        const address = broker.subscriberAddresses ? broker.subscriberAddresses[i % broker.subscriberAddresses.length] : broker.address;
        await child.call('connect', { system: systemName, address, connections: share, qos: benchCase.qos }, 120_000);
      }),
    );
    // A cluster: every node's interest must have reached NATS before anything is published (QoS 0).
    await broker.settle?.();
    publisher = new Child(PUBLISHER, { name: `${systemName} publisher` });
    await publisher.call('connect', { system: systemName, address: broker.address }, 30_000);

    const messages = Math.max(1, Math.round(benchCase.messages * settings.scale));
    const warmup = Math.max(1, Math.round(messages / 10));
    const warm = await phase({ publisher, subscribers, shares, count: warmup, qos: benchCase.qos, settings });
    if (warm.delivered !== warm.expected) throw new Error(`warm-up: ${warm.delivered} of ${warm.expected} deliveries arrived${await brokerCounters(broker)}`);
    const run = await phase({ publisher, subscribers, shares, count: messages, qos: benchCase.qos, settings });
    const firstNs = BigInt(run.published.firstNs);
    const seconds = Number(run.lastNs - firstNs) / 1e9;
    const publishSeconds = Number(BigInt(run.published.doneNs) - firstNs) / 1e9;
    if (run.delivered !== run.expected) throw new Error(`${run.delivered} of ${run.expected} deliveries arrived${await brokerCounters(broker)}`);

    const perSecond = settings.latencyRate / benchCase.subscribers;
    const paced = await phase({ publisher, subscribers, shares, count: Math.max(1, Math.round((perSecond * settings.latencyMs) / 1000)), qos: benchCase.qos, settings, perSecond });
    if (paced.delivered !== paced.expected) throw new Error(`latency run: ${paced.delivered} of ${paced.expected} deliveries arrived${await brokerCounters(broker)}`);
    return {
      value: run.delivered / seconds,
      deliveriesPerSecond: run.delivered / seconds,
      publishedPerSecond: messages / publishSeconds,
      delivered: run.delivered,
      expected: run.expected,
      seconds,
      p50Us: paced.latencies.percentileUs(0.5),
      p99Us: paced.latencies.percentileUs(0.99),
      latencyDeliveries: paced.delivered,
      saturatedP50Us: run.latencies.percentileUs(0.5),
      saturatedP99Us: run.latencies.percentileUs(0.99),
      brokerPid: broker.pid,
      /** Every broker process (a cluster: nats-server and each node). */
      brokerPids: broker.pids ?? [broker.pid],
    };
  } finally {
    await Promise.all([...subscribers, ...(publisher ? [publisher] : [])].map((child) => child.stop()));
    await broker.stop();
  }
}
