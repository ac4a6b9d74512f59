/**
 * The cases of `hybridwire bench` (tput, rtt, udp, udp-reliable): each drives hybridwire clients
 * through the shared load loops (bench-load.ts) against a target and returns what it measured.
 */
import type { Client } from '../api/client.js';
import { HybridwireError } from '../errors.js';
import type { SendOptions } from '../session/connection.js';
import { Histogram } from './bench-histogram.js';
import { Interrupt, Phase, drainStats, drained, payloadOf, pump, roundTrips, type LoadSender, type Requester, type StopReason } from './bench-load.js';
import type { BenchSettings, CaseName } from './bench-options.js';
import type { Progress } from './bench-progress.js';
import { udpReady, type Target } from './bench-target.js';

/** Client-side high-water mark (the library's default): past it send() returns false. */
const HIGH_WATER_MARK = 1024 * 1024;
/** Longest wait for 'drain' before the run is declared stalled. */
const DRAIN_TIMEOUT_MS = 15_000;
/** TCP senders yield to the event loop this often, as an application's loop does (and the server may share the loop). */
const TCP_YIELD_EVERY = 8192;
/** UDP has no backpressure of its own: yield after this many messages so that datagrams go out. */
const UDP_YIELD_EVERY = 64;
const REQUEST_TIMEOUT_MS = 10_000;

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
export type Result = TputResult | RttResult | UdpResult | Failed | Unavailable;

export interface CaseContext {
  target: Target;
  clients: Client[];
  settings: BenchSettings;
  interrupt: Interrupt;
  progress: Progress;
}

function perSecond(count: number, ms: number): number {
  return ms > 0 ? (count * 1000) / ms : 0;
}

/**
 * Waits until the client's send queue is below the high-water mark: on 'drain', or (as a safety
 * net, counted in drainStats.missedDrains) when polling finds the queue short without a 'drain'.
 */
function clientDrained(client: Client): Promise<boolean> {
  return drained(client, {
    below: () => client.queuedBytes < HIGH_WATER_MARK,
    timeoutMs: DRAIN_TIMEOUT_MS,
    describe: () => `${client.queuedBytes} bytes still queued: the server stopped reading`,
  });
}

function sender(client: Client, type: string, options?: SendOptions): LoadSender {
  return {
    send: options ? (payload) => client.send(type, payload, options) : (payload) => client.send(type, payload),
    drained: () => clientDrained(client),
  };
}

function echoRequester(client: Client): Requester {
  const options = { timeoutMs: REQUEST_TIMEOUT_MS };
  return (onReply, onError) => (payload) => {
    client.request('echo', payload, options).then(onReply, onError);
  };
}

/**
 * After the last message of every client, one `ping` request each: TCP is ordered, so once every
 * reply is in, the server has handled everything sent before it.
 */
async function barrier(clients: Client[], timeoutMs = 30_000): Promise<void> {
  await Promise.all(clients.map((client) => client.request('ping', undefined, { timeoutMs })));
}

/** Polls `read` until the value has not changed for `quietMs` (or `maxMs` passed); returns it and when it last changed. */
async function untilQuiet(read: () => Promise<number>, quietMs: number, maxMs: number, target?: number): Promise<{ value: number; changedAt: number }> {
  const started = performance.now();
  let value = await read();
  let changedAt = performance.now();
  while (performance.now() - started < maxMs) {
    if (target !== undefined && value >= target) break;
    await new Promise((resolve) => setTimeout(resolve, 20));
    const next = await read();
    if (next !== value) {
      value = next;
      changedAt = performance.now();
    } else if (performance.now() - changedAt >= quietMs) break;
  }
  return { value, changedAt };
}

/** The warm-up of the one-way cases (none with --warmup-ms 0): returns how many messages it sent. */
async function warmUp(senders: LoadSender[], payload: Uint8Array, yieldEvery: number, { settings, interrupt, progress }: CaseContext): Promise<number> {
  if (settings.warmupMs === 0) return 0;
  progress.status('warming up');
  const warm = new Phase(settings.warmupMs, settings.messages, interrupt);
  const counts = await Promise.all(senders.map((each) => pump(each, payload, warm, yieldEvery)));
  return counts.reduce((sum, count) => sum + count, 0);
}

/**
 * The measured phase of the one-way cases, its progress shown from `received()`; `settle` runs
 * before the progress stops. Returns how many messages were sent.
 */
