// Turns the measurements of all rounds into medians, spreads and per-round ratios, and prints them
// as markdown tables (ready for bench/RESULTS.md).
export const VARIATION_FLAG = 0.2;

/** Nearest-rank percentile of an ascending-sorted array. */
export function percentile(sorted, p) {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1))];
}

export function median(values) {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  return sorted.length % 2 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
}

const BASELINES = {
  tcp: ['net-coalesced', 'ws', 'zeromq'],
  udp: ['dgram', 'dgram-coalesced'],
};

/**
 * Systems that are baselines only in the runs that measure them: TLS against plaintext hybridwire
 * and against `ws` over TLS.
 */
const BASELINES_WHEN_MEASURED = { tcp: ['hybridwire', 'wss'], udp: [] };

/**
 * The systems a case's ratios are taken against; throughput also against the parse-only floor,
 * and with `measured` (the systems of the run) those of BASELINES_WHEN_MEASURED among them.
 */
function baselinesOf(benchCase, measured = []) {
  const always = benchCase.kind === 'throughput' ? ['net-coalesced', 'net-parse-only', 'ws', 'zeromq'] : BASELINES[benchCase.transport];
  return [...always, ...(BASELINES_WHEN_MEASURED[benchCase.transport] ?? []).filter((name) => measured.includes(name))];
}

/** Per case and system: medians of every figure, the spread of the headline one, ratios per round. */
export function summarize(benchCase, systemNames, measurements) {
  const rows = [];
  const of = (system) => measurements.filter((m) => m.case === benchCase.name && m.system === system);
  for (const system of systemNames) {
    const runs = of(system);
    const good = runs.filter((m) => m.ok);
    const errors = [...new Set(runs.filter((m) => !m.ok).map((m) => m.error))];
    const row = { system, rounds: good.length, failed: runs.length - good.length, errors };
    if (good.length > 0) {
      const values = good.map((m) => m.result.value);
      row.median = median(values);
      row.min = Math.min(...values);
      row.max = Math.max(...values);
      row.variation = (row.max - row.min) / row.median;
      row.flagged = row.variation > VARIATION_FLAG;
      row.medians = {};
      for (const key of Object.keys(good[0].result)) {
        if (typeof good[0].result[key] === 'number') row.medians[key] = median(good.map((m) => m.result[key]));
      }
      row.ratios = {};
      for (const baseline of baselinesOf(benchCase, systemNames)) {
        const perRound = [];
        for (const run of good) {
          const base = of(baseline).find((m) => m.ok && m.round === run.round);
          if (base && base.result.value > 0) perRound.push(run.result.value / base.result.value);
        }
        if (perRound.length > 0) row.ratios[baseline] = median(perRound);
      }
      // The cost of metrics in the receiver's CPU per message, round by round: less exposed than
      // msg/s to other work on a shared machine.
      if (system === 'hybridwire-metrics' && benchCase.kind === 'throughput') {
        const perRound = good.flatMap((run) => {
          const base = of('hybridwire').find((m) => m.ok && m.round === run.round);
          return base?.result.serverCpuNsPerMessage > 0 ? [run.result.serverCpuNsPerMessage / base.result.serverCpuNsPerMessage] : [];
        });
        if (perRound.length > 0) row.cpuRatio = { median: median(perRound), rounds: perRound.length };
      }
    }
    rows.push(row);
  }
  return rows;
}

export function count(value) {
  if (!Number.isFinite(value)) return '–';
  if (value >= 1e6) return `${(value / 1e6).toFixed(2)} M`;
  if (value >= 1e3) return `${(value / 1e3).toFixed(1)} k`;
  return value.toFixed(0);
}
export const fixed = (digits) => (value) => (Number.isFinite(value) ? value.toFixed(digits) : '–');
export const micros = (value) => (Number.isFinite(value) ? (value >= 1000 ? value.toFixed(0) : value.toFixed(1)) : '–');

function spreadOf(row, format) {
  const percent = `${Math.round(row.variation * 100)}%`;
  return `${format(row.min)} – ${format(row.max)} (${row.flagged ? `**${percent} > 20%**` : percent})`;
}

function ratioCells(row, baselines) {
  return baselines.map((baseline) => (row.ratios?.[baseline] === undefined || row.system === baseline ? '–' : `${row.ratios[baseline].toFixed(2)}×`));
}

