// One measurement: a fresh server process and fresh client process(es) for one system and one
// case, torn down afterwards whatever happens. Every wait is bounded.
import { fileURLToPath } from 'node:url';
import { Child } from './harness.mjs';

const here = (file) => fileURLToPath(new URL(file, import.meta.url));
const SERVER = here('./server-process.mjs');
const CLIENT = here('./client-process.mjs');
const MAX_COUNT = 50_000_000;
const MIN_COUNT = 1_000;

/** Splits `connections` over at most `processes` client processes. */
function spread(connections, processes) {
  const count = Math.max(1, Math.min(connections, processes));
  const shares = [];
  for (let i = 0; i < count; i++) shares.push(Math.floor(connections / count) + (i < connections % count ? 1 : 0));
  return shares;
}

let measurementCount = 0;

/** node --cpu-prof arguments for a process of the measurement `tag`, when the run asked for profiles. */
function profileArgs(cpuProf, tag, role) {
  return cpuProf ? ['--cpu-prof', `--cpu-prof-dir=${cpuProf}`, `--cpu-prof-name=${tag}.${role}.cpuprofile`] : [];
}

async function withProcesses(systemName, { mode, stampEach, connections, clientProcesses, host, cpuProf, caseName }, body) {
  const tag = `${caseName}.${systemName}.${++measurementCount}`;
  const server = new Child(SERVER, { name: `${systemName} server`, execArgv: profileArgs(cpuProf, tag, 'server') });
  const clients = [];
  try {
    const { address } = await server.call('start', { system: systemName, host, mode, stampEach }, 15_000);
    for (const [index, share] of spread(connections, clientProcesses).entries()) {
      const child = new Child(CLIENT, { name: `${systemName} client`, execArgv: profileArgs(cpuProf, tag, `client${index}`) });
      clients.push(child);
      await child.call('connect', { system: systemName, address, connections: share, mode }, 30_000);
    }
    return await body(server, clients);
  } finally {
    await Promise.all(clients.map((child) => child.stop()));
    await server.stop();
  }
}

async function sendAll(clients, args, timeoutMs) {
  const results = await Promise.all(clients.map((child) => child.call('send', args, timeoutMs)));
  return results.reduce((sum, result) => sum + result.sent, 0);
}

/** One-way TCP throughput counted at the receiver: a timed warm-up sizes a fixed-count run. */
export function throughput(systemName, benchCase, settings) {
  const connections = benchCase.clients;
  return withProcesses(systemName, { ...settings, caseName: benchCase.name, mode: 'sink', stampEach: false, connections }, async (server, clients) => {
    const callTimeout = settings.measureMs * 4 + 20_000;
    await server.call('reset');
    const yieldEvery = settings.yieldEvery;
    const warmSent = await sendAll(clients, { size: benchCase.size, countPerConnection: MAX_COUNT, maxMs: settings.warmupMs, yieldEvery }, callTimeout);
    const warm = await server.call('expect', { target: warmSent, quietMs: 1000, timeoutMs: 15_000 }, 20_000);
    if (!warm.complete) throw new Error(`warm-up: ${warm.count} of ${warmSent} messages arrived`);
    const rate = warm.elapsedMs > 0 ? (warm.count * 1000) / warm.elapsedMs : MIN_COUNT;
    const total = Math.max(MIN_COUNT, Math.min(MAX_COUNT, Math.round((rate * settings.measureMs) / 1000)));
    const countPerConnection = Math.ceil(total / connections);
    const target = countPerConnection * connections;

    await server.call('reset');
    const cpuBefore = await server.call('cpu');
    const expecting = server.call('expect', { target, quietMs: 1000, timeoutMs: settings.measureMs * 4 + 10_000 }, callTimeout);
    const sent = await sendAll(clients, { size: benchCase.size, countPerConnection, maxMs: settings.measureMs * 3, yieldEvery }, callTimeout);
    const got = await expecting;
    const cpuAfter = await server.call('cpu');
    if (got.count !== sent) throw new Error(`${got.count} of ${sent} messages arrived`);
    return {
      // The receiving process's CPU time per message over the run (its quiet second after included).
      serverCpuNsPerMessage: ((cpuAfter - cpuBefore) * 1000) / got.count,
      value: (got.count * 1000) / got.elapsedMs,
      messagesPerSecond: (got.count * 1000) / got.elapsedMs,
      megabytesPerSecond: got.bytes / got.elapsedMs / 1000,
      count: got.count,
      elapsedMs: got.elapsedMs,
    };
  });
}

/** Round trips on one connection with `inflight` requests outstanding. */
export function roundTrip(systemName, benchCase, settings) {
  return withProcesses(systemName, { ...settings, caseName: benchCase.name, mode: 'echo', stampEach: false, connections: 1 }, async (server, [client]) => {
    const result = await client.call(
      'rtt',
      {
        size: benchCase.size,
        inflight: benchCase.inflight,
        count: settings.rttCount,
        maxMs: settings.measureMs,
        warmupCount: settings.rttWarmupCount,
        warmupMs: settings.warmupMs,
      },
      settings.measureMs + settings.warmupMs + 30_000,
    );
    return { value: result.p50Us, ...result };
  });
}

/** UDP one-way: the sender sends for measureMs; the receiver counts what arrives. */
export function udp(systemName, benchCase, settings) {
  return withProcesses(systemName, { ...settings, caseName: benchCase.name, mode: 'sink', stampEach: true, connections: 1 }, async (server, clients) => {
    const callTimeout = settings.measureMs * 3 + 20_000;
    await server.call('reset');
    const warmSent = await sendAll(clients, { size: benchCase.size, countPerConnection: MAX_COUNT, maxMs: settings.warmupMs }, callTimeout);
    await server.call('expect', { target: warmSent, quietMs: 200, timeoutMs: 5_000 }, 10_000);

    await server.call('reset');
    const began = performance.now();
    const sent = await sendAll(clients, { size: benchCase.size, countPerConnection: MAX_COUNT, maxMs: settings.measureMs }, callTimeout);
    const sendMs = performance.now() - began;
    const got = await server.call('expect', { target: sent, quietMs: 300, timeoutMs: 10_000 }, 15_000);
    const perSecond = got.elapsedMs > 0 ? (got.count * 1000) / got.elapsedMs : 0;
    return {
      value: perSecond,
      messagesPerSecond: perSecond,
      megabytesPerSecond: got.elapsedMs > 0 ? got.bytes / got.elapsedMs / 1000 : 0,
      sent,
      sentPerSecond: (sent * 1000) / sendMs,
      received: got.count,
      lossPercent: sent > 0 ? (100 * (sent - got.count)) / sent : 0,
    };
  });
}

export const measures = { throughput, rtt: roundTrip, udp };
