// End-to-end benchmarks: hybridwire against a hand-written length-prefixed `net` baseline (one
// write per message, and coalesced 64 KiB writes), `ws` (bufferutil) and `zeromq` v6 over TCP, and
// against plain `dgram` over UDP. Server and clients run in separate processes on 127.0.0.1 with
// port 0; every system is measured once per round, interleaved (A B C A B C ...), with fresh
// processes each time, and the tables show medians of the rounds, their spread, and the median of
// the per-round ratios — the machines are shared and noisy, so ratios are what to read.
//
//   npx tsc -p tsconfig.build.json             # hybridwire is imported from dist/
//   node bench/e2e/run.mjs                     # full run
//   node bench/e2e/run.mjs --quick             # smoke run
//   node bench/e2e/run.mjs --cases tput-64,rtt-1 --systems net-coalesced,hybridwire --rounds 7
//   node bench/e2e/run.mjs --json > results.json
//   node bench/e2e/run.mjs --cases tput-64 --systems hybridwire --rounds 1 --cpu-prof bench/.cache/prof
//     (a V8 CPU profile of every server and client process; bench/e2e/profile-summary.mjs reads them)
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { list, number, parseRunnerArgs, printSavedRun, requireLoopback } from './command-line.mjs';
import { caseNamed, cases } from './cases.mjs';
import { describe, machine } from './machine.mjs';
import { measures } from './measure.mjs';
import { formatCase, formatClients, summarize } from './report.mjs';
import { runRounds } from './rounds.mjs';
import { systemInfo, systems } from './systems/index.mjs';
import { loadHybridwire } from './systems/hybridwire.mjs';

const args = parseRunnerArgs({
    'measure-ms': { type: 'string' },
    'warmup-ms': { type: 'string' },
    'client-processes': { type: 'string', default: '2' },
    'yield-every': { type: 'string' },
    host: { type: 'string', default: '127.0.0.1' },
    'cpu-prof': { type: 'string' },
});

if (args.help) {
  console.log(`usage: node bench/e2e/run.mjs [--quick] [--json] [--cases a,b] [--systems x,y] [--rounds N]
                              [--measure-ms MS] [--warmup-ms MS] [--client-processes N] [--yield-every N]
                              [--host 127.0.0.1|::1] [--cpu-prof DIR]
       node bench/e2e/run.mjs --from-json FILE      (prints the tables of a saved --json run)
cases:   ${cases.map((c) => c.name).join(', ')} (or all; --quick alone runs ${'tput-64, rtt-1, udp-64'})
systems: ${systems.map((s) => s.name).join(', ')}`);
  process.exit(0);
}
/** The tables of a run, as markdown. */
function render({ meta, summary }) {
  return [
    describe(meta),
    `command: ${meta.command}; ${meta.settings.rounds} round(s), ${meta.settings.measureMs} ms per measurement, ${meta.durationSeconds} s in all`,
    'Medians of the rounds; ratios are medians of the per-round ratios (higher is better for msg/s, lower for latency).',
    ...meta.notes.map((note) => `note: ${note}`),
    '',
    ...summary.map(({ case: benchCase, rows }) => formatCase(benchCase, rows, meta.settings.rounds)),
    formatClients(summary),
  ].filter((part, i, parts) => part !== '' || i < parts.length - 1).join('\n');
}

printSavedRun(args, render);
requireLoopback(args.host);

const settings = {
  host: args.host,
  rounds: number(args.rounds, args.quick ? 1 : 5),
  measureMs: number(args['measure-ms'], args.quick ? 150 : 1500),
  warmupMs: number(args['warmup-ms'], args.quick ? 50 : 300),
  rttCount: args.quick ? 2_000 : 200_000,
  rttWarmupCount: args.quick ? 200 : 2_000,
  clientProcesses: number(args['client-processes'], 2),
  // TCP senders yield to the event loop every so many messages, as an application's loop does;
  // 0: only while waiting for 'drain'.
  yieldEvery: number(args['yield-every'], 8192),
};
if (args['cpu-prof']) {
  // Profiles cost the processes time: a run with them measures where time goes, not how fast.
  settings.cpuProf = path.resolve(args['cpu-prof']);
  mkdirSync(settings.cpuProf, { recursive: true });
}
for (const [name, value] of Object.entries(settings)) {
  if (typeof value === 'number' && !(Number.isInteger(value) && (value > 0 || (name === 'yieldEvery' && value === 0)))) {
    console.error(`--${name.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)} must be a ${name === 'yieldEvery' ? 'non-negative' : 'positive'} integer`);
    process.exit(2);
  }
}

// A quick run is a smoke test of every system, not a measurement: one case of each kind.
const QUICK_CASES = ['tput-64', 'rtt-1', 'udp-64'];
let selectedCases;
let selectedSystems;
try {
  selectedCases = args.cases && args.cases !== 'all' ? list(args.cases).map(caseNamed) : args.quick && !args.cases ? QUICK_CASES.map(caseNamed) : cases;
  selectedSystems = args.systems ? list(args.systems).map((name) => systemInfo(name).name) : systems.map((s) => s.name);
} catch (error) {
  console.error(error.message);
  process.exit(2);
}
const notes = [];
if (selectedSystems.some((name) => name.startsWith('hybridwire'))) {
  const reason = await loadHybridwire();
  if (reason) {
    notes.push(`hybridwire skipped: ${reason} (build it with \`npx tsc -p tsconfig.build.json\`)`);
    selectedSystems = selectedSystems.filter((name) => !name.startsWith('hybridwire'));
  }
}
const log = (line) => process.stderr.write(`${line}\n`);
for (const note of notes) log(`note: ${note}`);

const plan = selectedCases.map((benchCase) => ({
  benchCase,
  systems: selectedSystems.filter((name) => systemInfo(name).transport === benchCase.transport && (systemInfo(name).kinds ?? [benchCase.kind]).includes(benchCase.kind)),
}));

const started = Date.now();
const startedOn = machine();
const measurements = await runRounds({
  plan,
  rounds: settings.rounds,
  measure: (system, benchCase) => measures[benchCase.kind](system, benchCase, settings),
  describe: (benchCase, r) =>
    benchCase.kind === 'rtt'
      ? `p50 ${r.p50Us.toFixed(1)} µs  p99 ${r.p99Us.toFixed(1)} µs`
      : `${Math.round(r.value).toLocaleString('en-US')} msg/s${benchCase.kind === 'udp' ? `  loss ${r.lossPercent.toFixed(1)}%` : ''}`,
  log,
});

const summary = plan.map(({ benchCase, systems: names }) => ({ case: benchCase, rows: summarize(benchCase, names, measurements) }));
const meta = {
  ...startedOn,
  command: `node bench/e2e/run.mjs ${process.argv.slice(2).join(' ')}`.trim(),
  settings,
  durationSeconds: Math.round((Date.now() - started) / 1000),
  notes,
};

if (args.json) {
  process.stdout.write(`${JSON.stringify({ meta, summary, measurements }, null, 2)}\n`);
} else {
  process.stdout.write(`${render({ meta, summary })}\n`);
}