export function formatCase(benchCase, rows, roundsWanted) {
  const baselines = baselinesOf(
    benchCase,
    rows.map((row) => row.system),
  );
  const lines = [];
  let header;
  let cells;
  if (benchCase.kind === 'throughput') {
    header = ['system', 'msg/s', 'MB/s', 'spread of msg/s (min – max, range/median)', 'server CPU ns/msg', ...baselines.map((b) => `÷ ${b}`)];
    cells = (row) => [count(row.median), fixed(1)(row.medians.megabytesPerSecond), spreadOf(row, count), row.medians.serverCpuNsPerMessage === undefined ? 'n/a' : fixed(0)(row.medians.serverCpuNsPerMessage)];
  } else if (benchCase.kind === 'rtt') {
    header = ['system', 'p50 µs', 'p99 µs', 'p99.9 µs', 'req/s', 'spread of p50', ...baselines.map((b) => `p50 ÷ ${b}`)];
    cells = (row) => [micros(row.median), micros(row.medians.p99Us), micros(row.medians.p999Us), count(row.medians.perSecond), spreadOf(row, micros)];
  } else {
    header = ['system', 'received msg/s', 'MB/s', 'sent msg/s', 'loss', 'spread of received msg/s', ...baselines.map((b) => `÷ ${b}`)];
    cells = (row) => [count(row.median), fixed(1)(row.medians.megabytesPerSecond), count(row.medians.sentPerSecond), `${fixed(1)(row.medians.lossPercent)}%`, spreadOf(row, count)];
  }
  lines.push(`### ${benchCase.name}: ${benchCase.title}`, '');
  lines.push(`| ${header.join(' | ')} |`, `|${header.map(() => '---').join('|')}|`);
  const notes = [];
  for (const row of rows) {
    if (row.rounds === 0) {
      lines.push(`| ${[row.system, 'n/a', ...header.slice(2).map(() => '')].join(' | ')} |`);
      notes.push(`${row.system}: ${row.errors.join('; ') || 'not measured'}`);
      continue;
    }
    const rounds = row.rounds < roundsWanted ? ` (${row.rounds}/${roundsWanted} rounds)` : '';
    lines.push(`| ${[row.system + rounds, ...cells(row), ...ratioCells(row, baselines)].join(' | ')} |`);
    if (row.failed > 0) notes.push(`${row.system}: ${row.failed} round(s) failed: ${row.errors.join('; ')}`);
    if (row.cpuRatio) notes.push(`${row.system}: server CPU per message ${row.cpuRatio.median.toFixed(3)}× hybridwire's (median of ${row.cpuRatio.rounds} per-round ratios)`);
  }
  if (notes.length > 0) lines.push('', ...notes.map((note) => `- ${note.split('\n')[0]}`));
  lines.push('');
  return lines.join('\n');
}

/** Side by side: 1 client (tput-64), 10 and 100 concurrent clients, 64 B messages. */
export function formatClients(summary) {
  const columns = [
    ['tput-64', '1 client'],
    ['clients-10', '10 clients'],
    ['clients-100', '100 clients'],
  ].filter(([name]) => summary.some((entry) => entry.case.name === name));
  if (columns.length < 2) return '';
  const systems = [...new Set(columns.flatMap(([name]) => summary.find((entry) => entry.case.name === name).rows.map((row) => row.system)))];
  const header = ['system', ...columns.flatMap(([, label]) => [`${label} msg/s`, '÷ net-coalesced'])];
  const lines = ['### Concurrent clients: aggregate 64 B msg/s by number of clients', '', `| ${header.join(' | ')} |`, `|${header.map(() => '---').join('|')}|`];
  for (const system of systems) {
    const cells = [system];
    for (const [name] of columns) {
      const row = summary.find((entry) => entry.case.name === name).rows.find((candidate) => candidate.system === system);
      const ratio = row?.ratios?.['net-coalesced'];
      cells.push(row?.rounds ? count(row.median) : 'n/a', ratio === undefined || system === 'net-coalesced' ? '–' : `${ratio.toFixed(2)}×`);
    }
    lines.push(`| ${cells.join(' | ')} |`);
  }
  lines.push('');
  return lines.join('\n');
}
