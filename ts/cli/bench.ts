/**
 * `hybridwire bench`: one benchmark case against a server in this process, a server forked into a
 * child process (--separate), or a running server (--tcp-port, e.g. `hybridwire serve`). Shows
 * progress while it runs and prints a summary table, or one JSON object with --json.
 */
import { readFileSync } from 'node:fs';
import os from 'node:os';
import { parseArgs } from 'node:util';
import type { Client } from '../api/client.js';
import { HybridwireError } from '../errors.js';
import {
  Histogram,
  Interrupt,
  Phase,
  barrier,
  drainStats,
  payloadOf,
  pumpTcp,
  pumpUdp,
  roundTrips,
  untilQuiet,
  type StopReason,
} from './bench-measure.js';
import { Progress, fixed, grouped, table, type ProgressMode } from './bench-progress.js';
import { closeClients, connectClients, inProcessTarget, remoteTarget, separateTarget, udpReady, type Target } from './bench-target.js';

export const CASES = ['tput', 'rtt', 'udp', 'udp-reliable'] as const;
export type CaseName = (typeof CASES)[number];

const DESCRIPTIONS: Record<CaseName, string> = {
  tput: 'one-way messages over TCP, as fast as backpressure allows, counted at the receiver',
  rtt: 'request/response round trips (echo) with --in-flight requests outstanding per client',
  udp: 'one-way UDP datagrams, fire and forget: sent, received, loss',
  'udp-reliable': "one-way reliable UDP (send(..., { transport: 'udp', reliable: true })), counted at the receiver",
};

const MAX_MESSAGES = 1_000_000_000;
const MAX_DURATION_MS = 3_600_000;
const MAX_TCP_SIZE = 8 * 1024 * 1024;
/** One UDP message travels in one datagram: token, frame header, message prefix and body. */
const MAX_UDP_SIZE = 65_000;
const MAX_CLIENTS = 1000;
const MAX_IN_FLIGHT = 4096;
const REQUEST_TIMEOUT_MS = 10_000;

export const BENCH_USAGE = `usage: hybridwire bench [--case NAME] [--host H --tcp-port N [--udp-port N]] [--separate]
                       [--messages N] [--duration-ms MS] [--warmup-ms MS] [--size BYTES]
                       [--clients N] [--in-flight N] [--json]

cases (--case, default tput):
  tput          ${DESCRIPTIONS.tput}
  rtt           ${DESCRIPTIONS.rtt}
  udp           ${DESCRIPTIONS.udp}
  udp-reliable  ${DESCRIPTIONS['udp-reliable']}
  all           each of the above in turn

where:
  (default)     a server in this process on 127.0.0.1, port 0: server and clients share one process
  --separate    a server in a child process of its own (forked from this command)
  --tcp-port N  a running server at --host (default 127.0.0.1), e.g. \`hybridwire serve\`: rtt uses its
                echo; tput and udp send 'ping' messages and count them with its stats (which include
                any other traffic it gets), so it needs the stats built-in (a library server:
                builtins: true). --udp-port defaults to the one the server announces.

options:
  --messages N      stop after N messages (or requests) in all, if the duration has not run out first
  --duration-ms MS  measurement time, default 3000 (after a warm-up of --warmup-ms, default a tenth of it, at most 1000)
  --size BYTES      payload size, default 64
  --clients N       connections, default 1
  --in-flight N     rtt: requests outstanding per connection, default 1
  --json            print only one JSON object on stdout (progress goes to stderr in a terminal)

exit status: 0 done; 1 a case failed, or the case asked for is not available; 2 bad options;
130 interrupted (the first Ctrl-C ends the run early and still prints what was measured)
`;

export interface BenchSettings {
  requested: CaseName | 'all';
  cases: CaseName[];
  host: string;
  tcpPort: number | undefined;
  udpPort: number | undefined;
  separate: boolean;
  messages: number;
  messagesGiven: boolean;
  durationMs: number;
  warmupMs: number;
  size: number;
  clients: number;
  inFlight: number;
  json: boolean;
}

/** A bad command line: exit status 2. */
export class UsageError extends Error {}

