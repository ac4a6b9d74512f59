// Benchmark clients in a process of their own: one or more connections of one system, driven by
// the runner over IPC — a one-way send of a fixed count (bounded in time), or a round-trip run
// with a fixed number of requests in flight.
import { serveParent } from './ipc.mjs';
import { payloadOf } from './payload.mjs';
import { percentile } from './report.mjs';
import { loadSystem } from './systems/index.mjs';

const CONNECT_BATCH = 16;
let connections = [];

/** Keeps `inflight` requests outstanding until `count` have completed or `maxMs` has passed. */
function roundTrips(connection, payload, inflight, count, maxMs) {
  return new Promise((resolve, reject) => {
    const latencies = new Float64Array(count);
    const starts = new Float64Array(inflight);
    let head = 0;
    let tail = 0;
    let issued = 0;
    let done = 0;
    let stopping = false;
    const began = performance.now();
    const deadline = began + maxMs;
    let request;
    const issue = () => {
      issued++;
      starts[tail] = performance.now();
      tail = tail + 1 === inflight ? 0 : tail + 1;
      request(payload);
    };
    const onReply = () => {
      const now = performance.now();
      latencies[done++] = now - starts[head];
      head = head + 1 === inflight ? 0 : head + 1;
      if (!stopping && (issued >= count || now >= deadline)) stopping = true;
      if (!stopping) issue();
      else if (done === issued) {
        const ended = performance.now();
        const sorted = latencies.subarray(0, done).sort();
        let sum = 0;
        for (let i = 0; i < done; i++) sum += sorted[i];
        resolve({
          count: done,
          elapsedMs: ended - began,
          perSecond: (done * 1000) / (ended - began),
          meanUs: (sum / done) * 1000,
          p50Us: percentile(sorted, 0.5) * 1000,
          p99Us: percentile(sorted, 0.99) * 1000,
          p999Us: percentile(sorted, 0.999) * 1000,
          maxUs: sorted[done - 1] * 1000,
        });
      }
    };
    request = connection.requester(onReply, reject);
    const first = Math.min(inflight, count);
    for (let i = 0; i < first; i++) issue();
  });
}

serveParent({
  async connect({ system: name, address, connections: wanted, mode }) {
    const system = await loadSystem(name);
    for (let i = 0; i < wanted; i += CONNECT_BATCH) {
      const batch = [];
      for (let j = i; j < Math.min(wanted, i + CONNECT_BATCH); j++) batch.push(system.connect(address, { mode }));
      connections.push(...(await Promise.all(batch)));
    }
    return { connections: connections.length };
  },
  async send({ size, countPerConnection, maxMs }) {
    const payload = payloadOf(size);
    const began = performance.now();
    const deadline = began + maxMs;
    const sent = await Promise.all(connections.map((connection) => connection.sendMany(payload, countPerConnection, deadline)));
    return { sent: sent.reduce((a, b) => a + b, 0), elapsedMs: performance.now() - began };
  },
  async rtt({ size, inflight, count, maxMs, warmupCount, warmupMs }) {
    const payload = payloadOf(size);
    if (warmupCount > 0) await roundTrips(connections[0], payload, inflight, warmupCount, warmupMs);
    return roundTrips(connections[0], payload, inflight, count, maxMs);
  },
  stats() {
    return connections[0]?.stats?.();
  },
  async stop() {
    await Promise.race([Promise.allSettled(connections.map((connection) => connection.close())), new Promise((resolve) => setTimeout(resolve, 2000))]);
    connections = [];
  },
});
