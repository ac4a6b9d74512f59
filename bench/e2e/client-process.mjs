// Benchmark clients in a process of their own: one or more connections of one system, driven by
// the runner over IPC — a one-way send of a fixed count (bounded in time), or a round-trip run
// with a fixed number of requests in flight. The loops are those of `hybridwire bench`
// (harness.mjs); a system only says how one connection sends and how it requests.
import { monotonic, probeOps } from './latency-probe.mjs'; // first: it wraps the timers of all that follows
import { Histogram, Phase, payloadOf, pump, roundTrips, serveParent } from './harness.mjs';
import { loadSystem } from './systems/index.mjs';

const CONNECT_BATCH = 16;
let connections = [];

/** The smaller of two yield intervals, 0 meaning none. */
function yieldInterval(asked, own) {
  if (!asked) return own ?? 0;
  return own ? Math.min(asked, own) : asked;
}

async function timedRoundTrips(connection, payload, inflight, count, maxMs, record) {
  const requester = (onReply, onError) => connection.requester(onReply, onError);
  return roundTrips(requester, payload, inflight, new Phase(maxMs, count), record);
}

serveParent({
  ...probeOps,
  async connect({ system: name, address, connections: wanted, mode }) {
    const system = await loadSystem(name);
    for (let i = 0; i < wanted; i += CONNECT_BATCH) {
      const batch = [];
      for (let j = i; j < Math.min(wanted, i + CONNECT_BATCH); j++) batch.push(system.connect(address, { mode }));
      connections.push(...(await Promise.all(batch)));
    }
    return { connections: connections.length };
  },
  /**
   * Each connection sends `countPerConnection` messages or for `maxMs`, whichever ends first,
   * yielding to the event loop every `yieldEvery` messages (and as often as its system must).
   */
  async send({ size, countPerConnection, maxMs, yieldEvery = 0 }) {
    const payload = payloadOf(size);
    const began = performance.now();
    const cpu = process.cpuUsage();
    const sent = await Promise.all(
      connections.map((connection) => pump(connection.sender, payload, new Phase(maxMs, countPerConnection), yieldInterval(yieldEvery, connection.yieldEvery))),
    );
    const used = process.cpuUsage(cpu);
    // cpuMs: this process's CPU time (user + system) while it sent.
    return { sent: sent.reduce((a, b) => a + b, 0), elapsedMs: performance.now() - began, cpuMs: (used.user + used.system) / 1000 };
  },
  /**
   * Round trips after a warm-up. With `slowerThan` (a percentile, e.g. 0.99) the result also lists
   * the round trips at or above it, and as many taken evenly from all of them (a control group), as
   * [start on the shared monotonic clock, ms] (latency.mjs).
   */
  async rtt({ size, inflight, count, maxMs, warmupCount, warmupMs, slowerThan }) {
    const payload = payloadOf(size);
    const connection = connections[0];
    if (warmupCount > 0) await timedRoundTrips(connection, payload, inflight, warmupCount, warmupMs, () => {});
    const histogram = new Histogram();
    let record = (_startedAt, ms) => histogram.recordMs(ms);
    const starts = slowerThan === undefined ? undefined : new Float64Array(count);
    const latencies = slowerThan === undefined ? undefined : new Float64Array(count);
    if (starts) {
      let n = 0;
      record = (startedAt, ms) => {
        histogram.recordMs(ms);
        starts[n] = startedAt;
        latencies[n++] = ms;
      };
    }
    const run = await timedRoundTrips(connection, payload, inflight, count, maxMs, record);
    const { meanUs, p50Us, p99Us, p999Us, maxUs } = histogram.summary();
    const result = { count: run.completed, elapsedMs: run.elapsedMs, perSecond: (run.completed * 1000) / run.elapsedMs, meanUs, p50Us, p99Us, p999Us, maxUs };
    if (starts) {
      if (!monotonic) throw new Error('slowerThan needs the latency probe (HYBRIDWIRE_PROBES)');
      const threshold = histogram.percentileUs(slowerThan) / 1000;
      const every = Math.max(1, Math.round(1 / (1 - slowerThan)));
      result.slow = [];
      result.control = [];
      for (let i = 0; i < run.completed; i++) {
        if (latencies[i] >= threshold) result.slow.push([monotonic(starts[i]), latencies[i]]);
        if (i % every === 0) result.control.push([monotonic(starts[i]), latencies[i]]);
      }
    }
    return result;
  },
  stats() {
    return connections[0]?.stats?.();
  },
  async stop() {
    await Promise.race([Promise.allSettled(connections.map((connection) => connection.close())), new Promise((resolve) => setTimeout(resolve, 2000))]);
    connections = [];
  },
});