function integer(values: Record<string, unknown>, flag: string, min: number, max: number, fallback: number): number {
  const value = values[flag] as string | undefined;
  if (value === undefined) return fallback;
  const number = /^\d{1,16}$/.test(value) ? Number(value) : NaN;
  if (!Number.isSafeInteger(number) || number < min || number > max) {
    throw new UsageError(`--${flag} must be an integer from ${min} to ${max}, got '${value}'`);
  }
  return number;
}

/** Parses and validates the options of `hybridwire bench`; 'help' for --help. */
export function parseBenchArgs(argv: string[]): BenchSettings | 'help' {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      strict: true,
      allowPositionals: false,
      options: {
        case: { type: 'string' },
        host: { type: 'string' },
        'tcp-port': { type: 'string' },
        'udp-port': { type: 'string' },
        separate: { type: 'boolean' },
        messages: { type: 'string' },
        'duration-ms': { type: 'string' },
        'warmup-ms': { type: 'string' },
        size: { type: 'string' },
        clients: { type: 'string' },
        'in-flight': { type: 'string' },
        json: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
    });
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  const values = parsed.values as Record<string, unknown>;
  if (values.help) return 'help';
  const name = (values.case as string | undefined) ?? 'tput';
  if (name !== 'all' && !(CASES as readonly string[]).includes(name)) {
    throw new UsageError(`--case must be one of ${[...CASES, 'all'].join(', ')}, got '${name}'`);
  }
  const requested = name as CaseName | 'all';
  const cases = requested === 'all' ? [...CASES] : [requested];
  const host = values.host as string | undefined;
  if (host !== undefined && host.trim() === '') throw new UsageError(`--host must name a host, got '${host}'`);
  const tcpPort = values['tcp-port'] === undefined ? undefined : integer(values, 'tcp-port', 1, 65535, 0);
  const udpPort = values['udp-port'] === undefined ? undefined : integer(values, 'udp-port', 1, 65535, 0);
  if (udpPort !== undefined && tcpPort === undefined) throw new UsageError('--udp-port needs --tcp-port (a running server); without it the bench starts its own');
  const separate = values.separate === true;
  if (separate && tcpPort !== undefined) throw new UsageError('--separate starts a server of its own; it cannot be combined with --tcp-port');
  const durationMs = integer(values, 'duration-ms', 1, MAX_DURATION_MS, 3000);
  const warmupMs = integer(values, 'warmup-ms', 0, MAX_DURATION_MS, Math.min(1000, Math.round(durationMs / 10)));
  const size = integer(values, 'size', 0, MAX_TCP_SIZE, 64);
  if (size > MAX_UDP_SIZE && cases.some((c) => c === 'udp' || c === 'udp-reliable')) {
    throw new UsageError(`--size must be at most ${MAX_UDP_SIZE} for the udp cases (one message per datagram), got '${values.size as string}'`);
  }
  return {
    requested,
    cases,
    host: host ?? '127.0.0.1',
    tcpPort,
    udpPort,
    separate,
    messages: integer(values, 'messages', 1, MAX_MESSAGES, MAX_MESSAGES),
    messagesGiven: values.messages !== undefined,
    durationMs,
    warmupMs,
    size,
    clients: integer(values, 'clients', 1, MAX_CLIENTS, 1),
    inFlight: integer(values, 'in-flight', 1, MAX_IN_FLIGHT, 1),
    json: values.json === true,
  };
}

// ---------------------------------------------------------------------------------------------
// Results

interface Failed {
  status: 'failed';
  error: string;
}
interface Unavailable {
  status: 'unavailable';
  reason: string;
}
interface Measured {
  status: 'ok';
  stoppedBy: StopReason;
  warnings: string[];
}
export interface TputResult extends Measured {
  sent: number;
  received: number;
  elapsedMs: number;
  messagesPerSecond: number;
  megabytesPerSecond: number;
  countedBy: Target['countedBy'];
  drainWaits: number;
}
export interface RttResult extends Measured {
  requests: number;
  elapsedMs: number;
  requestsPerSecond: number;
  p50Us: number;
  p99Us: number;
  p999Us: number;
  minUs: number;
  meanUs: number;
  maxUs: number;
}
export interface UdpResult extends Measured {
  sent: number;
  received: number;
  lossPercent: number;
  sendElapsedMs: number;
  receiveElapsedMs: number;
  sentPerSecond: number;
  messagesPerSecond: number;
  megabytesPerSecond: number;
  countedBy: Target['countedBy'];
}
type Result = TputResult | RttResult | UdpResult | Failed | Unavailable;

