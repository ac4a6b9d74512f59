// Frame codec throughput for 64-byte payloads: FrameDecoder.push over a stream cut into 64 KiB
// socket chunks (checksums verified, frames straddling chunks included), reading the type and
// payload of every frame; and FrameEncoder batches. Target: 10 million decoded frames/s.
//
//   npx node-gyp build && npx tsc -p tsconfig.build.json
//   node bench/micro/frame-decode.bench.mjs [--rounds N] [--max-time SECONDS]
//
// It imports the built package from dist/ (Node 20 runs no TypeScript). The machines are shared
// and noisy, so each case is measured in several interleaved rounds and judged by its fastest
// benchmark.js sample (interference only ever slows a sample down); the median sample is shown too.
import { parseArgs } from 'node:util';
import Benchmark from 'benchmark';
import { FrameDecoder, FrameEncoder, FrameType } from '../../dist/index.js';
import { payloadOf } from '../e2e/harness.mjs';

const { values: args } = parseArgs({
  options: { rounds: { type: 'string', default: '5' }, 'max-time': { type: 'string', default: '1' } },
});
const rounds = Number(args.rounds);
const maxTime = Number(args['max-time']);

const PAYLOAD_SIZE = 64;
const CHUNK_SIZE = 64 * 1024;
const STREAM_CHUNKS = 64;
const TARGET_FRAMES_PER_SECOND = 10e6;

// A 4 MiB stream of frames with distinct payloads, cut into 64 KiB chunks as a socket would
// deliver it: 80-byte frames do not divide 64 KiB, so most chunks end inside a frame.
const frameSize = 16 + PAYLOAD_SIZE;
const frameCount = Math.floor((STREAM_CHUNKS * CHUNK_SIZE) / frameSize);
const source = payloadOf(frameCount * PAYLOAD_SIZE, 1);
const encoder = new FrameEncoder();
for (let i = 0; i < frameCount; i++) {
  encoder.add(FrameType.MESSAGE, source.subarray(i * PAYLOAD_SIZE, (i + 1) * PAYLOAD_SIZE), 0, 0, i);
}
const stream = Buffer.concat(encoder.flush());
const chunks = [];
for (let at = 0; at < stream.length; at += CHUNK_SIZE) chunks.push(stream.subarray(at, at + CHUNK_SIZE));

let _sink = 0; // every result is folded in here, so no work can be optimised away

function decodeStream() {
  const decoder = new FrameDecoder();
  let frames = 0;
  for (const chunk of chunks) {
    const count = decoder.push(chunk);
    for (let i = 0; i < count; i++) {
      _sink += decoder.type(i) + decoder.payload(i).length;
    }
    frames += count;
  }
  decoder.end();
  return frames;
}

if (decodeStream() !== frameCount) throw new Error('decoder lost frames');

const payloads = Array.from({ length: 1024 }, (_, i) => source.subarray(i * PAYLOAD_SIZE, (i + 1) * PAYLOAD_SIZE));
function encodeBatches(batchSize) {
  const batchEncoder = new FrameEncoder();
  return () => {
    for (let start = 0; start < payloads.length; start += batchSize) {
      for (let i = start; i < start + batchSize; i++) batchEncoder.add(FrameType.MESSAGE, payloads[i], 0, 0, i);
      _sink += batchEncoder.flush().length;
    }
  };
}

const cases = {
  [`decode: push ${CHUNK_SIZE / 1024} KiB chunks + type + payload`]: { fn: decodeStream, frames: frameCount },
  'encode: batches of 16 (add + flush)': { fn: encodeBatches(16), frames: payloads.length },
  'encode: batches of 256 (add + flush)': { fn: encodeBatches(256), frames: payloads.length },
};

const samples = new Map(Object.keys(cases).map((name) => [name, []]));
for (let round = 0; round < rounds; round++) {
  for (const [name, { fn, frames }] of Object.entries(cases)) {
    const bench = new Benchmark(name, fn, { maxTime, minSamples: 5 });
    bench.run();
    if (bench.error) throw bench.error;
    for (const seconds of bench.stats.sample) samples.get(name).push(frames / seconds);
  }
}

console.log(`node ${process.version}, ${PAYLOAD_SIZE}-byte payloads, ${rounds} rounds: fastest sample (median sample)`);
let missed = false;
for (const [name, values] of samples) {
  values.sort((a, b) => a - b);
  const best = values.at(-1);
  const millions = (value) => (value / 1e6).toFixed(2);
  console.log(`${name.padEnd(52)} ${millions(best).padStart(6)} M frames/s  (${millions(values[values.length >> 1])})`);
  if (name.startsWith('decode') && best < TARGET_FRAMES_PER_SECOND) missed = true;
}
if (missed) {
  console.log(`\nTARGET MISSED: decoding below ${TARGET_FRAMES_PER_SECOND / 1e6} M frames/s`);
  process.exitCode = 1;
}
