/**
 * What `hybridwire bench` prints: the machine it ran on, where the server was, and a summary table
 * per case (or, with --json, the numbers rounded for one JSON object).
 */
import { readFileSync } from 'node:fs';
import os from 'node:os';
import type { Result, RttResult, TputResult, UdpResult } from './bench-cases.js';
import type { BenchSettings, CaseName } from './bench-options.js';
import { fixed, grouped, table } from './bench-progress.js';
import type { Target } from './bench-target.js';

export interface Run {
  case: CaseName;
  results: Result;
}

/** The unit-less numbers of a result, rounded for JSON (a few significant decimals). */
export function rounded<T extends object>(result: T): T {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(result)) {
    out[key] = typeof value === 'number' && !Number.isInteger(value) ? Number(value.toFixed(3)) : value;
  }
  return out as T;
}

export function packageVersion(): string | undefined {
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

export function describeTarget(target: Target): string {
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

export function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

export function summary(run: Run, settings: BenchSettings): string {
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
