// A benchmark server in a process of its own: runs one system as a sink (counting at the
// receiver) or an echo server, and answers the runner over IPC.
import { probeOps } from './latency-probe.mjs'; // first: it wraps the timers of all that follows
import { Counter } from './counter.mjs';
import { serveParent } from './harness.mjs';
import { loadSystem } from './systems/index.mjs';

let counter;
let server;

serveParent({
  ...probeOps,
  async start({ system: name, host, mode, stampEach }) {
    const system = await loadSystem(name);
    counter = new Counter({ stampEach, sample: mode !== 'echo' });
    server = await system.listen({ host, mode, counter });
    return { address: server.address };
  },
  reset() {
    counter.reset();
  },
  expect({ target, quietMs, timeoutMs }) {
    return counter.expect(target, { quietMs, timeoutMs });
  },
  count() {
    return { count: counter.count, bytes: counter.bytes };
  },
  /**
   * Steady-state window (bench/e2e/reliable-udp.mjs): what arrived between `startAfterMs` and
   * `startAfterMs + durationMs` from now, while the sender keeps sending; the window's length is
   * measured, not assumed, so a late timer only moves it.
   */
  async window({ startAfterMs, durationMs }) {
    await new Promise((resolve) => setTimeout(resolve, startAfterMs));
    const count = counter.count;
    const bytes = counter.bytes;
    const began = performance.now();
    const cpu = process.cpuUsage();
    await new Promise((resolve) => setTimeout(resolve, durationMs));
    const used = process.cpuUsage(cpu);
    // cpuMs: this process's CPU time (user + system) during the window, what its counting cost.
    return { count: counter.count - count, bytes: counter.bytes - bytes, elapsedMs: performance.now() - began, cpuMs: (used.user + used.system) / 1000 };
  },
  stats() {
    return server?.stats?.();
  },
  /** This process's CPU time so far (µs), for CPU per message: contention on a shared machine stretches wall time, not this. */
  cpu() {
    const { user, system } = process.cpuUsage();
    return user + system;
  },
  async stop() {
    counter?.close();
    await Promise.race([server?.close(), new Promise((resolve) => setTimeout(resolve, 2000))]);
  },
});
