// LZ4 micro benchmark: our lz4Compress / lz4Decompress against lz4-napi and lz4js (benchmark.js),
// next to liblz4 itself and our C++ core timed in-process by the C drivers, on one corpus
// (bench/micro/lz4-corpus.js). Run everything with bench/micro/run-lz4.sh.
//
//   node bench/micro/lz4.bench.js [--native results.jsonl]... [--results bench/RESULTS.md]
//
// --native   JSON lines from lz4-reference-bench / lz4-core-bench, to show in the same tables
// --results  replace the "## LZ4 (micro)" section of that file with these results, keeping the
//            "### Notes" subsection written by hand
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import Benchmark from 'benchmark';
import lz4js from 'lz4js';
import { compressSync as napiCompress, uncompressSync as napiDecompress } from 'lz4-napi';
import { lz4Compress, lz4Decompress } from '../../dist/index.js';
import { buildCorpus } from './lz4-corpus.js';

const SECTION = '## LZ4 (micro)';

function parseArguments(argv) {
  const options = { native: [], results: undefined };
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--native') options.native.push(argv[++i]);
    else if (argv[i] === '--results') options.results = argv[++i];
    else throw new Error(`unknown argument ${argv[i]}`);
  }
  return options;
}

// lz4js is given its block API and one hash table, cleared before each call: it needs a zeroed
// table (stale entries corrupt its output), and its own compress() allocates a new one per call
// and writes the frame format.
const lz4jsTable = new Uint32Array(1 << 16);

const implementations = {
  hybridwire: {
    compress: (data) => lz4Compress(data),
    decompress: (block, size) => lz4Decompress(block, size),
  },
  'lz4-napi': {
    // lz4_flex's block format with the uncompressed size prepended (4 bytes).
    compress: (data) => napiCompress(data),
    decompress: (block) => napiDecompress(block),
  },
  lz4js: {
    compress: (data) => {
      const out = new Uint8Array(lz4js.compressBound(data.length));
      lz4jsTable.fill(0);
      const written = lz4js.compressBlock(data, out, 0, data.length, lz4jsTable);
      // 0 means incompressible, and lz4js's frame format then stores the data as it is.
      return written === 0 ? Object.assign(new Uint8Array(data), { stored: true }) : out.subarray(0, written);
    },
    decompress: (block, size) => {
      if (block.stored) return new Uint8Array(block);
      const out = new Uint8Array(size);
      lz4js.decompressBlock(block, out, 0, block.length, 0);
      return out;
    },
  },
};

// The machine is shared: every case is measured in PASSES passes over the corpus, and the best
// pass is kept, as the one least disturbed by other processes.
const PASSES = 3;

/** Operations per second of each implementation of `run`, as MB/s of `size` bytes per operation. */
function measure(label, size, runs) {
  const suite = new Benchmark.Suite(label);
  for (const [name, run] of Object.entries(runs)) suite.add(name, run, { maxTime: 0.4, minSamples: 5 });
  const rates = {};
  suite.on('cycle', (event) => {
    rates[event.target.name] = (event.target.hz * size) / 1e6;
  });
  suite.run();
  return rates;
}

function benchmarkNode(corpus) {
  const rows = corpus.map((entry) => ({ name: entry.name, size: entry.size, compress: {}, decompress: {}, ratio: {} }));
  const blocks = corpus.map((entry, index) => {
    const byName = {};
    for (const [name, codec] of Object.entries(implementations)) {
      const block = codec.compress(entry.data);
      if (!Buffer.from(codec.decompress(block, entry.size)).equals(entry.data)) {
        throw new Error(`${name} does not round-trip ${entry.name}`);
      }
      byName[name] = block;
      rows[index].ratio[name] = entry.size / block.length;
    }
    return byName;
  });
  const keepBest = (best, rates) => {
    for (const [name, rate] of Object.entries(rates)) best[name] = Math.max(best[name] ?? 0, rate);
  };
  for (let pass = 1; pass <= PASSES; pass++) {
    corpus.forEach((entry, index) => {
      const perImplementation = (operation) =>
        Object.fromEntries(Object.entries(implementations).map(([name, codec]) => [name, operation(name, codec)]));
      keepBest(
        rows[index].compress,
        measure(`compress ${entry.name}`, entry.size, perImplementation((_, codec) => () => codec.compress(entry.data))),
      );
      keepBest(
        rows[index].decompress,
        measure(
          `decompress ${entry.name}`,
          entry.size,
          perImplementation((name, codec) => () => codec.decompress(blocks[index][name], entry.size)),
        ),
      );
      process.stderr.write(`pass ${pass}: measured ${entry.name}\n`);
    });
  }
  return rows;
}