interface Run {
  case: CaseName;
  results: Result;
}

/** The unit-less numbers of a result, rounded for JSON (a few significant decimals). */
function rounded<T extends object>(result: T): T {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(result)) {
    out[key] = typeof value === 'number' && !Number.isInteger(value) ? Number(value.toFixed(3)) : value;
  }
  return out as T;
}

// ---------------------------------------------------------------------------------------------
// Cases

interface CaseContext {
  target: Target;
  clients: Client[];
  settings: BenchSettings;
  interrupt: Interrupt;
  progress: Progress;
}

function perSecond(count: number, ms: number): number {
  return ms > 0 ? (count * 1000) / ms : 0;
}

async function runTput({ target, clients, settings, interrupt, progress }: CaseContext): Promise<TputResult> {
  const payload = payloadOf(settings.size);
  const type = target.sinkType;
  if (settings.warmupMs > 0) {
    progress.status('warming up');
    const warm = new Phase(settings.warmupMs, settings.messages, interrupt);
    await Promise.all(clients.map((client) => pumpTcp(client, type, payload, warm)));
    await barrier(clients);
  }
  const drainWaitsBefore = drainStats.waits;
  const missedDrainsBefore = drainStats.missedDrains;
  const before = await target.count('tcp');
  const phase = new Phase(settings.durationMs, settings.messages, interrupt);
  progress.start(async () => ({ fraction: phase.fraction(), count: (await target.count('tcp')) - before }));
  let sent = 0;
  try {
    for (const count of await Promise.all(clients.map((client) => pumpTcp(client, type, payload, phase)))) sent += count;
    await barrier(clients);
  } finally {
    await progress.stop();
  }
  const elapsedMs = performance.now() - phase.startedAt;
  // With server stats, the barrier's pings were counted too.
  const received = (await target.count('tcp')) - before - (target.countedBy === 'server-stats' ? clients.length : 0);
  progress.finish({ fraction: phase.fraction(), count: received, rate: perSecond(received, elapsedMs) });
  const warnings: string[] = [];
  const missedDrains = drainStats.missedDrains - missedDrainsBefore;
  if (missedDrains > 0) warnings.push(`${missedDrains} time(s) the send queue fell below its high-water mark without a 'drain' event (found by polling)`);
  if (received !== sent) {
    // Our own receiver must have every message TCP carried: anything else is a bug, not a figure.
    if (target.countedBy === 'receiver') throw new Error(`the receiver counted ${received} messages, but ${sent} were sent over TCP`);
    warnings.push(`the server counted ${received} messages, but ${sent} were sent: other clients of that server?`);
  }
  return {
    status: 'ok',
    stoppedBy: phase.stoppedBy ?? 'duration',
    warnings,
    sent,
    received,
    elapsedMs,
    messagesPerSecond: perSecond(received, elapsedMs),
    megabytesPerSecond: perSecond(received * settings.size, elapsedMs) / 1e6,
    countedBy: target.countedBy,
    drainWaits: drainStats.waits - drainWaitsBefore,
  };
}

async function runRtt({ clients, settings, interrupt, progress }: CaseContext): Promise<RttResult> {
  const payload = payloadOf(settings.size);
  const reply = await clients[0]!.request('echo', payload, { timeoutMs: REQUEST_TIMEOUT_MS });
  if (!(reply instanceof Uint8Array) || Buffer.compare(Buffer.from(reply.buffer, reply.byteOffset, reply.byteLength), Buffer.from(payload)) !== 0) {
    throw new Error(`the server's echo did not return the ${settings.size} bytes sent`);
  }
  if (settings.warmupMs > 0) {
    progress.status('warming up');
    const warm = new Phase(settings.warmupMs, settings.messages, interrupt);
    await Promise.all(clients.map((client) => roundTrips(client, payload, settings.inFlight, warm, undefined, REQUEST_TIMEOUT_MS)));
  }
  const histogram = new Histogram();
  const phase = new Phase(settings.durationMs, settings.messages, interrupt);
  progress.start(() => ({ fraction: phase.fraction(), count: histogram.count }));
  try {
    await Promise.all(clients.map((client) => roundTrips(client, payload, settings.inFlight, phase, histogram, REQUEST_TIMEOUT_MS)));
  } finally {
    await progress.stop();
  }
  const elapsedMs = performance.now() - phase.startedAt;
  progress.finish({ fraction: phase.fraction(), count: histogram.count, rate: perSecond(histogram.count, elapsedMs) });
  return {
    status: 'ok',
    stoppedBy: phase.stoppedBy ?? 'duration',
    warnings: [],
    requests: histogram.count,
    elapsedMs,
    requestsPerSecond: perSecond(histogram.count, elapsedMs),
    p50Us: histogram.percentileUs(0.5),
    p99Us: histogram.percentileUs(0.99),
    p999Us: histogram.percentileUs(0.999),
    minUs: histogram.minUs,
    meanUs: histogram.meanUs,
    maxUs: histogram.maxUs,
  };
}

