// What reliable UDP does over time, for diagnosis: one reliable stream (the benchmark's client,
// server and chaos-proxy processes), the sender's statistics (congestion window, bytes in flight,
// smoothed RTT, retransmissions, timer expiries) and the receiver's count sampled every 100 ms.
//
//   node bench/e2e/reliable-udp-trace.mjs --size 64 --loss 0.05
//   node bench/e2e/reliable-udp-trace.mjs --size 16384 --loss 0.05 --duplicate 0.02 --reorder 0.05
//   node bench/e2e/reliable-udp-trace.mjs --size 16384 --direct
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { compileChaosProxy, startChaosProxy } from './chaos-proxy.mjs';
import { Child } from './harness.mjs';
import { loadHybridwire } from './systems/hybridwire.mjs';

const { values: args } = parseArgs({
  options: {
    size: { type: 'string', default: '64' },
    ms: { type: 'string', default: '2000' },
    every: { type: 'string', default: '100' },
    system: { type: 'string', default: 'hybridwire-udp-reliable' },
    direct: { type: 'boolean', default: false },
    loss: { type: 'string', default: '0' },
    duplicate: { type: 'string', default: '0' },
    reorder: { type: 'string', default: '0' },
    'reorder-delay-ms': { type: 'string', default: '5' },
    seed: { type: 'string', default: '20261123' },
  },
});
const reason = await loadHybridwire();
if (reason) {
  console.error(`hybridwire: ${reason}`);
  process.exit(2);
}
const size = Number(args.size);
const ms = Math.min(60_000, Number(args.ms));
const every = Math.max(10, Number(args.every));
const here = (file) => fileURLToPath(new URL(file, import.meta.url));
const chaos = {
  seed: Number(args.seed),
  loss: Number(args.loss),
  duplicate: Number(args.duplicate),
  reorder: Number(args.reorder),
  reorderDelayMs: Number(args['reorder-delay-ms']),
};

const server = new Child(here('./server-process.mjs'), { name: 'server' });
let proxy;
let client;
try {
  const { address } = await server.call('start', { system: args.system, host: '127.0.0.1', mode: 'sink', stampEach: false });
  let target = address;
  if (!args.direct) {
    compileChaosProxy();
    proxy = await startChaosProxy({ targetPort: address.udpPort, chaos });
    target = { ...address, udpPort: proxy.port };
  }
  client = new Child(here('./client-process.mjs'), { name: 'client' });
  await client.call('connect', { system: args.system, address: target, connections: 1, mode: 'sink' }, 30_000);
  console.log(`${args.system}, ${size} B messages, ${args.direct ? 'direct' : `through the chaos proxy ${JSON.stringify(chaos)}`}`);
  console.log('    ms  delivered MB/s  cwnd B   in flight B  msgs in flight  srtt ms  rto ms  frames resent  timer expiries  datagrams sent');
  const began = performance.now();
  const sending = client.call('send', { size, countPerConnection: 50_000_000, maxMs: ms }, ms + 30_000);
  let last = { bytes: 0, at: began };
  const windows = [];
  let marked;
  let done = false;
  sending.finally(() => {
    done = true;
  });
  while (!done && performance.now() - began < ms + 5000) {
    await new Promise((resolve) => setTimeout(resolve, every));
    const [stats, count] = await Promise.all([client.call('stats'), server.call('count')]);
    const now = performance.now();
    const s = stats?.udpStats;
    if (!s) continue;
    const rate = (count.bytes - last.bytes) / (now - last.at) / 1000;
    if (now - began >= 500 && now - began <= ms) {
      windows.push(s.congestionWindow);
      marked ??= { bytes: count.bytes, at: now, stats: s };
      marked.end = { bytes: count.bytes, at: now, stats: s };
    }
    last = { bytes: count.bytes, at: now };
    console.log(
      `${(now - began).toFixed(0).padStart(6)}  ${rate.toFixed(1).padStart(14)}  ${String(s.congestionWindow).padStart(7)}  ${String(s.bytesInFlight).padStart(11)}  ${String(s.messagesInFlight).padStart(14)}  ${s.rttMs.toFixed(2).padStart(7)}  ${String(s.rtoMs).padStart(6)}  ${String(s.retransmissions).padStart(13)}  ${String(s.timeouts).padStart(14)}  ${String(s.datagramsSent).padStart(14)}`,
    );
  }
  const { sent, elapsedMs } = await sending;
  const total = await server.call('count');
  console.log(`sent ${sent} messages in ${elapsedMs.toFixed(0)} ms; ${total.count} delivered so far, ${(total.bytes / elapsedMs / 1000).toFixed(1)} MB/s on average`);
  if (marked?.end && marked.end.at > marked.at) {
    const { end } = marked;
    const sorted = windows.sort((a, b) => a - b);
    console.log(
      `from 500 ms to the end: ${((end.bytes - marked.bytes) / (end.at - marked.at) / 1000).toFixed(1)} MB/s delivered, median cwnd ${sorted[sorted.length >> 1]} B, ` +
        `${end.stats.retransmissions - marked.stats.retransmissions} frames resent, ${end.stats.timeouts - marked.stats.timeouts} timer expiries, ` +
        `${end.stats.datagramsSent - marked.stats.datagramsSent} datagrams sent`,
    );
  }
  if (proxy) console.log('proxy:', JSON.stringify(await proxy.counts()));
} finally {
  await client?.stop();
  await proxy?.stop();
  await server.stop();
}
