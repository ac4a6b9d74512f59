// CPU that idle connected clients cost: a hybridwire server (default options: heartbeat every
// 5 s) in a child process, N clients here (connected, optionally subscribed to one filter, then
// left alone), process.cpuUsage() of this process over quiet windows, per client and second.
// Bounded: connects, settles, measures for --seconds, closes everything and exits.
//   node bench/pubsub/idle-cost.mjs [--clients 250] [--seconds 5] [--settle-ms 2000] [--subscribe] [--rounds 3]
import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { connect, createServer } from '../../dist/index.js';

const args = process.argv.slice(2);
const option = (name, fallback) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? Number(args[i + 1]) : fallback;
};

if (process.argv[2] === '--serve') {
  const server = createServer({ host: '127.0.0.1', tcpPort: 0 });
  const { tcpPort } = await server.listen();
  process.send({ tcpPort });
  process.on('message', async () => {
    await server.close();
    process.exit(0);
  });
} else {
  const clients = option('clients', 250);
  const seconds = option('seconds', 5);
  const settleMs = option('settle-ms', 2000);
  const rounds = option('rounds', 3);
  const subscribe = args.includes('--subscribe');
  const child = fork(fileURLToPath(import.meta.url), ['--serve']);
  const { tcpPort } = await new Promise((resolve) => child.once('message', resolve));
  const connected = [];
  for (let i = 0; i < clients; i++) connected.push(await connect({ host: '127.0.0.1', tcpPort }));
  if (subscribe) await Promise.all(connected.map((client) => client.subscribe('bench/fanout', () => {}, { qos: 0 })));
  await new Promise((resolve) => setTimeout(resolve, settleMs));
  const perRound = [];
  for (let round = 0; round < rounds; round++) {
    const before = process.cpuUsage();
    await new Promise((resolve) => setTimeout(resolve, seconds * 1000));
    const used = process.cpuUsage(before);
    perRound.push((used.user + used.system) / 1000 / clients / seconds);
  }
  console.log(JSON.stringify({ clients, seconds, rounds, subscribe, cpuMsPerClientPerSecond: perRound.map((v) => Number(v.toFixed(4))) }));
  await Promise.all(connected.map((client) => client.close()));
  child.send('stop');
  await new Promise((resolve) => child.once('exit', resolve));
}
