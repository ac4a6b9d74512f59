#!/usr/bin/env node
/**
 * Compression ratio and speed of every algorithm a session may negotiate (docs/PROTOCOL.md,
 * section 12), at several levels, on payloads like those applications send: JSON telemetry, log
 * lines, and binary samples. It calls the codecs hybridwire uses (dist/compression/algorithms.js),
 * so it measures what a session spends per message, without the network.
 *
 *   npm run compile:ts && node bench/compression.mjs [--ms 300] [--json out.json]
 *
 * Each cell compresses (then decompresses) one payload in a loop for --ms milliseconds after a
 * short warm-up; MB/s counts the uncompressed bytes. CPU only, one core, a few tens of seconds.
 */
import os from 'node:os';
import { writeFileSync } from 'node:fs';
import { codecOf, availableAlgorithms } from '../dist/compression/algorithms.js';

const args = process.argv.slice(2);
const option = (name, fallback) => {
  const at = args.indexOf(`--${name}`);
  return at === -1 ? fallback : args[at + 1];
};
const MEASURE_MS = Number(option('ms', '300'));
const JSON_OUT = option('json', undefined);

/** A deterministic generator, so that every run measures the same bytes. */
function random(seed) {
  let state = seed >>> 0;
  return () => {
    state = (Math.imul(state ^ (state >>> 15), 0x2c1b3c6d) + 0x6d2b79f5) >>> 0;
    return state / 2 ** 32;
  };
}

function telemetry(bytes) {
  const next = random(1);
  const rows = [];
  for (let i = 0; JSON.stringify(rows).length < bytes; i++) {
    rows.push({ device: `sensor-${Math.floor(next() * 64)}`, ts: 1764763000000 + i * 250, temperature: +(18 + next() * 9).toFixed(2), humidity: +(30 + next() * 40).toFixed(1), battery: Math.floor(next() * 100), status: next() < 0.95 ? 'ok' : 'degraded' });
  }
  return Buffer.from(JSON.stringify({ site: 'plant-7', readings: rows })).subarray(0, bytes);
}

function logLines(bytes) {
  const next = random(2);
  const paths = ['/api/v1/items', '/api/v1/orders', '/healthz', '/api/v1/users/me', '/static/app.js'];
  const lines = [];
  for (let i = 0; lines.join('\n').length < bytes; i++) {
    const status = next() < 0.9 ? 200 : next() < 0.5 ? 404 : 500;
    lines.push(`2026-12-03T11:${String(10 + (i % 50)).padStart(2, '0')}:${String(i % 60).padStart(2, '0')}.${String(i % 1000).padStart(3, '0')}Z INFO http ${['GET', 'POST'][i % 2]} ${paths[Math.floor(next() * paths.length)]} status=${status} duration_ms=${Math.floor(next() * 200)} request_id=${Math.floor(next() * 2 ** 32).toString(16)}`);
  }
  return Buffer.from(lines.join('\n')).subarray(0, bytes);
}

/** Binary sensor frames: float32 samples of a slowly varying signal with noise, little-endian. */
function samples(bytes) {
  const next = random(3);
  const out = Buffer.alloc(bytes);
  for (let i = 0; i + 4 <= bytes; i += 4) out.writeFloatLE(Math.sin(i / 400) * 100 + Math.round(next() * 4) / 4, i);
  return out;
}

const PAYLOADS = [
  ['JSON telemetry 4 KiB', telemetry(4 * 1024)],
  ['JSON telemetry 64 KiB', telemetry(64 * 1024)],
  ['log lines 16 KiB', logLines(16 * 1024)],
  ['binary samples 16 KiB', samples(16 * 1024)],
];
const LEVELS = { lz4: [1], zstd: [1, 3, 9, 19], gzip: [1, 6, 9], deflate: [1, 6], brotli: [1, 4, 9, 11] };

/** Operations per second of `run` over MEASURE_MS, after a warm-up of a tenth of that. */
function rate(run) {
  for (const end = performance.now() + MEASURE_MS / 10; performance.now() < end; ) run();
  let count = 0;
  const started = performance.now();
  let now = started;
  while (now - started < MEASURE_MS) {
    run();
    count++;
    now = performance.now();
  }
  return (count * 1000) / (now - started);
}

const rows = [];
for (const [payloadName, payload] of PAYLOADS) {
  for (const algorithm of availableAlgorithms()) {
    const codec = codecOf(algorithm);
    for (const level of LEVELS[algorithm]) {
      const compressed = codec.compress(payload, level);
      if (!codec.decompress(compressed, payload.length).equals(payload)) throw new Error(`${algorithm} ${level} does not round-trip`);
      const compressMBs = (rate(() => codec.compress(payload, level)) * payload.length) / 1e6;
      const decompressMBs = (rate(() => codec.decompress(compressed, payload.length)) * payload.length) / 1e6;
      const row = { payload: payloadName, algorithm, level, ratio: payload.length / compressed.length, compressMBs, decompressMBs };
      rows.push(row);
      console.log(`${payloadName.padEnd(22)} ${algorithm.padEnd(8)} ${String(level).padStart(2)}  ratio ${row.ratio.toFixed(2).padStart(6)}  compress ${compressMBs.toFixed(0).padStart(5)} MB/s  decompress ${decompressMBs.toFixed(0).padStart(5)} MB/s`);
    }
  }
}

const machine = { cpu: os.cpus()[0]?.model, cores: os.cpus().length, load: os.loadavg().map((value) => value.toFixed(1)).join(' '), node: process.version, date: new Date().toISOString() };
console.log(`\n${machine.cpu}, ${machine.cores} cores, load ${machine.load}, Node ${machine.node}, ${machine.date}`);
if (JSON_OUT !== undefined) writeFileSync(JSON_OUT, JSON.stringify({ machine, rows }, null, 2));
