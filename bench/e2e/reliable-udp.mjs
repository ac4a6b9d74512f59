// Reliable UDP end to end (issue 5, item 7): hybridwire's reliable UDP against plain `dgram`
// sending the same payloads unreliably, directly and through the chaos proxy of the tests at 0%
// and at 5% loss, for 64 B, 1 KiB and 16 KiB (fragmented) payloads; round trips of reliable
// 64 B messages; and the seal-* cases: the same systems on TLS sessions, whose every datagram is
// sealed (docs/PROTOCOL.md 4.4), against themselves without TLS, directly. Server, client and proxy each run in a process of their own on 127.0.0.1; every
// system is measured once per round with fresh processes, interleaved (the order rotated each
// round), and the tables give medians, spreads and the medians of per-round ratios.
//
//   npx tsc -p tsconfig.build.json                  # hybridwire is imported from dist/
//   node bench/e2e/reliable-udp.mjs                 # everything, 5 rounds
//   node bench/e2e/reliable-udp.mjs --quick         # smoke run: one short round of every case
//   node bench/e2e/reliable-udp.mjs --cases gp-64-direct,gp-64-5 --rounds 3
//   node bench/e2e/reliable-udp.mjs --json > rudp.json; node bench/e2e/reliable-udp.mjs --from-json rudp.json
//   node bench/e2e/reliable-udp.mjs --cases gp-1k-direct --rounds 1 --cpu-prof bench/.cache/prof
//
// Unless --live, hybridwire is loaded from a copy of dist/ and build/Release/hybridwire.node taken
// at the start (bench/.cache/hybridwire-snapshot/): others rebuild both in this working tree.
//
// Goodput is measured in a steady-state window: the sender sends as fast as it can (hybridwire
// waiting for 'drain' when send() returns false, dgram only bounding Node's send queue) for
// warm-up + window + 200 ms; the server counts what its handler receives during the window
// (payload bytes, MB = 10^6). For dgram, goodput is what arrives. For reliable UDP every message
// must then arrive exactly once (checked after the sender stops), or the measurement fails.
import { execFileSync } from 'node:child_process';
import { copyFileSync, cpSync, mkdirSync, rmSync, statSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { list, number, parseRunnerArgs, printSavedRun } from './command-line.mjs';
import { compileChaosProxy, startChaosProxy } from './chaos-proxy.mjs';
import { Child } from './harness.mjs';
import { describe, machine } from './machine.mjs';
import { count, fixed, median, micros, VARIATION_FLAG } from './report.mjs';
import { runRounds } from './rounds.mjs';
import { loadHybridwire } from './systems/hybridwire.mjs';

const here = (file) => fileURLToPath(new URL(file, import.meta.url));
const root = here('../../');
const SERVER = here('./server-process.mjs');
const CLIENT = here('./client-process.mjs');
const HOST = '127.0.0.1'; // the chaos proxy is IPv4 loopback only
const MAX_COUNT = 50_000_000;
const TAIL_MS = 200;
const SEED = 20261123;

// The paths a case can take. The 5% path also duplicates and reorders (a reordered datagram is
// held 5 ms, so later ones overtake it); no extra delay and no corruption, so that "5%" is loss.
// Both directions get the same treatment: acknowledgements are lost too.
export const PATHS = {
  direct: { label: 'direct', title: 'direct, no proxy (0% loss)' },
  0: { label: 'proxy 0%', title: 'through the chaos proxy, 0% loss', chaos: { seed: SEED, loss: 0, duplicate: 0, reorder: 0, corrupt: 0, delayMs: 0 } },
  5: {
    label: 'proxy 5%',
    title: 'through the chaos proxy, 5% loss, 2% duplicated, 5% reordered (held 5 ms), both directions',
    chaos: { seed: SEED, loss: 0.05, duplicate: 0.02, reorder: 0.05, reorderDelayMs: 5, corrupt: 0, delayMs: 0 },
  },
};
const SIZES = [
  [64, '64'],
  [1024, '1k'],
  [16384, '16k'],
];
const GOODPUT_SYSTEMS = ['dgram', 'hybridwire-udp-reliable', 'hybridwire-udp-reliable-1200', 'hybridwire-udp'];
// Sealed against plain (docs/PROTOCOL.md 4.4): each plain system beside the same on TLS sessions.
const SEALED_PAIRS = [
  ['hybridwire-udp', 'hybridwire-udp-sealed', 'fire and forget'],
  ['hybridwire-udp-reliable', 'hybridwire-udp-reliable-sealed', 'reliable'],
  ['hybridwire-udp-reliable-1200', 'hybridwire-udp-reliable-1200-sealed', 'reliable, udpMaxMtu 1200'],
];
const SEAL_SYSTEMS = SEALED_PAIRS.flatMap(([plain, sealed]) => [plain, sealed]);
const DEFAULT_SYSTEMS = [
  'dgram',
  'hybridwire-udp-reliable',
  'hybridwire-udp-reliable-1200',
  'hybridwire-udp',
  'hybridwire',
  'hybridwire-udp-reliable-pp',
  ...SEALED_PAIRS.map(([, sealed]) => sealed),
];
export const cases = [
  ...SIZES.flatMap(([size, label]) =>
    ['direct', '0', '5'].map((path) => ({ name: `gp-${label}-${path}`, kind: 'goodput', size, sizeLabel: label, path, systems: GOODPUT_SYSTEMS })),
  ),
  ...SIZES.map(([size, label]) => ({ name: `seal-${label}`, kind: 'goodput', size, sizeLabel: label, path: 'direct', systems: SEAL_SYSTEMS })),
  { name: 'rtt-64-direct', kind: 'rtt', size: 64, path: 'direct', systems: ['dgram', 'hybridwire', 'hybridwire-udp-reliable', 'hybridwire-udp-reliable-pp'] },
  { name: 'rtt-64-0', kind: 'rtt', size: 64, path: '0', systems: ['dgram', 'hybridwire-udp-reliable', 'hybridwire-udp-reliable-pp'] },
  { name: 'rtt-64-5', kind: 'rtt', size: 64, path: '5', systems: ['hybridwire-udp-reliable', 'hybridwire-udp-reliable-pp'], longer: true },
];
const RTT_SYSTEM_TITLES = {
  dgram: 'dgram echo (unreliable)',
  hybridwire: 'hybridwire request() over TCP',
  'hybridwire-udp-reliable': "hybridwire request(..., { transport: 'udp', reliable: true })",
  'hybridwire-udp-reliable-pp': 'hybridwire handlers ping-pong, reliable UDP both ways',
};

// ---- measuring ----

function profileArgs(settings, name) {
  return settings.cpuProf ? ['--cpu-prof', `--cpu-prof-dir=${settings.cpuProf}`, `--cpu-prof-name=${name}.cpuprofile`] : [];
}

/** Server, optional proxy and client processes for one measurement, torn down whatever happens. */
async function withSetup(system, benchCase, mode, settings, round, body) {
  const tag = `${benchCase.name}.${system}.r${round}`;
  const server = new Child(SERVER, { name: `${system} server`, execArgv: profileArgs(settings, `${tag}.server`) });
  let proxy;
  let client;
  try {
    const { address } = await server.call('start', { system, host: HOST, mode, stampEach: false }, 15_000);
    let target = address;
    const chaos = PATHS[benchCase.path].chaos;
    if (chaos) {
      proxy = await startChaosProxy({ targetPort: address.udpPort ?? address.port, chaos, execArgv: profileArgs(settings, `${tag}.proxy`) });
      target = address.udpPort !== undefined ? { ...address, udpPort: proxy.port } : { ...address, port: proxy.port };
    }
    client = new Child(CLIENT, { name: `${system} client`, execArgv: profileArgs(settings, `${tag}.client`) });
    await client.call('connect', { system, address: target, connections: 1, mode }, 30_000);
    return await body({ server, client, proxy });
  } finally {
    await client?.stop();
    await proxy?.stop();
    await server.stop();
  }
}

const call = (child, op, args, timeoutMs) => child.call(op, args, timeoutMs).catch(() => undefined);

/** What a hybridwire side's statistics say about the UDP path, flattened for the record. */
function udpFigures(clientStats, serverStats) {
  const sender = clientStats?.udpStats;
  const peer = serverStats?.peer;
  if (!sender) return {};
  return {
    datagramsSent: sender.datagramsSent,
    messagesSent: sender.messagesSent,
    retransmissions: sender.retransmissions,
    lostDetected: sender.lost,
    timeouts: sender.timeouts,
    senderRttMs: sender.rttMs,
    senderMinRttMs: sender.minRttMs,
    senderRtoMs: sender.rtoMs,
    congestionWindow: sender.congestionWindow,
    receiverDatagrams: peer?.udpStats?.datagramsReceived,
    receiverDatagramsSent: peer?.udpStats?.datagramsSent,
    receiverDrops: peer?.udpStats?.drops,
    serverUdp: serverStats?.server?.udp,
  };
}

async function measureGoodput(system, benchCase, settings, round) {
  return withSetup(system, benchCase, 'sink', settings, round, async ({ server, client, proxy }) => {
    const reliable = system.startsWith('hybridwire-udp-reliable');
    await server.call('reset');
    const streamMs = settings.warmupMs + settings.measureMs + TAIL_MS;
    const [sending, window] = await Promise.all([
      client.call('send', { size: benchCase.size, countPerConnection: MAX_COUNT, maxMs: streamMs }, streamMs + 30_000),
      server.call('window', { startAfterMs: settings.warmupMs, durationMs: settings.measureMs }, streamMs + 15_000),
    ]);
    const { sent } = sending;
    let total;
    if (reliable) {
      // Every reliable message arrives, exactly once: wait for the last ones, then look again.
      await server.call('expect', { target: sent, quietMs: 2000, timeoutMs: 20_000 }, 25_000);
      await new Promise((resolve) => setTimeout(resolve, 200));
      total = await server.call('count');
      if (total.count !== sent) throw new Error(`reliable UDP delivered ${total.count} of ${sent} messages`);
    } else {
      await new Promise((resolve) => setTimeout(resolve, 300));
      total = await server.call('count');
    }
    const [clientStats, serverStats, proxyCounts] = await Promise.all([call(client, 'stats'), call(server, 'stats'), proxy ? proxy.counts() : undefined]);
    const sealing = clientStats?.udpStats?.sealing;
    if (system.endsWith('-sealed') !== (sealing !== undefined)) throw new Error(`the session was ${sealing ? '' : 'not '}sealed`);
    const megabytesPerSecond = window.elapsedMs > 0 ? window.bytes / window.elapsedMs / 1000 : 0;
    return {
      value: megabytesPerSecond,
      megabytesPerSecond,
      messagesPerSecond: window.elapsedMs > 0 ? (window.count * 1000) / window.elapsedMs : 0,
      windowMessages: window.count,
      windowMs: window.elapsedMs,
      sent,
      sentPerSecond: (sent * 1000) / sending.elapsedMs,
      received: total.count,
      deliveredPercent: sent > 0 ? (100 * total.count) / sent : 0,
      ...udpFigures(clientStats, serverStats),
      ...(sealing ? { sealing, receiverSealing: serverStats?.peer?.udpStats?.sealing } : {}),
      // CPU time per MB of payload, each side: steadier than goodput on a loaded machine, since
      // time spent waiting for a core is not counted.
      receiverCpuMsPerMB: window.bytes > 0 ? window.cpuMs / (window.bytes / 1e6) : NaN,
      senderCpuMsPerMB: sent > 0 ? sending.cpuMs / ((sent * benchCase.size) / 1e6) : NaN,
      proxy: proxyCounts,
    };
  });
}

async function measureRtt(system, benchCase, settings, round) {
  return withSetup(system, benchCase, 'echo', settings, round, async ({ server, client, proxy }) => {
    const maxMs = benchCase.longer ? settings.measureMs * 2 : settings.measureMs;
    const result = await client.call(
      'rtt',
      { size: benchCase.size, inflight: 1, count: settings.rttCount, maxMs, warmupCount: settings.rttWarmupCount, warmupMs: settings.warmupMs },
      maxMs + settings.warmupMs + 40_000,
    );
    const [clientStats, serverStats, proxyCounts] = await Promise.all([call(client, 'stats'), call(server, 'stats'), proxy ? proxy.counts() : undefined]);
    // Which way did the replies go? The server's session counts its messages per transport.
    const peer = serverStats?.peer;
    let replyVia;
    if (peer) replyVia = peer.udp.messagesOut >= peer.tcp.messagesOut ? 'udp' : 'tcp';
    return {
      value: result.p50Us,
      ...result,
      replyVia,
      serverMessagesOut: peer ? { tcp: peer.tcp.messagesOut, udp: peer.udp.messagesOut } : undefined,
      ...udpFigures(clientStats, serverStats),
      proxy: proxyCounts,
    };
  });
}

const measures = { goodput: measureGoodput, rtt: measureRtt };

// ---- reporting ----

const ratio = (value) => (Number.isFinite(value) ? `${value.toFixed(2)}×` : '–');

function spread(values, format) {
  if (values.length === 0) return '–';
  const middle = median(values);
  const variation = (Math.max(...values) - Math.min(...values)) / middle;
  const percent = `${Math.round(variation * 100)}%`;
  return `${format(Math.min(...values))} – ${format(Math.max(...values))} (${variation > VARIATION_FLAG ? `**${percent} > 20%**` : percent})`;
}

/** Median over rounds of a / b, where a and b are the values of two (case, system) pairs in the same round. */
function perRoundRatio(measurements, [caseA, systemA], [caseB, systemB], key = 'value') {
  const ratios = [];
  for (const a of measurements.filter((m) => m.ok && m.case === caseA && m.system === systemA)) {
    const b = measurements.find((m) => m.ok && m.case === caseB && m.system === systemB && m.round === a.round);
    if (b && b.result[key] > 0) ratios.push(a.result[key] / b.result[key]);
  }
  return { value: ratios.length ? median(ratios) : NaN, values: ratios };
}

function goodRuns(measurements, caseName, system) {
  return measurements.filter((m) => m.ok && m.case === caseName && m.system === system);
}

function failures(measurements, caseName, system) {
  return [...new Set(measurements.filter((m) => !m.ok && m.case === caseName && m.system === system).map((m) => m.error))];
}

function renderGoodput(measurements, selected, rounds) {
  const lines = [
    '### Goodput: payload bytes delivered to the receiving handler per second (steady-state window)',
    '',
    '| payload | path | system | MB/s | msg/s | spread of MB/s (min – max) | sent msg/s | arrived | frames resent per 100 msgs · retransmission-timer expiries | ÷ dgram |',
    '|---|---|---|---|---|---|---|---|---|---|',
  ];
  const notes = [];
  for (const benchCase of selected.filter((c) => c.kind === 'goodput')) {
    for (const system of benchCase.systems.filter((s) => selected.systemsOf(benchCase).includes(s))) {
      const runs = goodRuns(measurements, benchCase.name, system);
      const failed = failures(measurements, benchCase.name, system);
      if (failed.length) notes.push(`${benchCase.name} ${system}: ${measurements.filter((m) => !m.ok && m.case === benchCase.name && m.system === system).length} round(s) failed: ${failed.join('; ')}`);
      const head = [`${benchCase.size} B`, PATHS[benchCase.path].label, system + (runs.length < rounds ? ` (${runs.length}/${rounds} rounds)` : '')];
      if (runs.length === 0) {
        lines.push(`| ${[...head, 'n/a', '', '', '', '', '', ''].join(' | ')} |`);
        continue;
      }
      const med = (key) => median(runs.map((m) => m.result[key]).filter(Number.isFinite));
      const retx = runs.filter((m) => m.result.messagesSent > 0).map((m) => (100 * m.result.retransmissions) / m.result.messagesSent);
      const expiries = runs.filter((m) => m.result.timeouts !== undefined).map((m) => m.result.timeouts);
      const versus = system === 'dgram' ? '–' : ratio(perRoundRatio(measurements, [benchCase.name, system], [benchCase.name, 'dgram']).value);
      lines.push(
        `| ${[
          ...head,
          fixed(1)(med('megabytesPerSecond')),
          count(med('messagesPerSecond')),
          spread(runs.map((m) => m.result.megabytesPerSecond), fixed(1)),
          count(med('sentPerSecond')),
          `${fixed(1)(med('deliveredPercent'))}%`,
          retx.length ? `${fixed(1)(median(retx))} · ${fixed(0)(median(expiries))}` : '–',
          versus,
        ].join(' | ')} |`,
      );
    }
  }
  if (notes.length) lines.push('', ...notes.map((note) => `- ${note.split('\n')[0]}`));
  lines.push('');
  return lines.join('\n');
}

function renderTargets(measurements, selected, reliable, title) {
  if (!measurements.some((m) => m.system === reliable)) return '';
  const lines = [
    `### Targets, ${title} (medians of per-round ratios)`,
    '',
    '| payload | reliable ÷ dgram, direct (target ≥ 0.8) | reliable ÷ dgram, proxy 0% | reliable ÷ dgram, proxy 5% | reliable 5% ÷ own proxy 0% (target ≥ 0.5) | reliable 5% ÷ own direct |',
    '|---|---|---|---|---|---|',
  ];
  const has = (name) => selected.some((c) => c.name === name);
  const mark = (r, target) => (Number.isFinite(r.value) ? `${ratio(r.value)} ${r.value >= target ? 'met' : '**missed**'} (rounds ${r.values.map((v) => v.toFixed(2)).join(', ')})` : '–');
  const plain = (r) => (Number.isFinite(r.value) ? `${ratio(r.value)} (rounds ${r.values.map((v) => v.toFixed(2)).join(', ')})` : '–');
  for (const [size, label] of SIZES) {
    const gp = (path) => `gp-${label}-${path}`;
    if (!['direct', '0', '5'].some((path) => has(gp(path)))) continue;
    lines.push(
      `| ${[
        `${size} B`,
        mark(perRoundRatio(measurements, [gp('direct'), reliable], [gp('direct'), 'dgram']), 0.8),
        plain(perRoundRatio(measurements, [gp('0'), reliable], [gp('0'), 'dgram'])),
        plain(perRoundRatio(measurements, [gp('5'), reliable], [gp('5'), 'dgram'])),
        mark(perRoundRatio(measurements, [gp('5'), reliable], [gp('0'), reliable]), 0.5),
        plain(perRoundRatio(measurements, [gp('5'), reliable], [gp('direct'), reliable])),
      ].join(' | ')} |`,
    );
  }
  lines.push('');
  return lines.join('\n');
}

/** Sealed against plain, pair by pair, per size: medians of per-round ratios (target >= 0.5). */
function renderSealed(measurements, selected) {
  const sealCases = selected.filter((c) => c.name.startsWith('seal-'));
  if (sealCases.length === 0) return '';
  const lines = [
    '### Sealed ÷ plain: goodput of TLS sessions (every datagram sealed) against the same without TLS, direct (target ≥ 0.5) (medians of per-round ratios)',
    '',
    `| payload | ${SEALED_PAIRS.map(([plain, , title]) => `${title}: ${plain}`).join(' | ')} |`,
    `|---|${SEALED_PAIRS.map(() => '---').join('|')}|`,
  ];
  for (const benchCase of sealCases) {
    const cells = SEALED_PAIRS.map(([plain, sealed]) => {
      const r = perRoundRatio(measurements, [benchCase.name, sealed], [benchCase.name, plain]);
      return Number.isFinite(r.value) ? `${ratio(r.value)} ${r.value >= 0.5 ? 'met' : '**missed**'} (rounds ${r.values.map((v) => v.toFixed(2)).join(', ')})` : '–';
    });
    lines.push(`| ${benchCase.size} B | ${cells.join(' | ')} |`);
  }
  lines.push(
    '',
    '### Sealed ÷ plain: CPU time per MB of payload, sender · receiver (medians of per-round ratios; above 1, sealing costs more)',
    '',
    `| payload | ${SEALED_PAIRS.map(([plain, , title]) => `${title}: ${plain}`).join(' | ')} |`,
    `|---|${SEALED_PAIRS.map(() => '---').join('|')}|`,
  );
  for (const benchCase of sealCases) {
    const cells = SEALED_PAIRS.map(([plain, sealed]) => {
      const sides = ['senderCpuMsPerMB', 'receiverCpuMsPerMB'].map((key) => perRoundRatio(measurements, [benchCase.name, sealed], [benchCase.name, plain], key));
      if (!sides.every((r) => Number.isFinite(r.value))) return '–';
      const cpu = (key) => median(goodRuns(measurements, benchCase.name, sealed).map((m) => m.result[key]).filter(Number.isFinite));
      return `${sides.map((r) => ratio(r.value)).join(' · ')} (sealed: ${fixed(1)(cpu('senderCpuMsPerMB'))} · ${fixed(1)(cpu('receiverCpuMsPerMB'))} ms/MB)`;
    });
    lines.push(`| ${benchCase.size} B | ${cells.join(' | ')} |`);
  }
  lines.push('');
  return lines.join('\n');
}

/** What the proxy saw and did, to show that the path was what it claims (both directions, 5% lost). */
function renderProxy(measurements, selected) {
  const lines = [
    '### What the chaos proxy did (medians of the rounds)',
    '',
    '| case | system | datagrams in | client → server | server → client | dropped | duplicated | reordered | queue overflow |',
    '|---|---|---|---|---|---|---|---|---|',
  ];
  let any = false;
  for (const benchCase of selected.filter((c) => PATHS[c.path].chaos)) {
    for (const system of selected.systemsOf(benchCase)) {
      const runs = goodRuns(measurements, benchCase.name, system).filter((m) => m.result.proxy);
      if (runs.length === 0) continue;
      any = true;
      const med = (key) => median(runs.map((m) => m.result.proxy[key]));
      const percent = (key) => `${count(med(key))} (${fixed(1)(median(runs.map((m) => (100 * m.result.proxy[key]) / Math.max(1, m.result.proxy.received))))}%)`;
      lines.push(`| ${[benchCase.name, system, count(med('received')), count(med('forwardedForward')), count(med('forwardedBackward')), percent('dropped'), percent('duplicated'), percent('reordered'), count(med('overflowed'))].join(' | ')} |`);
    }
  }
  lines.push('');
  return any ? lines.join('\n') : '';
}

function renderRtt(measurements, selected, rounds) {
  const lines = [
    '### Round trips, 64 B, one in flight',
    '',
    '| path | system | p50 µs | p99 µs | p99.9 µs | max µs | round trips/s | samples | spread of p50 (min – max) | reply went over |',
    '|---|---|---|---|---|---|---|---|---|---|',
  ];
  const notes = [];
  for (const benchCase of selected.filter((c) => c.kind === 'rtt')) {
    for (const system of benchCase.systems.filter((s) => selected.systemsOf(benchCase).includes(s))) {
      const runs = goodRuns(measurements, benchCase.name, system);
      const failed = failures(measurements, benchCase.name, system);
      if (failed.length) notes.push(`${benchCase.name} ${system}: ${measurements.filter((m) => !m.ok && m.case === benchCase.name && m.system === system).length} round(s) failed: ${failed.join('; ')}`);
      const head = [PATHS[benchCase.path].label, (RTT_SYSTEM_TITLES[system] ?? system) + (runs.length < rounds ? ` (${runs.length}/${rounds} rounds)` : '')];
      if (runs.length === 0) {
        lines.push(`| ${[...head, 'n/a', '', '', '', '', '', '', ''].join(' | ')} |`);
        continue;
      }
      const med = (key) => median(runs.map((m) => m.result[key]));
      const via = [...new Set(runs.map((m) => m.result.replyVia ?? (system === 'dgram' ? 'udp' : '?')))].join('/');
      lines.push(
        `| ${[...head, micros(med('p50Us')), micros(med('p99Us')), micros(med('p999Us')), micros(med('maxUs')), count(med('perSecond')), count(med('count')), spread(runs.map((m) => m.result.p50Us), micros), via].join(' | ')} |`,
      );
    }
  }
  if (notes.length) lines.push('', ...notes.map((note) => `- ${note.split('\n')[0]}`));
  lines.push('');
  return lines.join('\n');
}

function render({ meta, measurements }) {
  const selected = cases.filter((c) => meta.cases.includes(c.name));
  selected.systemsOf = (benchCase) => benchCase.systems.filter((s) => meta.systems.includes(s));
  const parts = [
    `${describe(meta)}${meta.addonBuilt ? `, native addon built ${meta.addonBuilt}` : ''}`,
    `command: ${meta.command}; ${meta.settings.rounds} round(s), window ${meta.settings.measureMs} ms after ${meta.settings.warmupMs} ms of warm-up; ${meta.durationSeconds} s in all`,
    `chaos proxy: ${meta.proxy.source} (sha256 ${meta.proxy.sha256.slice(0, 12)}…), compiled with TypeScript ${meta.proxy.typescript}, in its own process; 5% path: ${JSON.stringify(PATHS[5].chaos)}`,
    ...meta.notes.map((note) => `note: ${note}`),
    '',
  ];
  if (selected.some((c) => c.kind === 'goodput')) {
    parts.push(
      renderGoodput(measurements, selected, meta.settings.rounds),
      renderTargets(measurements, selected, 'hybridwire-udp-reliable', 'hybridwire-udp-reliable (default settings: mtu 1200, path MTU discovery up to 65507)'),
      renderTargets(measurements, selected, 'hybridwire-udp-reliable-1200', 'hybridwire-udp-reliable-1200 (udpMaxMtu 1200: datagrams stay at 1200 bytes, as on an internet path)'),
      renderSealed(measurements, selected),
    );
  }
  if (selected.some((c) => c.kind === 'rtt')) parts.push(renderRtt(measurements, selected, meta.settings.rounds));
  parts.push(renderProxy(measurements, selected));
  return parts.join('\n');
}

// ---- running ----

const args = parseRunnerArgs({
    'measure-ms': { type: 'string' },
    'warmup-ms': { type: 'string' },
    'cpu-prof': { type: 'string' },
    live: { type: 'boolean', default: false },
});

if (args.help) {
  console.log(`usage: node bench/e2e/reliable-udp.mjs [--quick] [--json] [--cases a,b] [--systems x,y] [--rounds N]
                                       [--measure-ms MS] [--warmup-ms MS] [--cpu-prof DIR] [--live]
       node bench/e2e/reliable-udp.mjs --from-json FILE
cases:   ${cases.map((c) => c.name).join(', ')}
systems: ${[...new Set(cases.flatMap((c) => c.systems))].join(', ')} (default ${DEFAULT_SYSTEMS.join(', ')})`);
  process.exit(0);
}
printSavedRun(args, render);

const settings = {
  rounds: number(args.rounds, args.quick ? 1 : 5),
  measureMs: number(args['measure-ms'], args.quick ? 300 : 1500),
  warmupMs: number(args['warmup-ms'], args.quick ? 200 : 500),
  rttCount: args.quick ? 2_000 : 200_000,
  rttWarmupCount: args.quick ? 200 : 2_000,
};
for (const [name, value] of Object.entries(settings)) {
  if (!(Number.isInteger(value) && value > 0)) {
    console.error(`--${name.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)} must be a positive integer`);
    process.exit(2);
  }
}
if (args['cpu-prof']) {
  settings.cpuProf = fileURLToPath(new URL(args['cpu-prof'], `file://${process.cwd()}/`));
  mkdirSync(settings.cpuProf, { recursive: true });
}

const allSystems = [...new Set(cases.flatMap((c) => c.systems))];
let selectedCases;
let selectedSystems;
try {
  selectedCases = args.cases && args.cases !== 'all'
    ? list(args.cases).map((name) => cases.find((c) => c.name === name) ?? (() => { throw new Error(`unknown case '${name}' (known: ${cases.map((c) => c.name).join(', ')})`); })())
    : cases;
  selectedSystems = args.systems ? list(args.systems) : DEFAULT_SYSTEMS;
  for (const name of selectedSystems) if (!allSystems.includes(name)) throw new Error(`unknown system '${name}' (known: ${allSystems.join(', ')})`);
} catch (error) {
  console.error(error.message);
  process.exit(2);
}

const log = (line) => process.stderr.write(`${line}\n`);
const notes = [];
// Others rebuild dist/ and the addon in this working tree at any time: unless --live, every
// process of the run loads hybridwire from a copy of both taken now, so that no round mixes builds.
let snapshot;
if (!args.live) {
  const base = `${root}bench/.cache/hybridwire-snapshot/`;
  try {
    rmSync(base, { recursive: true, force: true });
    mkdirSync(`${base}build/Release`, { recursive: true });
    const distAt = statSync(`${root}dist/index.js`).mtime.toISOString();
    const addonAt = statSync(`${root}build/Release/hybridwire.node`).mtime.toISOString();
    cpSync(`${root}dist`, `${base}dist`, { recursive: true });
    copyFileSync(`${root}build/Release/hybridwire.node`, `${base}build/Release/hybridwire.node`);
    process.env.HYBRIDWIRE_DIST = `${base}dist/index.js`;
    snapshot = { distBuilt: distAt, addonBuilt: addonAt };
    log(`hybridwire loaded from a snapshot in bench/.cache/hybridwire-snapshot/ (dist/ built ${distAt}, addon built ${addonAt})`);
  } catch (error) {
    log(`no snapshot of dist/ and the addon (${error.message}): using them in place`);
  }
}
const reason = await loadHybridwire();
if (reason) {
  notes.push(`hybridwire skipped: ${reason} (build it with \`npx tsc -p tsconfig.build.json\`)`);
  selectedSystems = selectedSystems.filter((name) => !name.startsWith('hybridwire'));
}
const proxy = compileChaosProxy();
log(`chaos proxy compiled from ${proxy.source} (sha256 ${proxy.sha256.slice(0, 12)}…) into bench/.cache/chaos/`);

function distBuilt() {
  try {
    return statSync(`${root}dist/index.js`).mtime.toISOString();
  } catch {
    return undefined;
  }
}
function addonBuilt() {
  try {
    return statSync(`${root}build/Release/hybridwire.node`).mtime.toISOString();
  } catch {
    return undefined;
  }
}
const addonAtStart = addonBuilt();
function uncommitted() {
  try {
    return execFileSync('git', ['-C', root, 'status', '--porcelain', '--', 'ts', 'native'], { stdio: ['ignore', 'pipe', 'ignore'] }).toString().split('\n').filter((line) => line.trim() !== '');
  } catch {
    return [];
  }
}
const dirty = uncommitted();
if (dirty.length) notes.push(`uncommitted changes in the working tree at the start (dist/ may include them): ${dirty.map((line) => line.slice(3)).join(', ')}`);

const plan = selectedCases.map((benchCase) => ({ benchCase, systems: benchCase.systems.filter((s) => selectedSystems.includes(s)) })).filter((p) => p.systems.length);

const started = Date.now();
const startedOn = machine();
const measurements = await runRounds({
  plan,
  rounds: settings.rounds,
  measure: (system, benchCase, round) => measures[benchCase.kind](system, benchCase, settings, round),
  describe: (benchCase, r) =>
    benchCase.kind === 'rtt'
      ? `p50 ${r.p50Us.toFixed(1)} µs  p99 ${r.p99Us.toFixed(1)} µs  n ${r.count}${r.replyVia ? `  reply via ${r.replyVia}` : ''}`
      : `${r.megabytesPerSecond.toFixed(1)} MB/s  ${Math.round(r.messagesPerSecond).toLocaleString('en-US')} msg/s  arrived ${r.deliveredPercent.toFixed(1)}%${r.retransmissions !== undefined ? `  retx ${r.retransmissions}/${r.datagramsSent}` : ''}`,
  log,
});

if (snapshot) {
  notes.push(`hybridwire ran from a snapshot of dist/ (built ${snapshot.distBuilt}) and of the addon (built ${snapshot.addonBuilt}) taken at the start`);
} else {
  const builtAtEnd = distBuilt();
  if (builtAtEnd !== startedOn.distBuilt) notes.push(`dist/ was rebuilt during the run (${startedOn.distBuilt} -> ${builtAtEnd}): rounds may have measured different builds`);
  const addonAtEnd = addonBuilt();
  if (addonAtEnd !== addonAtStart) notes.push(`build/Release/hybridwire.node was rebuilt during the run (${addonAtStart} -> ${addonAtEnd}): rounds may have measured different builds`);
}
const meta = {
  ...startedOn,
  command: `node bench/e2e/reliable-udp.mjs ${process.argv.slice(2).join(' ')}`.trim(),
  settings,
  cases: plan.map((p) => p.benchCase.name),
  systems: selectedSystems,
  proxy,
  addonBuilt: addonAtStart,
  durationSeconds: Math.round((Date.now() - started) / 1000),
  notes,
};
if (args.json) process.stdout.write(`${JSON.stringify({ meta, measurements }, null, 2)}\n`);
else process.stdout.write(`${render({ meta, measurements })}\n`);
