import { fileURLToPath } from 'node:url';

// Every system the runner can measure. TCP systems take the throughput, round-trip and
// concurrent-client cases (or only the kinds they list); UDP systems take the UDP cases. Each
// child process loads only the module of the system it runs.
export const systems = [
  { name: 'net-write', transport: 'tcp', module: './net.mjs', export: 'netWrite' },
  { name: 'net-coalesced', transport: 'tcp', module: './net.mjs', export: 'netCoalesced' },
  // A receiver that counts without a call per message has nothing to answer round trips with.
  { name: 'net-parse-only', transport: 'tcp', kinds: ['throughput'], module: './net.mjs', export: 'netParseOnly' },
  { name: 'ws', transport: 'tcp', module: './ws.mjs', export: 'ws' },
  { name: 'wss', transport: 'tcp', module: './ws.mjs', export: 'wss' },
  { name: 'zeromq', transport: 'tcp', module: './zeromq.mjs', export: 'zeromq' },
  { name: 'hybridwire', transport: 'tcp', module: './hybridwire.mjs', export: 'hybridwire' },
  // Over a Unix domain socket (not on Windows, whose named pipes it does not measure).
  { name: 'hybridwire-unix', transport: 'tcp', module: './hybridwire.mjs', export: 'hybridwireUnix' },
  // Metrics on and scraped: its ratio to hybridwire is the cost of metrics.
  { name: 'hybridwire-metrics', transport: 'tcp', module: './hybridwire.mjs', export: 'hybridwireMetrics' },
  { name: 'hybridwire-tls', transport: 'tcp', module: './hybridwire.mjs', export: 'hybridwireTls' },
  { name: 'dgram', transport: 'udp', module: './dgram.mjs', export: 'dgramPlain' },
  { name: 'dgram-coalesced', transport: 'udp', module: './dgram.mjs', export: 'dgramCoalesced' },
  { name: 'hybridwire-udp', transport: 'udp', module: './hybridwire.mjs', export: 'hybridwireUdp' },
  { name: 'hybridwire-udp-reliable', transport: 'udp', module: './hybridwire.mjs', export: 'hybridwireUdpReliable' },
  { name: 'hybridwire-udp-reliable-1200', transport: 'udp', module: './hybridwire.mjs', export: 'hybridwireUdpReliable1200' },
  // The same on TLS sessions, every datagram sealed (bench/e2e/reliable-udp.mjs's seal-* cases).
  { name: 'hybridwire-udp-sealed', transport: 'udp-sealed', module: './hybridwire.mjs', export: 'hybridwireUdpSealed' },
  { name: 'hybridwire-udp-reliable-sealed', transport: 'udp-sealed', module: './hybridwire.mjs', export: 'hybridwireUdpReliableSealed' },
  { name: 'hybridwire-udp-reliable-1200-sealed', transport: 'udp-sealed', module: './hybridwire.mjs', export: 'hybridwireUdpReliable1200Sealed' },
  // Round trips only (bench/e2e/reliable-udp.mjs): its own transport name keeps run.mjs's UDP cases off it.
  { name: 'hybridwire-udp-reliable-pp', transport: 'udp-pingpong', module: './hybridwire.mjs', export: 'hybridwireUdpReliablePingPong' },
];

// `hybridwire@LABEL`: hybridwire over TCP from another build, bench/.cache/builds/LABEL/ (its dist/,
// build/Release/hybridwire.node and package.json), so that two builds are measured in the same run,
// interleaved. The measuring code stays this tree's.
const OTHER_BUILD = /^hybridwire@([A-Za-z0-9._-]+)$/;

/** The dist/index.js of the build a `hybridwire@LABEL` system loads, or undefined for other names. */
export function otherBuild(name) {
  const label = OTHER_BUILD.exec(name)?.[1];
  return label === undefined ? undefined : fileURLToPath(new URL(`../../.cache/builds/${label}/dist/index.js`, import.meta.url));
}

export function systemInfo(name) {
  if (otherBuild(name)) return { name, transport: 'tcp', module: './hybridwire.mjs', export: 'hybridwire' };
  const info = systems.find((candidate) => candidate.name === name);
  if (!info) throw new Error(`unknown system '${name}' (known: ${systems.map((s) => s.name).join(', ')})`);
  return info;
}

/** Imports a system's adapter; rejects with the reason when it cannot run here. */
export async function loadSystem(name) {
  const info = systemInfo(name);
  const build = otherBuild(name);
  if (build) process.env.HYBRIDWIRE_DIST = build;
  const module = await import(info.module);
  const system = module[info.export];
  if (system.available) {
    const reason = await system.available();
    if (reason) throw new Error(reason);
  }
  return system;
}