async function runUdp({ target, clients, settings, interrupt, progress }: CaseContext, reliable: boolean): Promise<UdpResult | Unavailable> {
  const name = reliable ? 'reliable UDP' : 'UDP';
  if (!(await udpReady(clients))) {
    return { status: 'unavailable', reason: `the server did not answer on UDP within 3 s (no UDP port, or it is unreachable from here)` };
  }
  const payload = payloadOf(settings.size);
  const type = target.sinkType;
  const options = reliable ? { transport: 'udp' as const, reliable: true } : { transport: 'udp' as const };
  const start = await target.count('udp');
  let warmSent = 0;
  try {
    // Probe: today the API throws HW_ERR_UDP_UNAVAILABLE for reliable sends.
    clients[0]!.send(type, payload, options);
    warmSent++;
  } catch (error) {
    if ((error as HybridwireError).code === 'HW_ERR_UDP_UNAVAILABLE') return { status: 'unavailable', reason: `${(error as Error).message} (HW_ERR_UDP_UNAVAILABLE)` };
    throw error;
  }
  if (settings.warmupMs > 0) {
    progress.status('warming up');
    const warm = new Phase(settings.warmupMs, settings.messages, interrupt);
    for (const count of await Promise.all(clients.map((client) => pumpUdp(client, type, payload, options, warm)))) warmSent += count;
  }
  // Let the warm-up's datagrams land (or be lost) before counting.
  await untilQuiet(() => target.count('udp'), 200, reliable ? 5000 : 2000, reliable ? start + warmSent : undefined);
  const before = await target.count('udp');
  const phase = new Phase(settings.durationMs, settings.messages, interrupt);
  progress.start(async () => ({ fraction: phase.fraction(), count: (await target.count('udp')) - before }));
  let sent = 0;
  try {
    for (const count of await Promise.all(clients.map((client) => pumpUdp(client, type, payload, options, phase)))) sent += count;
  } finally {
    await progress.stop();
  }
  const sendElapsedMs = performance.now() - phase.startedAt;
  const quiet = await untilQuiet(() => target.count('udp'), reliable ? 1000 : 300, reliable ? 10_000 : 3000, before + sent);
  const received = quiet.value - before;
  const receiveElapsedMs = Math.max(sendElapsedMs, quiet.changedAt - phase.startedAt);
  progress.finish({ fraction: phase.fraction(), count: received, rate: perSecond(received, receiveElapsedMs) });
  const warnings: string[] = [];
  if (received > sent) warnings.push(`the server counted ${received} ${name} messages, but ${sent} were sent: other clients of that server?`);
  if (reliable && received < sent) warnings.push(`reliable UDP delivered ${received} of ${sent} messages`);
  return {
    status: 'ok',
    stoppedBy: phase.stoppedBy ?? 'duration',
    warnings,
    sent,
    received,
    lossPercent: sent > 0 ? (100 * (sent - received)) / sent : 0,
    sendElapsedMs,
    receiveElapsedMs,
    sentPerSecond: perSecond(sent, sendElapsedMs),
    messagesPerSecond: perSecond(received, receiveElapsedMs),
    megabytesPerSecond: perSecond(received * settings.size, receiveElapsedMs) / 1e6,
    countedBy: target.countedBy,
  };
}

function runCase(name: CaseName, context: CaseContext): Promise<Result> {
  switch (name) {
    case 'tput':
      return runTput(context);
    case 'rtt':
      return runRtt(context);
    case 'udp':
      return runUdp(context, false);
    case 'udp-reliable':
      return runUdp(context, true);
  }
}

// ---------------------------------------------------------------------------------------------
// Output