function readNative(files) {
  const byImpl = {};
  for (const file of files) {
    for (const line of readFileSync(file, 'utf8').split('\n').filter(Boolean)) {
      // Several passes of the same driver: keep the best speeds.
      const result = JSON.parse(line);
      const best = ((byImpl[result.impl] ??= {})[result.name] ??= result);
      best.compressMBps = Math.max(best.compressMBps, result.compressMBps);
      best.decompressMBps = Math.max(best.decompressMBps, result.decompressMBps);
    }
  }
  return byImpl;
}

const fixed = (value, digits = 0) => (value === undefined ? '–' : value.toFixed(digits));
const times = (value) => (value === undefined || !Number.isFinite(value) ? '–' : `${value.toFixed(2)}x`);

function table(header, rows) {
  return [`| ${header.join(' | ')} |`, `|${header.map((_, i) => (i === 0 ? ' --- ' : ' ---: ')).join('|')}|`]
    .concat(rows.map((row) => `| ${row.join(' | ')} |`))
    .join('\n');
}

function report(rows, nativeResults) {
  const reference = nativeResults.liblz4 ?? {};
  const core = nativeResults.core ?? {};
  const version = Object.values(reference)[0]?.version ?? '?';
  const lines = [];

  const speedTable = (direction) =>
    table(
      ['data', `liblz4 ${version} (C)`, 'our core (C++)', 'core / liblz4', 'hybridwire (Node)', 'lz4-napi', 'lz4js', 'hybridwire / lz4-napi'],
      rows.map((row) => {
        const key = `${direction}MBps`;
        const ref = reference[row.name]?.[key];
        const ours = core[row.name]?.[key];
        return [
          row.name,
          fixed(ref),
          fixed(ours),
          times(ours / ref),
          fixed(row[direction].hybridwire),
          fixed(row[direction]['lz4-napi']),
          fixed(row[direction].lz4js),
          times(row[direction].hybridwire / row[direction]['lz4-napi']),
        ];
      }),
    );

  lines.push('### Compression, MB/s of input', '', speedTable('compress'), '');
  lines.push('### Decompression, MB/s of output', '', speedTable('decompress'), '');
  lines.push(
    '### Ratio (input size / compressed size)',
    '',
    table(
      ['data', 'liblz4', 'ours', 'ours vs liblz4', 'same bytes as liblz4', 'lz4-napi (+4 B size)', 'lz4js'],
      rows.map((row) => {
        const ref = reference[row.name];
        const ours = core[row.name];
        return [
          row.name,
          ref ? fixed(row.size / ref.compressed, 3) : '–',
          fixed(row.ratio.hybridwire, 3),
          ref ? `${(((ref.compressed - ours.compressed) / ref.compressed) * 100).toFixed(2)}%` : '–',
          ref && ours ? (ref.blockHash === ours.blockHash ? 'yes' : 'no') : '–',
          fixed(row.ratio['lz4-napi'], 3),
          fixed(row.ratio.lz4js, 3),
        ];
      }),
    ),
    '',
  );

  // The targets, worst case first.
  const worst = (values) => values.filter((v) => Number.isFinite(v.value)).sort((a, b) => a.value - b.value)[0];
  const coreVersus = (key) =>
    worst(rows.map((row) => ({ name: row.name, value: core[row.name]?.[key] / reference[row.name]?.[key] })));
  const small = rows.filter((row) => row.size <= 4096);
  const napiVersus = (direction) =>
    worst(small.map((row) => ({ name: row.name, value: row[direction].hybridwire / row[direction]['lz4-napi'] })));
  const ratioGap = worst(
    rows.map((row) => ({
      name: row.name,
      value: -Math.abs(core[row.name]?.compressed - reference[row.name]?.compressed) / reference[row.name]?.compressed,
    })),
  );
  const verdict = (ok) => (ok ? 'met' : '**missed**');
  const show = (w, unit = 'x') => (w ? `${w.value.toFixed(2)}${unit} (${w.name})` : 'not measured');
  const compress = coreVersus('compressMBps');
  const decompress = coreVersus('decompressMBps');
  const napiCompress = napiVersus('compress');
  const napiDecompress = napiVersus('decompress');
  lines.push(
    '### Targets',
    '',
    `- Core at least 0.8x liblz4: compression worst ${show(compress)}, ${verdict(compress?.value >= 0.8)}; ` +
      `decompression worst ${show(decompress)}, ${verdict(decompress?.value >= 0.8)}.`,
    `- Ratio within 2% of liblz4: largest gap ${ratioGap ? `${(-ratioGap.value * 100).toFixed(2)}% (${ratioGap.name})` : 'not measured'}, ` +
      `${verdict(ratioGap && -ratioGap.value <= 0.02)}.`,
    `- hybridwire faster than lz4-napi up to 4 KiB: compression worst ${show(napiCompress)}, ` +
      `${verdict(napiCompress?.value > 1)}; decompression worst ${show(napiDecompress)}, ${verdict(napiDecompress?.value > 1)}.`,
    '',
  );
  return lines.join('\n');
}

