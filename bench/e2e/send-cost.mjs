// CPU time per message at each end of one hybridwire TCP session: a client in this process sends
// `--count` one-way messages of `--size` bytes to a server in a child process (as bench/e2e's
// throughput cases do: 'drain' when send() returns false, a yield every 8,192 messages), and each
// side's process.cpuUsage() over the run is divided by the count. CPU time moves far less with the
// machine's load than a rate, so builds compare well: `--builds` names the builds in
// bench/.cache/builds/LABEL/ (see systems/index.mjs; "." is this tree's dist/), run alternately,
// `--rounds` times each, fresh processes every time.
//
//   node bench/e2e/send-cost.mjs --builds c1e63e1,. --size 1024 --count 1000000 --rounds 3
import { fork } from 'node:child_process';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { otherBuild } from './systems/index.mjs';

const YIELD_EVERY = 8192;

function distOf(label) {
  return label === '.' ? fileURLToPath(new URL('../../dist/index.js', import.meta.url)) : otherBuild(`hybridwire@${label}`);
}

const cpuNs = (usage) => (usage.user + usage.system) * 1000;

async function serve(dist, count) {
  const api = await import(pathToFileURL(dist).href);
  const server = api.createServer({ host: '127.0.0.1', tcpPort: 0, udpPort: false });
  let received = 0;
  let before;
  server.handle('bench', () => {
    if (++received === count) process.send({ cpuNs: cpuNs(process.cpuUsage(before)) });
  });
  const { tcpPort } = await server.listen();
  process.on('message', (message) => {
    if (message === 'start') before = process.cpuUsage();
    else if (message === 'exit') server.close().finally(() => process.exit(0));
  });
  process.send({ tcpPort });
}

/** One measurement of `dist`: client and server CPU ns per message, and the rate. */
async function measure(dist, size, count) {
  const child = fork(fileURLToPath(import.meta.url), ['--serve', dist, '--count', String(count)]);
  try {
    const next = () => new Promise((resolve, reject) => {
      child.once('message', resolve);
      child.once('exit', (code) => reject(new Error(`server exited with ${code}`)));
    });
    const { tcpPort } = await next();
    const api = await import(pathToFileURL(dist).href);
    const client = await api.connect({ host: '127.0.0.1', tcpPort, udpPort: false });
    const payload = Buffer.alloc(size, 1);
    const done = next();
    child.send('start');
    const started = performance.now();
    const before = process.cpuUsage();
    for (let i = 1; i <= count; i++) {
      if (!client.send('bench', payload)) await new Promise((resolve) => client.once('drain', resolve));
      else if (i % YIELD_EVERY === 0) await new Promise((resolve) => setImmediate(resolve));
    }
    const clientNs = cpuNs(process.cpuUsage(before)) / count;
    const { cpuNs: serverCpu } = await done;
    const elapsedMs = performance.now() - started;
    await client.close();
    return { clientNs, serverNs: serverCpu / count, messagesPerSecond: (count * 1000) / elapsedMs };
  } finally {
    child.send('exit');
  }
}

const { values: args } = parseArgs({
  options: {
    builds: { type: 'string', default: '.' },
    size: { type: 'string', default: '64' },
    count: { type: 'string', default: '2000000' },
    rounds: { type: 'string', default: '3' },
    serve: { type: 'string' },
  },
});
if (args.serve !== undefined) {
  await serve(args.serve, Number(args.count));
} else {
  const labels = args.builds.split(',');
  const size = Number(args.size);
  const count = Number(args.count);
  const results = new Map(labels.map((label) => [label, []]));
  for (let round = 1; round <= Number(args.rounds); round++) {
    for (const label of labels) {
      const result = await measure(distOf(label), size, count);
      results.get(label).push(result);
      process.stderr.write(`round ${round} ${label}: client ${result.clientNs.toFixed(0)} ns/msg, server ${result.serverNs.toFixed(0)} ns/msg, ${Math.round(result.messagesPerSecond)} msg/s\n`);
    }
  }
  const median = (values) => values.slice().sort((a, b) => a - b)[Math.floor(values.length / 2)];
  console.log(`| build | ${size} B: client CPU ns/msg (median; min – max) | server CPU ns/msg | msg/s |`);
  console.log('|---|---|---|---|');
  for (const [label, rows] of results) {
    const client = rows.map((row) => row.clientNs);
    console.log(`| ${label} | ${median(client).toFixed(0)} (${Math.min(...client).toFixed(0)} – ${Math.max(...client).toFixed(0)}) | ${median(rows.map((row) => row.serverNs)).toFixed(0)} | ${Math.round(median(rows.map((row) => row.messagesPerSecond)))} |`);
  }
  process.exit(0);
}
