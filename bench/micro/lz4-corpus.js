// The LZ4 benchmark corpus: four kinds of data at five sizes, generated from a fixed seed so that
// every run and every driver (Node, liblz4, our C++ core) measures the same bytes.
//
//   node bench/micro/lz4-corpus.js <dir>   writes <dir>/<kind>-<size>.bin for the C drivers and
//                                          prints their paths, one a line, in corpus order
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const KINDS = ['text', 'json', 'binary', 'random'];
export const SIZES = [64, 1024, 4096, 65536, 1048576];

function xorshift(seed) {
  let state = seed >>> 0 || 1;
  return () => {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    return (state >>> 0) / 4294967296;
  };
}

const WORDS = (
  'the of and to a in is that for it as was with be by on not he this are or his from at which ' +
  'but have an they you were her she there been one all we their has would when if so no what up ' +
  'its out into them more some could time these two may then do first any my now such like our ' +
  'over man me even most made after also did many before must through back years where much your ' +
  'way well down should because each just those people how too little state good very make world ' +
  'still own see men work long get here between both life being under never day same another know ' +
  'while last might us great old year off come since against go came right used take three message ' +
  'server client packet latency network stream buffer frame session channel reliable ordered ' +
  'datagram socket window sequence acknowledgement compression checksum handshake protocol'
).split(' ');

// English-like prose: words drawn with a skewed (Zipf-like) frequency, in sentences and paragraphs.
function text(size, random) {
  let out = '';
  while (out.length < size) {
    const sentenceLength = 6 + Math.floor(random() * 15);
    const words = [];
    for (let i = 0; i < sentenceLength; i++) words.push(WORDS[Math.floor(WORDS.length * random() ** 2.5)]);
    const sentence = words.join(' ');
    out += sentence[0].toUpperCase() + sentence.slice(1) + (random() < 0.15 ? '.\n\n' : '. ');
  }
  return Buffer.from(out.slice(0, size), 'latin1');
}

// Newline-separated JSON messages of the kinds a game or telemetry service sends.
function json(size, random) {
  const lines = [];
  let length = 0;
  for (let sequence = 1; length < size; sequence++) {
    const pick = random();
    let message;
    if (pick < 0.4) {
      message = {
        type: 'pos',
        seq: sequence,
        id: 1000 + Math.floor(random() * 64),
        x: Math.round(random() * 100000) / 1000,
        y: Math.round(random() * 100000) / 1000,
        heading: Math.round(random() * 360),
      };
    } else if (pick < 0.7) {
      const words = [];
      for (let i = 0; i < 3 + random() * 10; i++) words.push(WORDS[Math.floor(WORDS.length * random() ** 2)]);
      message = {
        type: 'chat',
        seq: sequence,
        room: `lobby-${Math.floor(random() * 8)}`,
        user: `player${Math.floor(random() * 5000)}`,
        text: words.join(' '),
        ts: 1732363200000 + sequence * 17,
      };
    } else {
      message = {
        type: 'metric',
        seq: sequence,
        name: ['cpu.load', 'mem.rss', 'net.rx', 'net.tx'][Math.floor(random() * 4)],
        host: `node-${String(Math.floor(random() * 16)).padStart(2, '0')}`,
        value: Math.round(random() * 1e6) / 1e4,
        tags: ['prod', random() < 0.5 ? 'eu-west' : 'us-east'],
      };
    }
    const line = JSON.stringify(message);
    lines.push(line);
    length += line.length + 1;
  }
  return Buffer.from(lines.join('\n'), 'latin1').subarray(0, size);
}

// Packed 32-byte sensor records: increasing timestamps, a few ids, slowly drifting float readings.
function binary(size, random) {
  const out = Buffer.alloc(Math.ceil(size / 32) * 32);
  const readings = [20, 1013, 45, 0];
  let time = 1732363200000n;
  for (let offset = 0; offset < out.length; offset += 32) {
    time += BigInt(1000 + Math.floor(random() * 8));
    out.writeBigUInt64LE(time, offset);
    out.writeUInt16LE(Math.floor(random() * 12), offset + 8);
    out.writeUInt16LE(random() < 0.05 ? 1 : 0, offset + 10);
    for (let i = 0; i < 4; i++) {
      readings[i] += (random() - 0.5) * 0.1;
      out.writeFloatLE(readings[i], offset + 12 + i * 4);
    }
    out.writeUInt32LE(offset / 32, offset + 28);
  }
  return out.subarray(0, size);
}

function randomBytes(size, random) {
  const out = Buffer.alloc(size);
  for (let i = 0; i < size; i++) out[i] = Math.floor(random() * 256);
  return out;
}

const GENERATORS = { text, json, binary, random: randomBytes };

/** Every corpus entry: `{ kind, size, name, data }`, the same bytes on every call. */
export function buildCorpus() {
  const corpus = [];
  KINDS.forEach((kind, kindIndex) => {
    for (const size of SIZES) {
      const data = GENERATORS[kind](size, xorshift(0x9e3779b9 + kindIndex * 7919 + size));
      corpus.push({ kind, size, name: `${kind}-${size}`, data });
    }
  });
  return corpus;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const dir = process.argv[2];
  if (!dir) {
    console.error('usage: node bench/micro/lz4-corpus.js <output dir>');
    process.exit(2);
  }
  mkdirSync(dir, { recursive: true });
  for (const entry of buildCorpus()) {
    const file = path.join(dir, `${entry.name}.bin`);
    writeFileSync(file, entry.data);
    console.log(file);
  }
}
