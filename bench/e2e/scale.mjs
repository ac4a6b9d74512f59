// Memory and scale: N concurrent idle connections (default 10,000) to one server process, for a raw
// `net` server (a length-prefix parser per connection), `ws` and hybridwire. Reports the server's
// RSS, V8 heap and external memory per connection (read after forced GCs, before and after) and the
// time to accept them all. Clients are spread over several processes and connect in bounded
// batches; 127.0.0.1 only. Run it through scale.sh, which raises the open-file limit first.
//
//   bash bench/e2e/scale.sh [--connections 10000] [--systems net,ws,hybridwire] [--rounds 1] [--json]
//   node bench/e2e/scale.mjs --from-json FILE     (prints the table of a saved --json run)
//   bash bench/e2e/scale.sh --connections 2000 --systems hybridwire --heap-snapshot bench/.cache/heap
//     (writes the server's heap before and after the connections; heap-summary.mjs compares them)
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { Child } from './harness.mjs';
import { describe, machine } from './machine.mjs';
import { median } from './report.mjs';
import { loadHybridwire } from './systems/hybridwire.mjs';

const here = (file) => fileURLToPath(new URL(file, import.meta.url));
const SYSTEMS = { net: 'net-coalesced', ws: 'ws', hybridwire: 'hybridwire' };
const FD_MARGIN = 200;

const { values: args } = parseArgs({
  options: {
    connections: { type: 'string', default: '10000' },
    systems: { type: 'string', default: Object.keys(SYSTEMS).join(',') },
    rounds: { type: 'string', default: '1' },
    'client-processes': { type: 'string', default: '4' },
    concurrency: { type: 'string', default: '64' },
    host: { type: 'string', default: '127.0.0.1' },
    json: { type: 'boolean', default: false },
    'from-json': { type: 'string' },
    'heap-snapshot': { type: 'string' },
  },
});

const kib = (bytes) => (Number.isFinite(bytes) ? (bytes / 1024).toFixed(1) : '–');

/** The table of a run, as markdown. */
function render({ meta, summary }) {
  const netRow = summary.find((row) => row.system === 'net');
  const lines = [
    describe(meta),
    `command: ${meta.command}; ${meta.connections} idle connections from ${meta.clientProcesses} client processes, ${meta.concurrency} connects in flight per process, ${meta.rounds} round(s); medians`,
    ...meta.notes.map((note) => `note: ${note}`),
    '',
    '| server | connections | time to accept all (min – max) | accepts/s | RSS / connection | V8 heap / connection | external / connection | RSS ÷ net |',
    '|---|---|---|---|---|---|---|---|',
  ];
  for (const row of summary) {
    if (row.rounds === 0) {
      lines.push(`| ${row.system} | n/a | ${row.errors[0] ?? ''} | | | | | |`);
      continue;
    }
    const range = row.rounds > 1 ? ` (${(row.acceptMsRange[0] / 1000).toFixed(2)} – ${(row.acceptMsRange[1] / 1000).toFixed(2)})` : '';
    const ratio = netRow?.rounds && row.system !== 'net' ? `${(row.rssPerConnection / netRow.rssPerConnection).toFixed(2)}×` : '–';
    lines.push(
      `| ${row.system} | ${meta.connections} | ${(row.acceptMs / 1000).toFixed(2)} s${range} | ${Math.round(row.acceptsPerSecond)} | ${kib(row.rssPerConnection)} KiB | ${kib(row.heapPerConnection)} KiB | ${kib(row.externalPerConnection)} KiB | ${ratio} |`,
    );
  }
  return lines.join('\n');
}

if (args['from-json']) {
  process.stdout.write(`${render(JSON.parse(readFileSync(args['from-json'], 'utf8')))}\n`);
  process.exit(0);
}
const connections = Number(args.connections);
const rounds = Number(args.rounds);
const concurrency = Number(args.concurrency);
for (const [name, value] of Object.entries({ connections, rounds, concurrency, 'client-processes': Number(args['client-processes']) })) {
  if (!Number.isInteger(value) || value < 1) {
    console.error(`--${name} must be a positive integer`);
    process.exit(2);
  }
}
if (args.host !== '127.0.0.1' && args.host !== '::1') {
  console.error('--host must be 127.0.0.1 or ::1');
  process.exit(2);
}
const log = (line) => process.stderr.write(`${line}\n`);
const heapDir = args['heap-snapshot'] ? path.resolve(args['heap-snapshot']) : undefined;
if (heapDir) mkdirSync(heapDir, { recursive: true });

// Our children inherit our open-file limit; Node cannot read it, a shell can.
const fdLimit = Number(execFileSync('bash', ['-c', 'ulimit -n']).toString().trim());
if (fdLimit < connections + FD_MARGIN) {
  console.error(`the open-file limit is ${fdLimit}, too low for ${connections} connections in one server process: run bench/e2e/scale.sh (which raises it as far as the hard limit allows) or use --connections`);
  process.exit(2);
}
// A hybridwire client holds a UDP socket beside its TCP one: two descriptors per connection.
const clientProcesses = Math.max(Number(args['client-processes']), Math.ceil((2 * connections) / (fdLimit - FD_MARGIN)));

