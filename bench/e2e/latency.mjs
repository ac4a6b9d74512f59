// Round-trip latency and where its tail comes from. Runs the rtt case (echo, one connection,
// --inflight requests outstanding) for each system with the latency probe (latency-probe.mjs) in
// both processes, and lays the round trips at or above p99 beside what the probe saw at the same
// moment on the shared monotonic clock: garbage collections in the client or the server, timer
// callbacks (by name; the library's heartbeat, ACK-delay and request-timeout timers among them),
// and otherwise nothing the process itself did (then: the scheduler, the kernel, other processes).
// It also reports, per process, the GCs per 1,000 round trips, event-loop delay and utilisation,
// timer lateness and involuntary context switches.
//
//   npx tsc -p tsconfig.build.json
//   node bench/e2e/latency.mjs                                   # net-coalesced and hybridwire, 1 round
//   node bench/e2e/latency.mjs --systems net-coalesced,ws,hybridwire --rounds 3 --measure-ms 5000
//   node bench/e2e/latency.mjs --node-options=--min-semi-space-size=32    # test a GC hypothesis
//   node bench/e2e/latency.mjs --probes none                    # the distribution, no probe cost
//   node bench/e2e/latency.mjs --probes gc,timers,loop,alloc    # also bytes allocated per round trip, by function
//   node bench/e2e/latency.mjs --trace-gc bench/.cache/gc       # also node --trace-gc logs per process
//   node bench/e2e/latency.mjs --json > lat.json; node bench/e2e/latency.mjs --from-json lat.json
//
// The probes cost something (a wrapper per timer callback, a 1 ms loop-delay timer, GC entries):
// compare systems measured with the same --probes, and take the undisturbed distribution from
// run.mjs's rtt-1 or --probes none.
import { mkdirSync, openSync, closeSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { Child } from './harness.mjs';
import { describe, machine } from './machine.mjs';
import { fixed, median, micros } from './report.mjs';
import { loadHybridwire } from './systems/hybridwire.mjs';
import { systemInfo } from './systems/index.mjs';

const here = (file) => fileURLToPath(new URL(file, import.meta.url));
const SERVER = here('./server-process.mjs');
const CLIENT = here('./client-process.mjs');
const MAX_ROUND_TRIPS = 500_000;
const SLOW_PERCENTILE = 0.99;

const { values: args } = parseArgs({
  options: {
    systems: { type: 'string', default: 'net-coalesced,hybridwire' },
    rounds: { type: 'string', default: '1' },
    'measure-ms': { type: 'string', default: '3000' },
    'warmup-ms': { type: 'string', default: '500' },
    inflight: { type: 'string', default: '1' },
    size: { type: 'string', default: '64' },
    probes: { type: 'string', default: 'gc,timers,loop' },
    'node-options': { type: 'string', default: '' },
    'trace-gc': { type: 'string' },
    json: { type: 'boolean', default: false },
    'from-json': { type: 'string' },
    help: { type: 'boolean', default: false },
  },
});

if (args.help) {
  console.log(`usage: node bench/e2e/latency.mjs [--systems a,b] [--rounds N] [--measure-ms MS] [--warmup-ms MS]
                                   [--inflight N] [--size BYTES] [--probes gc,timers,loop,alloc|none]
                                   [--node-options=...] [--trace-gc DIR] [--json]
       node bench/e2e/latency.mjs --from-json FILE`);
  process.exit(0);
}

// ---- analysis ----

const overlaps = (start, ms, event) => event[0] <= start + ms && event[0] + event[1] >= start;
const clipped = (start, ms, event) => Math.max(0, Math.min(start + ms, event[0] + event[1]) - Math.max(start, event[0]));

/** Per label: how many, total and longest ms, and (timers) lateness percentiles. */
function byLabel(events) {
  const groups = new Map();
  for (const [, ms, label, late] of events) {
    const group = groups.get(label) ?? { label, count: 0, totalMs: 0, maxMs: 0, lates: [] };
    group.count++;
    group.totalMs += ms;
    group.maxMs = Math.max(group.maxMs, ms);
    group.lates.push(late);
    groups.set(label, group);
  }
  return [...groups.values()]
    .map(({ lates, ...group }) => {
      lates.sort((a, b) => a - b);
      return { ...group, lateP50Ms: lates[lates.length >> 1], lateMaxMs: lates[lates.length - 1] };
    })
    .sort((a, b) => b.totalMs - a.totalMs);
}

/**
 * For a set of round trips: how many overlapped a GC or a timer callback in either process, and how
 * much of their time above p50 those events cover (clipped to the round trip; a round trip's
 * excess is covered at most once). Overlap alone is weak evidence for a timer that runs every
 * millisecond: compare with the control group, taken evenly from all round trips.
 */
function attribute(samples, p50Ms, probes, threshold = 0) {
  const picked = samples.filter(([, ms]) => ms >= threshold);
  const sources = {
    clientGc: probes.client.gc,
    serverGc: probes.server.gc,
    clientTimers: probes.client.timers,
    serverTimers: probes.server.timers,
  };
  const tally = { count: picked.length, excessMs: 0, overlapped: {}, chance: {}, coveredMs: {}, nothing: 0, timerNames: {} };
  // Events of a kind come at some rate; a round trip of L ms overlaps one by chance with
  // probability about (L + their mean length) * rate, if they have nothing to do with each other.
  const windowMs = probes.client.to - probes.client.from;
  const rates = {};
  for (const [key, events] of Object.entries(sources)) {
    tally.overlapped[key] = 0;
    tally.chance[key] = 0;
    tally.coveredMs[key] = 0;
    const meanMs = events.length ? events.reduce((sum, [, ms]) => sum + ms, 0) / events.length : 0;
    rates[key] = { perMs: windowMs > 0 ? events.length / windowMs : 0, meanMs };
  }
  for (const [start, ms] of picked) {
    const excess = Math.max(0, ms - p50Ms);
    tally.excessMs += excess;
    let any = false;
    for (const [key, { perMs, meanMs }] of Object.entries(rates)) tally.chance[key] += Math.min(1, (ms + meanMs) * perMs);
    for (const [key, events] of Object.entries(sources)) {
      const hits = events.filter((event) => overlaps(start, ms, event));
      if (hits.length === 0) continue;
      any = true;
      tally.overlapped[key]++;
      tally.coveredMs[key] += Math.min(excess, hits.reduce((sum, event) => sum + clipped(start, ms, event), 0));
      if (key.endsWith('Timers')) {
        for (const [, , name] of hits) {
          const label = `${key.startsWith('client') ? 'client' : 'server'}: ${name}`;
          tally.timerNames[label] = (tally.timerNames[label] ?? 0) + 1;
        }
      }
    }
    if (!any) tally.nothing++;
  }
  return tally;
}

function analyse(result, probes) {
  const perThousand = (n) => (result.count > 0 ? (1000 * n) / result.count : NaN);
  const processSummary = (report) => {
    const gcGroups = byLabel(report.gc);
    return {
      gc: gcGroups.map((group) => ({ ...group, perThousandRoundTrips: perThousand(group.count) })),
      gcTotalMs: report.gc.reduce((sum, [, ms]) => sum + ms, 0),
      timers: byLabel(report.timers),
      loopDelay: report.loopDelay,
      utilization: report.utilization,
      contextSwitches: report.contextSwitches,
      cpuMs: report.cpuMs,
      dropped: report.dropped,
      allocation: report.allocation && {
        bytesPerRoundTrip: result.count > 0 ? report.allocation.bytes / result.count : NaN,
        sites: report.allocation.sites.map(({ site, bytes }) => ({ site, bytesPerRoundTrip: result.count > 0 ? bytes / result.count : NaN })),
      },
    };
  };
  const p50Ms = result.p50Us / 1000;
  return {
    latency: { count: result.count, perSecond: result.perSecond, p50Us: result.p50Us, p99Us: result.p99Us, p999Us: result.p999Us, maxUs: result.maxUs, meanUs: result.meanUs },
    client: processSummary(probes.client),
    server: processSummary(probes.server),
    slowP99: attribute(result.slow, p50Ms, probes, result.p99Us / 1000),
    slowP999: attribute(result.slow, p50Ms, probes, result.p999Us / 1000),
    control: attribute(result.control, p50Ms, probes),
  };
}

// ---- measuring ----

async function measure(system, round, settings) {
  const extra = settings.nodeOptions ? settings.nodeOptions.split(/\s+/).filter(Boolean) : [];
  const logs = [];
  const stdoutOf = (role) => {
    if (!settings.traceGc) return 'ignore';
    const fd = openSync(path.join(settings.traceGc, `${system}.r${round}.${role}.log`), 'w');
    logs.push(fd);
    return fd;
  };
  const execArgv = [...extra, ...(settings.traceGc ? ['--trace-gc'] : [])];
  const server = new Child(SERVER, { name: `${system} server`, execArgv, stdout: stdoutOf('server') });
  let client;
  try {
    const { address } = await server.call('start', { system, host: '127.0.0.1', mode: 'echo', stampEach: false }, 15_000);
    client = new Child(CLIENT, { name: `${system} client`, execArgv, stdout: stdoutOf('client') });
    await client.call('connect', { system, address, connections: 1, mode: 'echo' }, 30_000);
    const rtt = { size: settings.size, inflight: settings.inflight, warmupCount: 0, warmupMs: 0 };
    await client.call('rtt', { ...rtt, count: MAX_ROUND_TRIPS, maxMs: settings.warmupMs }, settings.warmupMs + 30_000);
    await Promise.all([server.call('probeBegin'), client.call('probeBegin')]);
    const result = await client.call('rtt', { ...rtt, count: MAX_ROUND_TRIPS, maxMs: settings.measureMs, slowerThan: SLOW_PERCENTILE }, settings.measureMs + 30_000);
    const [serverProbe, clientProbe] = await Promise.all([server.call('probeEnd', {}, 30_000), client.call('probeEnd', {}, 30_000)]);
    return analyse(result, { client: clientProbe, server: serverProbe });
  } finally {
    await client?.stop();
    await server.stop();
    for (const fd of logs) closeSync(fd);
  }
}

// ---- reporting ----

const percent = (part, whole) => (whole > 0 ? `${Math.round((100 * part) / whole)}%` : '–');

function gcCell(side) {
  const minor = side.gc.find((group) => group.label === 'minor');
  const others = side.gc.filter((group) => group.label !== 'minor');
  const text = minor ? `${fixed(2)(minor.perThousandRoundTrips)} minor (mean ${micros((1000 * minor.totalMs) / minor.count)}, max ${micros(1000 * minor.maxMs)} µs)` : '0 minor';
  return others.length ? `${text}; ${others.map((group) => `${group.count} ${group.label}`).join(', ')}` : text;
}

function loopCell(side) {
  const delay = side.loopDelay;
  return delay ? `${micros(delay.p99Us)} / ${micros(delay.maxUs)}` : '–';
}

function render({ meta, measurements }) {
  const lines = [
    describe(meta),
    `command: ${meta.command}; ${meta.settings.rounds} round(s) of ${meta.settings.measureMs} ms after ${meta.settings.warmupMs} ms of warm-up, ${meta.settings.size} B, ${meta.settings.inflight} in flight; probes: ${meta.settings.probes}${meta.settings.nodeOptions ? `; node options: ${meta.settings.nodeOptions}` : ''}`,
    '',
    '### Round trips and what the processes did meanwhile (medians of the rounds)',
    '',
    '| system | round trips | p50 µs | p99 µs | p99.9 µs | max µs | client GCs per 1,000 round trips | server GCs per 1,000 round trips | loop delay p99 / max µs, client · server (1 ms timer) | loop utilisation client · server | involuntary context switches client · server |',
    '|---|---|---|---|---|---|---|---|---|---|---|',
  ];
  const systems = [...new Set(measurements.map((m) => m.system))];
  const good = (system) => measurements.filter((m) => m.system === system && m.ok);
  for (const system of systems) {
    const runs = good(system);
    if (runs.length === 0) {
      lines.push(`| ${system} | n/a: ${measurements.find((m) => m.system === system)?.error ?? ''} |`);
      continue;
    }
    const med = (pick) => median(runs.map((m) => pick(m.result)));
    const last = runs[runs.length - 1].result;
    lines.push(
      `| ${[
        system,
        Math.round(med((r) => r.latency.count)),
        micros(med((r) => r.latency.p50Us)),
        micros(med((r) => r.latency.p99Us)),
        micros(med((r) => r.latency.p999Us)),
        micros(med((r) => r.latency.maxUs)),
        gcCell(last.client),
        gcCell(last.server),
        `${loopCell(last.client)} · ${loopCell(last.server)}`,
        `${fixed(2)(med((r) => r.client.utilization))} · ${fixed(2)(med((r) => r.server.utilization))}`,
        `${med((r) => r.client.contextSwitches.involuntary)} · ${med((r) => r.server.contextSwitches.involuntary)}`,
      ].join(' | ')} |`,
    );
  }
  lines.push(
    '',
    '### The slow round trips: what overlapped them, and how much of their time it covers (every round)',
    '',
    "Each cell: the share of those round trips that overlapped such an event, the share expected by chance (events at their measured rate, unrelated to the round trips: a round trip of L ms meets a 1 ms timer about L times in 1), then the share of their time above p50 that the events themselves cover. The control row is 1% of all round trips, taken evenly. An event is implicated when it overlaps the slow round trips well beyond chance, or covers much of their time. 'nothing': no GC and no timer callback in either process (the time then went to the process's own work, the scheduler, the kernel or another process).",
    '',
    '| system | round | round trips | count | GC in client | GC in server | timers in client | timers in server | nothing | timers seen in them |',
    '|---|---|---|---|---|---|---|---|---|---|',
  );
  const cell = (tally, key) => `${percent(tally.overlapped[key], tally.count)} (chance ${percent(tally.chance[key], tally.count)}) · ${percent(tally.coveredMs[key], tally.excessMs)}`;
  for (const m of measurements.filter((entry) => entry.ok)) {
    for (const [label, tally] of [
      [`≥ p99 (${micros(m.result.latency.p99Us)} µs)`, m.result.slowP99],
      [`≥ p99.9 (${micros(m.result.latency.p999Us)} µs)`, m.result.slowP999],
      ['control', m.result.control],
    ]) {
      const names = Object.entries(tally.timerNames).sort((a, b) => b[1] - a[1]).slice(0, 3).map(([name, n]) => `${name} ×${n}`).join('; ');
      lines.push(
        `| ${[m.system, m.round, label, tally.count, cell(tally, 'clientGc'), cell(tally, 'serverGc'), cell(tally, 'clientTimers'), cell(tally, 'serverTimers'), percent(tally.nothing, tally.count), names || '–'].join(' | ')} |`,
      );
    }
  }
  const allocating = systems.filter((system) => good(system).some((m) => m.result.client.allocation));
  if (allocating.length) {
    lines.push('', '### Bytes allocated per round trip, and where (probe alloc: sampled every 16 KiB, objects that die young included; last round)', '', '| system | process | bytes per round trip | functions allocating the most: bytes per round trip |', '|---|---|---|---|');
    for (const system of allocating) {
      const runs = good(system);
      const last = runs[runs.length - 1].result;
      for (const side of ['client', 'server']) {
        const allocation = last[side].allocation;
        if (!allocation) continue;
        const sites = allocation.sites.slice(0, 6).map(({ site, bytesPerRoundTrip }) => `${site} ${Math.round(bytesPerRoundTrip)}`).join('; ');
        lines.push(`| ${system} | ${side} | ${Math.round(median(runs.map((m) => m.result[side].allocation.bytesPerRoundTrip)))} | ${sites.replace(/\|/g, '\\|')} |`);
      }
    }
  }
  lines.push('', '### Timers that ran during the measurement (last round)', '', '| system | process | timer | callbacks | total ms | longest µs | lateness p50 / max ms |', '|---|---|---|---|---|---|---|');
  for (const system of systems) {
    const runs = good(system);
    if (runs.length === 0) continue;
    const last = runs[runs.length - 1].result;
    for (const side of ['client', 'server']) {
      for (const timer of last[side].timers.slice(0, 8)) {
        lines.push(`| ${system} | ${side} | ${timer.label} | ${timer.count} | ${fixed(2)(timer.totalMs)} | ${micros(1000 * timer.maxMs)} | ${fixed(2)(timer.lateP50Ms)} / ${fixed(2)(timer.lateMaxMs)} |`);
      }
    }
  }
  lines.push('');
  return lines.join('\n');
}

// ---- running ----

if (args['from-json']) {
  process.stdout.write(`${render(JSON.parse(readFileSync(args['from-json'], 'utf8')))}\n`);
  process.exit(0);
}

const settings = {
  rounds: Number(args.rounds),
  measureMs: Number(args['measure-ms']),
  warmupMs: Number(args['warmup-ms']),
  inflight: Number(args.inflight),
  size: Number(args.size),
  probes: args.probes,
  nodeOptions: args['node-options'],
  traceGc: args['trace-gc'] ? path.resolve(args['trace-gc']) : undefined,
};
for (const name of ['rounds', 'measureMs', 'warmupMs', 'inflight']) {
  if (!(Number.isInteger(settings[name]) && settings[name] > 0)) {
    console.error(`--${name.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)} must be a positive integer`);
    process.exit(2);
  }
}
if (!(Number.isInteger(settings.size) && settings.size >= 0)) {
  console.error('--size must be a non-negative integer');
  process.exit(2);
}
let systems;
try {
  systems = args.systems.split(',').map((name) => name.trim()).filter(Boolean);
  for (const name of systems) {
    const info = systemInfo(name);
    if (info.transport !== 'tcp' || (info.kinds && !info.kinds.includes('rtt'))) throw new Error(`'${name}' does not take round trips over TCP`);
  }
} catch (error) {
  console.error(error.message);
  process.exit(2);
}
if (systems.some((name) => name.startsWith('hybridwire'))) {
  const reason = await loadHybridwire();
  if (reason) {
    console.error(`hybridwire: ${reason}`);
    process.exit(2);
  }
}
if (settings.traceGc) mkdirSync(settings.traceGc, { recursive: true });
// The processes started below inherit it: latency-probe.mjs records only when it is set.
process.env.HYBRIDWIRE_PROBES = settings.probes === 'none' ? 'none' : settings.probes;

const log = (line) => process.stderr.write(`${line}\n`);
const startedOn = machine();
const started = Date.now();
const measurements = [];
for (let round = 1; round <= settings.rounds; round++) {
  const shift = (round - 1) % systems.length;
  for (const system of [...systems.slice(shift), ...systems.slice(0, shift)]) {
    const entry = { round, system };
    try {
      entry.result = await measure(system, round, settings);
      entry.ok = true;
      const { latency, slowP99 } = entry.result;
      log(`round ${round} ${system}: p50 ${micros(latency.p50Us)} µs, p99 ${micros(latency.p99Us)}, p99.9 ${micros(latency.p999Us)}, max ${micros(latency.maxUs)}; ${slowP99.count} round trips >= p99, ${slowP99.nothing} of them with no GC or timer`);
    } catch (error) {
      entry.ok = false;
      entry.error = String(error?.message ?? error).split('\n')[0];
      log(`round ${round} ${system}: FAILED: ${entry.error}`);
    }
    measurements.push(entry);
  }
}
const meta = { ...startedOn, command: `node bench/e2e/latency.mjs ${process.argv.slice(2).join(' ')}`.trim(), settings, durationSeconds: Math.round((Date.now() - started) / 1000) };
if (args.json) process.stdout.write(`${JSON.stringify({ meta, measurements }, null, 2)}\n`);
else process.stdout.write(`${render({ meta, measurements })}\n`);
