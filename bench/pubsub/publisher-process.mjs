// The publisher in a process of its own: one connection publishing `count` stamped 64-byte
// messages as fast as its client allows, with at most `window` publishes not yet done (written at
// QoS 0, acknowledged at QoS 1), yielding to the event loop now and then as an application does.
import { setImmediate as turn } from 'node:timers/promises';
import { serveParent } from '../e2e/harness.mjs';
import { stamped } from './stamp.mjs';
import { loadClient } from './systems.mjs';

const YIELD_EVERY = 1024;
let client;

serveParent({
  async connect({ system, address }) {
    const { connect } = await loadClient(system);
    client = await connect(address);
    return {};
  },
  async publish({ count, qos, window, timeoutMs }) {
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
    while (sent < count && !failure && Date.now() < deadline) {
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
