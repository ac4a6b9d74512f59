// The publisher in a process of its own: one connection publishing `count` stamped 64-byte
// messages, with at most `window` publishes not yet done (written at QoS 0, acknowledged at QoS 1),
// yielding to the event loop now and then as an application does: as fast as its client allows,
// or, with `perSecond`, paced to that rate (the latency phase).
import { setImmediate as turn } from 'node:timers/promises';
import { serveParent } from '../e2e/harness.mjs';
import { stamped } from './stamp.mjs';
import { loadClient } from './systems.mjs';

const YIELD_EVERY = 1024;
const PACE_TICK_MS = 5;
let client;

serveParent({
  async connect({ system, address }) {
    const { connect } = await loadClient(system);
    client = await connect(address);
    return {};
  },
  async publish({ count, qos, window, timeoutMs, perSecond }) {
    let outstanding = 0;
    let failure;
    let wake;
    const done = (error) => {
      if (error && !failure) failure = error;
      outstanding--;
      if (wake && outstanding <= window / 2) {
        const resume = wake;
        wake = undefined;
        resume();
      }
    };
    const deadline = Date.now() + timeoutMs;
    const firstNs = process.hrtime.bigint();
    let sent = 0;
    const began = performance.now();
    while (sent < count && !failure && Date.now() < deadline) {
      if (perSecond && sent >= ((performance.now() - began) * perSecond) / 1000) {
        await new Promise((resolve) => setTimeout(resolve, PACE_TICK_MS));
        continue;
      }
      if (outstanding >= window) {
        await new Promise((resolve) => (wake = resolve));
        continue;
      }
      client.publish(stamped(), qos, done);
      outstanding++;
      sent++;
      if (sent % YIELD_EVERY === 0) await turn();
    }
    await client.flush();
    while (outstanding > 0 && !failure && Date.now() < deadline) {
      await new Promise((resolve) => {
        wake = resolve;
        setTimeout(resolve, 50);
      });
    }
    if (failure) throw failure;
    if (outstanding > 0 || sent < count) throw new Error(`publisher: ${sent} of ${count} published, ${outstanding} not done within ${timeoutMs} ms`);
    return { sent, firstNs: firstNs.toString(), doneNs: process.hrtime.bigint().toString() };
  },
  async stop() {
    await Promise.race([client?.close(), new Promise((resolve) => setTimeout(resolve, 2000))]);
  },
});