let names = args.systems.split(',').map((name) => name.trim()).filter(Boolean);
for (const name of names) {
  if (!SYSTEMS[name]) {
    console.error(`unknown system '${name}' (known: ${Object.keys(SYSTEMS).join(', ')})`);
    process.exit(2);
  }
}
const notes = [];
if (names.includes('hybridwire')) {
  const reason = await loadHybridwire();
  if (reason) {
    notes.push(`hybridwire skipped: ${reason}`);
    names = names.filter((name) => name !== 'hybridwire');
  }
}
for (const note of notes) log(`note: ${note}`);

function shares(total, parts) {
  return Array.from({ length: parts }, (_, i) => Math.floor(total / parts) + (i < total % parts ? 1 : 0)).filter((n) => n > 0);
}

async function measure(name, round) {
  const system = SYSTEMS[name];
  const server = new Child(here('./scale-server.mjs'), { execArgv: ['--expose-gc'], name: `${name} scale server` });
  const clients = [];
  try {
    let { address, before } = await server.call('start', { system, host: args.host, expected: connections }, 30_000);
    const snapshot = (stage) => path.join(heapDir, `${name}.r${round}.${stage}.heapsnapshot`);
    // The snapshot writer's own memory stays in RSS for a while: read "before" again after it.
    if (heapDir) before = await server.call('snapshot', { file: snapshot('before') }, 120_000);
    const allAccepted = server.waitEvent('accepted', 180_000).then((event) => ({ ...event, at: performance.now() }));
    allAccepted.catch(() => {});
    const began = performance.now();
    const connecting = [];
    for (const count of shares(connections, clientProcesses)) {
      const child = new Child(here('./scale-client.mjs'), { name: `${name} scale client` });
      clients.push(child);
      connecting.push(child.call('connect', { system, address, count, concurrency }, 180_000));
    }
    const results = await Promise.all(connecting);
    const failures = results.reduce((sum, result) => sum + result.failures, 0);
    if (failures > 0) throw new Error(`${failures} of ${connections} connections failed: ${results.find((r) => r.lastError)?.lastError}`);
    const accepted = await allAccepted;
    const acceptMs = accepted.at - began;
    await new Promise((resolve) => setTimeout(resolve, 1000)); // let handshakes, UDP probes and heartbeats settle
    const { after, accepted: held } = await server.call('measure', {}, 30_000);
    if (heapDir) {
      await server.call('snapshot', { file: snapshot('after') }, 300_000);
      log(`heap snapshots: ${snapshot('before')} and ${snapshot('after')}; node bench/e2e/heap-summary.mjs ${snapshot('before')} ${snapshot('after')} --per ${connections}`);
    }
    const per = (key) => (after[key] - before[key]) / connections;
    return {
      ok: true,
      connections: held,
      acceptMs,
      serverFirstToLastMs: accepted.firstToLastMs,
      acceptsPerSecond: (connections * 1000) / acceptMs,
      rssPerConnection: per('rss'),
      heapPerConnection: per('heapUsed'),
      externalPerConnection: per('external'),
      before,
      after,
    };
  } finally {
    // The server closes first, so that the clients' closes are quick and no client waits on it.
    await server.stop(30_000);
    await Promise.all(clients.map((child) => child.stop(30_000)));
  }
}

const measurements = [];
const startedOn = machine();
for (let round = 1; round <= rounds; round++) {
  const shift = (round - 1) % names.length;
  for (const name of [...names.slice(shift), ...names.slice(0, shift)]) {
    const began = Date.now();
    let entry;
    try {
      entry = { round, system: name, ...(await measure(name, round)) };
      log(
        `round ${round} ${name}: ${entry.connections} connections accepted in ${entry.acceptMs.toFixed(0)} ms; ` +
          `per connection RSS ${(entry.rssPerConnection / 1024).toFixed(1)} KiB, heap ${(entry.heapPerConnection / 1024).toFixed(1)} KiB, ` +
          `external ${(entry.externalPerConnection / 1024).toFixed(1)} KiB (${((Date.now() - began) / 1000).toFixed(1)} s)`,
      );
    } catch (error) {
      entry = { round, system: name, ok: false, error: String(error?.message ?? error).split('\n')[0] };
      log(`round ${round} ${name}: FAILED: ${entry.error}`);
    }
    measurements.push(entry);
  }
}

const summary = names.map((name) => {
  const good = measurements.filter((m) => m.system === name && m.ok);
  const of = (key) => median(good.map((m) => m[key]));
  return {
    system: name,
    rounds: good.length,
    errors: measurements.filter((m) => m.system === name && !m.ok).map((m) => m.error),
    acceptMs: of('acceptMs'),
    acceptsPerSecond: of('acceptsPerSecond'),
    rssPerConnection: of('rssPerConnection'),
    heapPerConnection: of('heapPerConnection'),
    externalPerConnection: of('externalPerConnection'),
    acceptMsRange: good.length ? [Math.min(...good.map((m) => m.acceptMs)), Math.max(...good.map((m) => m.acceptMs))] : undefined,
  };
});
const meta = {
  ...startedOn,
  command: `bash bench/e2e/scale.sh ${process.argv.slice(2).join(' ')}`.trim(),
  connections,
  rounds,
  clientProcesses,
  concurrency,
  fdLimit,
  notes,
};

if (args.json) {
  process.stdout.write(`${JSON.stringify({ meta, summary, measurements }, null, 2)}\n`);
} else {
  process.stdout.write(`${render({ meta, summary })}\n`);
}