async function measuredPump(
  senders: LoadSender[],
  payload: Uint8Array,
  yieldEvery: number,
  phase: Phase,
  progress: Progress,
  received: () => Promise<number>,
  settle?: () => Promise<void>,
): Promise<number> {
  progress.start(async () => ({ fraction: phase.fraction(), count: await received() }));
  try {
    const counts = await Promise.all(senders.map((each) => pump(each, payload, phase, yieldEvery)));
    await settle?.();
    return counts.reduce((sum, count) => sum + count, 0);
  } finally {
    await progress.stop();
  }
}

async function runTput(context: CaseContext): Promise<TputResult> {
  const { target, clients, settings, interrupt, progress } = context;
  const payload = payloadOf(settings.size);
  const senders = clients.map((client) => sender(client, target.sinkType));
  await warmUp(senders, payload, TCP_YIELD_EVERY, context);
  await barrier(clients);
  const drainWaitsBefore = drainStats.waits;
  const missedDrainsBefore = drainStats.missedDrains;
  const before = await target.count('tcp');
  const phase = new Phase(settings.durationMs, settings.messages, interrupt);
  const sent = await measuredPump(senders, payload, TCP_YIELD_EVERY, phase, progress, async () => (await target.count('tcp')) - before, () => barrier(clients));
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
  const requesters = clients.map(echoRequester);
  if (settings.warmupMs > 0) {
    progress.status('warming up');
    const warm = new Phase(settings.warmupMs, settings.messages, interrupt);
    await Promise.all(requesters.map((requester) => roundTrips(requester, payload, settings.inFlight, warm, () => {})));
  }
  const histogram = new Histogram();
  const record = (_startedAt: number, ms: number) => histogram.recordMs(ms);
  const phase = new Phase(settings.durationMs, settings.messages, interrupt);
  progress.start(() => ({ fraction: phase.fraction(), count: histogram.count }));
  try {
    await Promise.all(requesters.map((requester) => roundTrips(requester, payload, settings.inFlight, phase, record)));
  } finally {
    await progress.stop();
  }
  const elapsedMs = performance.now() - phase.startedAt;
  progress.finish({ fraction: phase.fraction(), count: histogram.count, rate: perSecond(histogram.count, elapsedMs) });
  const latency = histogram.summary();
  return {
    status: 'ok',
    stoppedBy: phase.stoppedBy ?? 'duration',
    warnings: [],
    requests: latency.count,
    elapsedMs,
    requestsPerSecond: perSecond(latency.count, elapsedMs),
    p50Us: latency.p50Us,
    p99Us: latency.p99Us,
    p999Us: latency.p999Us,
    minUs: latency.minUs,
    meanUs: latency.meanUs,
    maxUs: latency.maxUs,
  };
}

async function runUdp(context: CaseContext, reliable: boolean): Promise<UdpResult | Unavailable> {
  const { target, clients, settings, interrupt, progress } = context;
  const name = reliable ? 'reliable UDP' : 'UDP';
  if (!(await udpReady(clients))) {
    return { status: 'unavailable', reason: `the server did not answer on UDP within 3 s (no UDP port, or it is unreachable from here)` };
  }
  const payload = payloadOf(settings.size);
  const type = target.sinkType;
  const options: SendOptions = reliable ? { transport: 'udp', reliable: true } : { transport: 'udp' };
  const senders = clients.map((client) => sender(client, type, options));
  const start = await target.count('udp');
  let warmSent = 0;
  try {
    // Probe: a server or build without reliable UDP throws HW_ERR_UDP_UNAVAILABLE.
    clients[0]!.send(type, payload, options);
    warmSent++;
  } catch (error) {
    if ((error as HybridwireError).code === 'HW_ERR_UDP_UNAVAILABLE') return { status: 'unavailable', reason: `${(error as Error).message} (HW_ERR_UDP_UNAVAILABLE)` };
    throw error;
  }
  warmSent += await warmUp(senders, payload, UDP_YIELD_EVERY, context);
  // Let the warm-up's datagrams land (or be lost) before counting.
  await untilQuiet(() => target.count('udp'), 200, reliable ? 5000 : 2000, reliable ? start + warmSent : undefined);
  const before = await target.count('udp');
  const phase = new Phase(settings.durationMs, settings.messages, interrupt);
  const sent = await measuredPump(senders, payload, UDP_YIELD_EVERY, phase, progress, async () => (await target.count('udp')) - before);
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

export function runCase(name: CaseName, context: CaseContext): Promise<Result> {
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
