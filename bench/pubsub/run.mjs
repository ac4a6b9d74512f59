// Pub/sub side by side: hybridwire's broker against aedes and mosquitto (driven by mqtt.js) and
// NATS (the official Node client, QoS 0 only). One publisher process, the subscribers spread over
// a few processes, the broker in its own; every system measured once per round with fresh
// processes, the order rotated each round (bench/e2e's rounds), medians and per-round ratios.
//
//   npx tsc -p tsconfig.build.json          # hybridwire is imported from dist/
//   node bench/pubsub/run.mjs               # every case, 3 rounds
//   node bench/pubsub/run.mjs --quick       # smoke run: every case, tiny counts, 1 round
//   node bench/pubsub/run.mjs --cases fanout-1000-q0 --systems hybridwire,mosquitto --rounds 5
//   node bench/pubsub/run.mjs --json > pubsub.json; node bench/pubsub/run.mjs --from-json pubsub.json
import { execFileSync } from 'node:child_process';
import { list, number, parseRunnerArgs, printSavedRun, requireLoopback } from '../e2e/command-line.mjs';
import { describe, machine } from '../e2e/machine.mjs';
import { runRounds } from '../e2e/rounds.mjs';
import { count, micros } from '../e2e/report.mjs';
import { unavailable } from './brokers.mjs';
import { caseNamed, cases } from './cases.mjs';
import { loadHybridwire } from './clients/hybridwire.mjs';
import { measure } from './measure.mjs';
import { formatCase, formatOverview, summarize } from './report.mjs';
import { systemNamed, systems } from './systems.mjs';

const args = parseRunnerArgs({
    scale: { type: 'string' },
    window: { type: 'string' },
    'subscriber-processes': { type: 'string' },
    'timeout-ms': { type: 'string' },
    'latency-rate': { type: 'string' },
    'latency-ms': { type: 'string' },
    host: { type: 'string', default: '127.0.0.1' },
});

if (args.help) {
  console.log(`usage: node bench/pubsub/run.mjs [--quick] [--json] [--cases a,b] [--systems x,y] [--rounds N] [--scale F]
                               [--window N] [--subscriber-processes N] [--timeout-ms MS] [--latency-rate N]
                               [--latency-ms MS] [--host 127.0.0.1|::1]
       node bench/pubsub/run.mjs --from-json FILE
cases:   ${cases.map((c) => `${c.name} (${c.messages.toLocaleString('en-US')} messages)`).join(', ')}
systems: ${systems.map((s) => s.name).join(', ')}`);
  process.exit(0);
}

function render({ meta, summary }) {
  return [
    describe(meta),
    `uptime at start: ${meta.uptimeBefore}`,
    `uptime at end: ${meta.uptimeAfter}`,
    `command: ${meta.command}; ${meta.settings.rounds} round(s), message counts × ${meta.settings.scale}, ${meta.settings.subscriberProcesses} subscriber process(es) at most, publisher window ${meta.settings.window}; ${meta.durationSeconds} s in all`,
    `Deliveries/s: all deliveries counted at the subscribers ÷ (last delivery − first publish). Latency: publish to delivery (timestamp in the payload, CLOCK_MONOTONIC), every delivery of a second run in which the publisher is paced to ${meta.settings.latencyRate.toLocaleString('en-US')} deliveries/s in all (messages/s = that ÷ subscribers) for ${meta.settings.latencyMs} ms. Medians of the rounds; ratios are medians of per-round ratios (higher is better).`,
    ...meta.notes.map((note) => `note: ${note}`),
    '',
    formatOverview(summary),
    ...summary.map(({ case: benchCase, rows }) => formatCase(benchCase, rows, meta.settings.rounds)),
  ].join('\n');
}

printSavedRun(args, render);
requireLoopback(args.host);

const settings = {
  host: args.host,
  rounds: number(args.rounds, args.quick ? 1 : 3),
  scale: number(args.scale, args.quick ? 0.01 : 1),
  window: number(args.window, 1000),
  subscriberProcesses: number(args['subscriber-processes'], 4),
  timeoutMs: number(args['timeout-ms'], 120_000),
  latencyRate: number(args['latency-rate'], 2_000),
  latencyMs: number(args['latency-ms'], args.quick ? 200 : 2_000),
};
for (const [name, value] of Object.entries(settings)) {
  if (typeof value === 'number' && !(value > 0 && (name === 'scale' || Number.isInteger(value)))) {
    console.error(`--${name.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)} must be a positive ${name === 'scale' ? 'number' : 'integer'}`);
    process.exit(2);
  }
}

let selectedCases;
let selectedSystems;
try {
  selectedCases = args.cases && args.cases !== 'all' ? list(args.cases).map(caseNamed) : cases;
  selectedSystems = args.systems ? list(args.systems).map((name) => systemNamed(name).name) : systems.filter((s) => !s.optIn).map((s) => s.name);
} catch (error) {
  console.error(error.message);
  process.exit(2);
}

const notes = [];
for (const name of [...selectedSystems]) {
  const reason = (name.startsWith('hybridwire') ? await loadHybridwire() : undefined) ?? unavailable(name);
  if (reason) {
    notes.push(`${name} skipped: ${reason}`);
    selectedSystems = selectedSystems.filter((system) => system !== name);
  }
}
const log = (line) => process.stderr.write(`${line}\n`);
for (const note of notes) log(`note: ${note}`);

const uptime = () => {
  try {
    return execFileSync('uptime', { stdio: ['ignore', 'pipe', 'ignore'] }).toString().trim();
  } catch {
    return 'n/a';
  }
};
const plan = selectedCases.map((benchCase) => ({ benchCase, systems: selectedSystems.filter((name) => systemNamed(name).qos.includes(benchCase.qos)) }));
const started = Date.now();
const startedOn = machine();
const uptimeBefore = uptime();
const measurements = await runRounds({
  plan,
  rounds: settings.rounds,
  measure: (system, benchCase) => measure(system, benchCase, settings),
  describe: (_benchCase, r) => `${count(r.value)} deliveries/s  p50 ${micros(r.p50Us)} µs  p99 ${micros(r.p99Us)} µs`,
  log,
});
const summary = plan.map(({ benchCase, systems: names }) => ({ case: benchCase, rows: summarize(benchCase, names, measurements) }));
const meta = {
  ...startedOn,
  uptimeBefore,
  uptimeAfter: uptime(),
  command: `node bench/pubsub/run.mjs ${process.argv.slice(2).join(' ')}`.trim(),
  settings,
  durationSeconds: Math.round((Date.now() - started) / 1000),
  notes,
};
if (args.json) process.stdout.write(`${JSON.stringify({ meta, summary, measurements }, null, 2)}\n`);
else process.stdout.write(`${render({ meta, summary })}\n`);