function machine() {
  let model = os.cpus()[0]?.model ?? 'unknown CPU';
  try {
    const match = /^Model name:\s*(.+)$/m.exec(execFileSync('lscpu', { encoding: 'utf8' }));
    if (match) model = match[1].trim();
  } catch {
    // lscpu is Linux-only; os.cpus() gave a model name already.
  }
  return `${model}, ${os.availableParallelism()} cores`;
}

function writeSection(file, body) {
  const existing = existsSync(file) ? readFileSync(file, 'utf8') : '# Benchmark results\n';
  const start = existing.indexOf(`${SECTION}\n`);
  const end = start < 0 ? -1 : existing.indexOf('\n## ', start + SECTION.length);
  const old = start < 0 ? '' : existing.slice(start, end < 0 ? undefined : end + 1);
  const notesAt = old.indexOf('### Notes\n');
  const notes = notesAt < 0 ? '' : `\n${old.slice(notesAt).trimEnd()}\n`;
  const section = `${SECTION}\n\n${body.trimEnd()}\n${notes}`;
  const updated =
    start < 0
      ? `${existing.trimEnd()}\n\n${section}`
      : `${existing.slice(0, start)}${section}${end < 0 ? '' : `\n${existing.slice(end + 1)}`}`;
  writeFileSync(file, updated.endsWith('\n') ? updated : `${updated}\n`);
}

const options = parseArguments(process.argv.slice(2));
const rows = benchmarkNode(buildCorpus());
const body = [
  `Machine: ${machine()}. Node ${process.version}. Date: ${new Date().toISOString().slice(0, 10)}.`,
  'Command: `bash bench/micro/run-lz4.sh --write`.',
  '',
  'One corpus (bench/micro/lz4-corpus.js: English-like text, newline-separated JSON messages, packed ' +
    'binary records, random bytes) at 64 B to 1 MiB. liblz4 (LZ4_compress_default / ' +
    'LZ4_decompress_safe) and our core (native/core/lz4.cc, compiled with the addon\'s flags) are ' +
    'timed in-process by C drivers; the Node rows go through N-API with benchmark.js and include ' +
    'allocating the returned Buffer. Decompression is given the exact output size. The machine is ' +
    'shared, so each speed is the best of three passes (of 7 rounds for the C drivers), alternating ' +
    'the implementations between passes.',
  '',
  report(rows, readNative(options.native)),
].join('\n');
console.log(body);
if (options.results) writeSection(options.results, body);
