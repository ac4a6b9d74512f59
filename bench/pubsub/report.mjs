// The pub/sub tables: per case, deliveries per second (medians of the rounds, spread, per-round
// ratios to the MQTT brokers and NATS) and publish-to-delivery latency; then one side-by-side table
// of every case. Number formats and medians are bench/e2e's.
import { count, median, micros, VARIATION_FLAG } from '../e2e/report.mjs';

export const BASELINES = ['aedes', 'mosquitto', 'nats'];

export function summarize(benchCase, systemNames, measurements) {
  const of = (system) => measurements.filter((m) => m.case === benchCase.name && m.system === system);
  return systemNames.map((system) => {
    const runs = of(system);
    const good = runs.filter((m) => m.ok);
    const row = { system, rounds: good.length, failed: runs.length - good.length, errors: [...new Set(runs.filter((m) => !m.ok).map((m) => m.error))] };
    if (good.length === 0) return row;
    const values = good.map((m) => m.result.value);
    row.median = median(values);
    row.min = Math.min(...values);
    row.max = Math.max(...values);
    row.variation = (row.max - row.min) / row.median;
    row.medians = {};
    for (const key of ['p50Us', 'p99Us', 'publishedPerSecond', 'seconds', 'saturatedP50Us', 'saturatedP99Us']) row.medians[key] = median(good.map((m) => m.result[key]));
    row.ratios = {};
    for (const baseline of [...BASELINES, 'hybridwire']) {
      const perRound = good.flatMap((run) => {
        const base = of(baseline).find((m) => m.ok && m.round === run.round);
        return base && base.result.value > 0 ? [run.result.value / base.result.value] : [];
      });
      if (perRound.length > 0) row.ratios[baseline] = median(perRound);
    }
    return row;
  });
}

const ratio = (row, baseline) => (row.ratios?.[baseline] === undefined || row.system === baseline ? '–' : `${row.ratios[baseline].toFixed(2)}×`);

export function formatCase(benchCase, rows, roundsWanted) {
  // The cluster is read against one hybridwire node (issue 16: across nodes ≥ 0.5× one node).
  const clustered = rows.some((row) => row.system === 'hybridwire-cluster' && row.rounds > 0);
  const baselines = [...BASELINES, ...(clustered ? ['hybridwire'] : [])].filter((name) => rows.some((row) => row.system === name && row.rounds > 0));
  const header = ['system', 'deliveries/s', 'spread (min – max, range/median)', 'p50 µs (paced)', 'p99 µs (paced)', 'published msg/s', ...baselines.map((b) => `÷ ${b}`)];
  const lines = [`### ${benchCase.name}: ${benchCase.title}`, '', `| ${header.join(' | ')} |`, `|${header.map(() => '---').join('|')}|`];
  const notes = [];
  for (const row of rows) {
    if (row.rounds === 0) {
      lines.push(`| ${[row.system, 'n/a', ...header.slice(2).map(() => '')].join(' | ')} |`);
      notes.push(`${row.system}: ${row.errors.join('; ') || 'not measured'}`);
      continue;
    }
    const percent = `${Math.round(row.variation * 100)}%`;
    const spread = `${count(row.min)} – ${count(row.max)} (${row.variation > VARIATION_FLAG ? `**${percent} > 20%**` : percent})`;
    const rounds = row.rounds < roundsWanted ? ` (${row.rounds}/${roundsWanted} rounds)` : '';
    lines.push(`| ${[row.system + rounds, count(row.median), spread, micros(row.medians.p50Us), micros(row.medians.p99Us), count(row.medians.publishedPerSecond), ...baselines.map((b) => ratio(row, b))].join(' | ')} |`);
    if (row.failed > 0) notes.push(`${row.system}: ${row.failed} round(s) failed: ${row.errors.join('; ')}`);
  }
  if (notes.length > 0) lines.push('', ...notes.map((note) => `- ${note.split('\n')[0]}`));
  lines.push('');
  return lines.join('\n');
}

/** Every case side by side: deliveries/s and the ratio to aedes and to mosquitto. */
export function formatOverview(summary) {
  const systems = [...new Set(summary.flatMap((entry) => entry.rows.map((row) => row.system)))];
  const header = ['case', ...systems.flatMap((system) => (system === 'aedes' || system === 'mosquitto' || system === 'nats' ? [system] : [system, '÷ aedes', '÷ mosquitto', '÷ nats']))];
  const lines = ['### Side by side: deliveries/s (median), ratios are medians of per-round ratios', '', `| ${header.join(' | ')} |`, `|${header.map(() => '---').join('|')}|`];
  for (const { case: benchCase, rows } of summary) {
    const cells = [benchCase.name];
    for (const system of systems) {
      const row = rows.find((candidate) => candidate.system === system);
      cells.push(row?.rounds ? count(row.median) : 'n/a');
      if (!['aedes', 'mosquitto', 'nats'].includes(system)) cells.push(...['aedes', 'mosquitto', 'nats'].map((b) => (row?.rounds ? ratio(row, b) : '–')));
    }
    lines.push(`| ${cells.join(' | ')} |`);
  }
  lines.push('');
  return lines.join('\n');
}
