// Soak: clients join and leave a hybridwire server for a while (10 minutes by default), half of
// them gracefully and half by having their process killed mid-traffic; then checks that the
// server's file descriptors, libuv handles and memory return to what they were after warm-up.
// The server and each group of clients run in processes of their own; 127.0.0.1 only. Every loop
// is bounded by --seconds. Exits 1 if descriptors or handles did not return, or the heap grew
// past --heap-slack (or 1 MiB). RSS is reported.
//
//   npm run compile && node scripts/soak.mjs [--seconds 600] [--max-groups 3] [--max-clients 30] [--json FILE]
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { Child } from '../bench/e2e/harness.mjs';

const { values: args } = parseArgs({
  options: {
    seconds: { type: 'string', default: '600' },
    'max-groups': { type: 'string', default: '3' },
    'max-clients': { type: 'string', default: '30' },
    'heap-slack': { type: 'string', default: '0.10' },
    json: { type: 'string' },
    seed: { type: 'string', default: '1' },
  },
});

const here = (file) => fileURLToPath(new URL(file, import.meta.url));
const seconds = Number(args.seconds);
const maxGroups = Number(args['max-groups']);
const maxClients = Number(args['max-clients']);
const heapSlack = Number(args['heap-slack']);
const heartbeat = { heartbeatIntervalMs: 500, heartbeatTimeoutMs: 2000 };
const pause = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

// A small deterministic generator, so that a run can be repeated.
let state = Number(args.seed) >>> 0 || 1;
const random = () => {
  state ^= state << 13;
  state ^= state >>> 17;
  state ^= state << 5;
  return (state >>> 0) / 2 ** 32;
};
const between = (low, high) => low + Math.floor(random() * (high - low + 1));

const server = new Child(here('./soak/server.mjs'), { execArgv: ['--expose-gc'], name: 'soak server' });
const { tcpPort, udpPort } = await server.call('start', heartbeat);
const target = { host: '127.0.0.1', tcpPort, udpPort, ...heartbeat };
const totals = { groups: 0, clients: 0, graceful: 0, killed: 0, failedOpens: 0 };

/** Resolves once the server holds no session, within `timeoutMs` (killed clients time out by heartbeat). */
async function drained(timeoutMs) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const now = await server.call('sample');
    if (now.sessions === 0) return now;
    if (Date.now() > deadline) throw new Error(`server still holds ${now.sessions} sessions after ${timeoutMs} ms`);
    await pause(250);
  }
}

/** One group: a process of clients that work for a few seconds, then close or are killed. */
async function group() {
  const clients = new Child(here('./soak/clients.mjs'), { name: 'soak clients' });
  const count = between(5, maxClients);
  totals.groups++;
  try {
    await clients.call('open', { ...target, count }, 60_000);
    totals.clients += count;
    await pause(between(1000, 6000));
    if (random() < 0.5) {
      await clients.call('close', {}, 30_000);
      totals.graceful += count;
      await clients.stop();
    } else {
      clients.process.kill('SIGKILL');
      totals.killed += count;
    }
  } catch (error) {
    totals.failedOpens++;
    console.error(`group failed: ${error.message}`);
    if (!clients.exited) clients.process.kill('SIGKILL');
  }
}

// Warm-up: one group through the whole life cycle, so lazily created state exists in the baseline.
await group();
const baseline = await drained(30_000);
console.log(`baseline: ${baseline.fds} fds, handles ${JSON.stringify(baseline.handles)}, heap ${(baseline.heapUsed / 2 ** 20).toFixed(1)} MiB, rss ${(baseline.rss / 2 ** 20).toFixed(1)} MiB`);

const samples = [];
const end = Date.now() + seconds * 1000;
const running = new Set();
let nextSample = Date.now();
while (Date.now() < end) {
  while (running.size < maxGroups && Date.now() < end) {
    const job = group().finally(() => running.delete(job));
    running.add(job);
    await pause(between(100, 1500));
  }
  if (Date.now() >= nextSample) {
    const now = await server.call('sample');
    samples.push({ at: now.at, fds: now.fds, sessions: now.sessions, heapUsed: now.heapUsed, rss: now.rss });
    console.log(`${Math.round((end - Date.now()) / 1000)} s left: ${now.sessions} sessions, ${now.fds} fds, heap ${(now.heapUsed / 2 ** 20).toFixed(1)} MiB, rss ${(now.rss / 2 ** 20).toFixed(1)} MiB; ${totals.clients} clients so far`);
    nextSample = Date.now() + 30_000;
  }
  await Promise.race([...running, pause(500)]);
}
await Promise.all(running);
const after = await drained(30_000);
await server.stop();

const handlesReturned = JSON.stringify(after.handles) === JSON.stringify(baseline.handles);
const fdsReturned = after.fds === baseline.fds;
const heapGrowth = (after.heapUsed - baseline.heapUsed) / baseline.heapUsed;
// Heap within the slack, or within 1 MiB (a small heap's relative growth is mostly noise).
const heapReturned = after.heapUsed <= baseline.heapUsed * (1 + heapSlack) + 2 ** 20;
// RSS is reported, not judged: freed memory need not go back to the OS. A leak shows as RSS still
// climbing in the second half of the run, after the allocator has reached its working size.
const half = samples[Math.floor(samples.length / 2)];
const rssGrowthSecondHalf = half ? after.rss - half.rss : undefined;
const report = {
  seconds,
  totals,
  baseline: { fds: baseline.fds, handles: baseline.handles, heapUsed: baseline.heapUsed, rss: baseline.rss, external: baseline.external },
  after: { fds: after.fds, handles: after.handles, heapUsed: after.heapUsed, rss: after.rss, external: after.external },
  heapGrowth,
  heapReturned,
  rssGrowthSecondHalf,
  fdsReturned,
  handlesReturned,
  serverStats: after.stats,
  samples,
};
if (args.json) writeFileSync(args.json, JSON.stringify(report, null, 2));
console.log(JSON.stringify({ ...report, samples: samples.length, serverStats: undefined }, null, 2));
const ok = fdsReturned && handlesReturned && heapReturned && totals.failedOpens === 0;
console.log(ok ? 'soak: descriptors, handles and heap returned to baseline' : 'soak: FAILED to return to baseline');
process.exit(ok ? 0 : 1);