function packageVersion(): string | undefined {
  try {
    return (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version?: string }).version;
  } catch {
    return undefined;
  }
}

export function machine() {
  const cpus = os.cpus();
  return {
    cpu: cpus[0]?.model?.trim() ?? 'unknown',
    cores: cpus.length,
    node: process.version,
    platform: process.platform,
    arch: process.arch,
    osRelease: os.release(),
    totalMemoryBytes: os.totalmem(),
    loadAverage: os.loadavg().map((load) => Number(load.toFixed(2))),
  };
}

function describeTarget(target: Target): string {
  const ports = `TCP ${target.tcpPort}${target.udpPort === undefined ? '' : `, UDP ${target.udpPort}`}`;
  switch (target.where) {
    case 'in-process':
      return `in this process, ${target.host} (${ports}): server and clients share one process and one event loop; --separate forks the server into a process of its own`;
    case 'separate-process':
      return `a child process of its own, ${target.host} (${ports}); clients in this process`;
    case 'remote':
      return `a running server at ${target.host} (${ports}): tput and udp send 'ping' messages and count them from its stats (any other traffic it gets is counted too)`;
  }
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

function summary(run: Run, settings: BenchSettings): string {
  const r = run.results;
  if (r.status === 'unavailable') return `${run.case}: not available: ${r.reason}`;
  if (r.status === 'failed') return `${run.case}: failed: ${r.error}`;
  const common = [run.case, String(settings.clients), `${settings.size} B`];
  let text: string;
  if (run.case === 'tput') {
    const t = r as TputResult;
    text = table(
      ['case', 'clients', 'size', 'sent', 'received', 'seconds', 'msg/s', 'MB/s'],
      [[...common, grouped(t.sent), grouped(t.received), fixed(t.elapsedMs / 1000, 3), grouped(t.messagesPerSecond), fixed(t.megabytesPerSecond, 2)]],
      new Set([1, 3, 4, 5, 6, 7]),
    );
  } else if (run.case === 'rtt') {
    const t = r as RttResult;
    text = table(
      ['case', 'clients', 'size', 'in-flight', 'requests', 'seconds', 'req/s', 'p50 µs', 'p99 µs', 'p99.9 µs', 'max µs'],
      [[...common, String(settings.inFlight), grouped(t.requests), fixed(t.elapsedMs / 1000, 3), grouped(t.requestsPerSecond), fixed(t.p50Us, 1), fixed(t.p99Us, 1), fixed(t.p999Us, 1), fixed(t.maxUs, 1)]],
      new Set([1, 3, 4, 5, 6, 7, 8, 9, 10]),
    );
  } else {
    const t = r as UdpResult;
    text = table(
      ['case', 'clients', 'size', 'sent', 'received', 'loss %', 'seconds', 'sent/s', 'received/s', 'MB/s'],
      [[...common, grouped(t.sent), grouped(t.received), fixed(t.lossPercent, 2), fixed(t.sendElapsedMs / 1000, 3), grouped(t.sentPerSecond), grouped(t.messagesPerSecond), fixed(t.megabytesPerSecond, 2)]],
      new Set([1, 3, 4, 5, 6, 7, 8, 9]),
    );
  }
  const notes: string[] = [];
  if (r.stoppedBy === 'messages') notes.push(`stopped by --messages ${settings.messages} before the duration ran out`);
  if (r.stoppedBy === 'interrupt') notes.push('interrupted (SIGINT): the figures cover the time until then');
  for (const warning of r.warnings) notes.push(`warning: ${warning}`);
  return [text, ...notes.map((note) => `  ${note}`)].join('\n');
}

// ---------------------------------------------------------------------------------------------
// The command

function progressMode(json: boolean): { mode: ProgressMode; stream: NodeJS.WriteStream } {
  if (json) return { mode: process.stderr.isTTY ? 'bar' : 'none', stream: process.stderr };
  return { mode: process.stdout.isTTY ? 'bar' : 'lines', stream: process.stdout };
}

async function openTarget(settings: BenchSettings): Promise<Target> {
  if (settings.tcpPort !== undefined) return remoteTarget(settings.host, settings.tcpPort, settings.udpPort);
  return settings.separate ? separateTarget(settings.host) : inProcessTarget(settings.host);
}

/** `hybridwire bench ...`: returns the exit status. */
export async function bench(argv: string[]): Promise<number> {
  let settings: BenchSettings | 'help';
  try {
    settings = parseBenchArgs(argv);
  } catch (error) {
    process.stderr.write(`hybridwire: ${(error as Error).message}\n(hybridwire bench --help lists the options)\n`);
    return 2;
  }
  if (settings === 'help') {
    process.stdout.write(BENCH_USAGE);
    return 0;
  }
  return runBench(settings, argv);
}

async function runBench(settings: BenchSettings, argv: string[]): Promise<number> {
  const say = (text: string) => {
    if (!settings.json) process.stdout.write(`${text}\n`);
  };
  const startedAt = new Date();
  const info = machine();
  const version = packageVersion();
  const interrupt = new Interrupt();
  const onSigint = () => {
    interrupt.interrupted = true;
  };
  // The first Ctrl-C ends the run early (with results); a second one kills as usual.
  process.once('SIGINT', onSigint);
  const { mode, stream } = progressMode(settings.json);
  const runs: Run[] = [];
  let target: Target | undefined;
  let clients: Client[] = [];
  let fatal: string | undefined;
  try {
    say(`hybridwire bench${version ? ` (hybridwire ${version})` : ''}: ${info.cpu}, ${plural(info.cores, 'core')}, Node ${info.node}, ${info.platform} ${info.arch}, load average ${info.loadAverage.join(' ')}`);
    target = await openTarget(settings);
    say(`server: ${describeTarget(target)}`);
    say(
      `load: ${settings.size}-byte payloads, ${plural(settings.clients, 'client')}` +
        `${settings.cases.includes('rtt') ? `, ${settings.inFlight} in flight per client (rtt)` : ''}` +
        `, ${settings.durationMs} ms per case after a ${settings.warmupMs} ms warm-up` +
        `${settings.messagesGiven ? `, at most ${grouped(settings.messages)} messages` : ''}`,
    );
    clients = await connectClients(target, settings.clients, settings.cases.some((name) => name === 'udp' || name === 'udp-reliable'));
    for (const name of settings.cases) {
      if (interrupt.interrupted) break;
      say('');
      say(`${name}: ${DESCRIPTIONS[name]}`);
      const progress = new Progress(mode, stream, name, name === 'rtt' ? 'req/s' : 'msg/s');
      let results: Result;
      try {
        results = await runCase(name, { target, clients, settings, interrupt, progress });
      } catch (error) {
        results = { status: 'failed', error: (error as Error).message };
      } finally {
        progress.finish(undefined);
      }
      runs.push({ case: name, results });
      say(summary({ case: name, results }, settings));
    }
  } catch (error) {
    fatal = (error as Error).message;
  } finally {
    await closeClients(clients);
    await target?.close();
    process.off('SIGINT', onSigint);
  }

  const failed = fatal !== undefined || runs.some((run) => run.results.status === 'failed' || (run.results.status === 'unavailable' && settings.requested === run.case));
  if (fatal !== undefined) process.stderr.write(`hybridwire: bench: ${fatal}\n`);
  else for (const run of runs) if (run.results.status === 'failed') process.stderr.write(`hybridwire: bench ${run.case} failed: ${(run.results as Failed).error}\n`);
  if (settings.json) {
    const out = {
      tool: 'hybridwire bench',
      version,
      command: ['hybridwire', 'bench', ...argv].join(' '),
      date: startedAt.toISOString(),
      machine: info,
      server: target
        ? { where: target.where, host: target.host, tcpPort: target.tcpPort, udpPort: target.udpPort ?? null, pid: target.pid ?? null, sharedProcess: target.where === 'in-process' }
        : null,
      case: settings.requested,
      parameters: {
        size: settings.size,
        durationMs: settings.durationMs,
        warmupMs: settings.warmupMs,
        messages: settings.messages,
        clients: settings.clients,
        inFlight: settings.inFlight,
      },
      ...(settings.requested === 'all'
        ? { runs: runs.map((run) => ({ case: run.case, results: rounded(run.results) })) }
        : { results: runs[0] ? rounded(runs[0].results) : null }),
      ...(fatal !== undefined ? { error: fatal } : {}),
      interrupted: interrupt.interrupted,
    };
    process.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
  }
  return failed ? 1 : interrupt.interrupted ? 130 : 0;
}

export { benchServerChild } from './bench-target.js';
