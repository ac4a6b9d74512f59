// Subscribers in a process of their own: `connections` connections of one system, each subscribed
// to the benchmark topic; every delivery is counted and its publish-to-delivery latency recorded.
import { serveParent } from '../e2e/harness.mjs';
import { Latencies } from './latencies.mjs';
import { ageNs } from './stamp.mjs';
import { loadClient } from './systems.mjs';

const CONNECT_BATCH = 25;
let clients = [];
let count = 0;
let lastNs = 0n;
let latencies = new Latencies();
let waiter;

function onMessage(payload) {
  const now = process.hrtime.bigint();
  count++;
  lastNs = now;
  latencies.record(ageNs(payload, now));
  if (waiter && count >= waiter.target) waiter.finish();
}

serveParent({
  async connect({ system, address, connections, qos }) {
    const { connect } = await loadClient(system);
    for (let i = 0; i < connections; i += CONNECT_BATCH) {
      const batch = [];
      for (let j = i; j < Math.min(connections, i + CONNECT_BATCH); j++) {
        batch.push(
          connect(address).then(async (client) => {
            clients.push(client);
            await client.subscribe(qos, onMessage);
          }),
        );
      }
      await Promise.all(batch);
    }
    return { connections: clients.length };
  },
  reset() {
    count = 0;
    lastNs = 0n;
    latencies = new Latencies();
  },
  /**
   * Resolves when `target` deliveries have been counted, or when none has come for `quietMs` (after
   * the first), or after `timeoutMs`: with the count, the last delivery's time and the latencies.
   */
  expect({ target, quietMs, timeoutMs }) {
    return new Promise((resolve) => {
      let seen = count;
      const began = Date.now();
      const quiet = setInterval(() => {
        const stalled = count > 0 && count === seen;
        seen = count;
        if (stalled || Date.now() - began > timeoutMs) waiter.finish();
      }, quietMs);
      waiter = {
        target,
        finish: () => {
          clearInterval(quiet);
          waiter = undefined;
          resolve({ count, lastNs: lastNs.toString(), latencies: latencies.counts });
        },
      };
      if (count >= target) waiter.finish();
    });
  },
  async stop() {
    await Promise.race([Promise.allSettled(clients.map((client) => client.close())), new Promise((resolve) => setTimeout(resolve, 2000))]);
    clients = [];
  },
});
