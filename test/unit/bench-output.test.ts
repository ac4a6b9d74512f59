/**
 * ts/cli/bench-output.ts: what `hybridwire bench` prints — the summary table of each case, its
 * notes, where the server was, the machine, and the numbers rounded for --json.
 */
import fs from 'node:fs';
import os from 'node:os';
import { describe, expect, it } from 'vitest';
import type { RttResult, TputResult, UdpResult } from '../../ts/cli/bench-cases.js';
import { parseBenchArgs, type BenchSettings } from '../../ts/cli/bench-options.js';
import { describeTarget, machine, packageVersion, plural, rounded, summary } from '../../ts/cli/bench-output.js';
import type { Target } from '../../ts/cli/bench-target.js';

function settings(argv: string[] = []): BenchSettings {
  return parseBenchArgs(argv) as BenchSettings;
}

const TPUT: TputResult = {
  status: 'ok',
  stoppedBy: 'duration',
  warnings: [],
  sent: 1000,
  received: 1000,
  elapsedMs: 500,
  messagesPerSecond: 2000,
  megabytesPerSecond: 0.128,
  countedBy: 'receiver',
  drainWaits: 0,
};

const RTT: RttResult = {
  status: 'ok',
  stoppedBy: 'duration',
  warnings: [],
  requests: 12_345,
  elapsedMs: 1000,
  requestsPerSecond: 12_345,
  p50Us: 40.04,
  p99Us: 120.56,
  p999Us: 1234.5,
  minUs: 20,
  meanUs: 50,
  maxUs: 2000,
};

const UDP: UdpResult = {
  status: 'ok',
  stoppedBy: 'duration',
  warnings: [],
  sent: 2000,
  received: 1990,
  lossPercent: 0.5,
  sendElapsedMs: 250,
  receiveElapsedMs: 260,
  sentPerSecond: 8000,
  messagesPerSecond: 7653.8,
  megabytesPerSecond: 0.49,
  countedBy: 'receiver',
};

function target(where: Target['where'], udpPort: number | undefined): Target {
  return { where, pid: undefined, host: '127.0.0.1', tcpPort: 5000, udpPort, sinkType: 'bench', countedBy: 'receiver', count: () => Promise.resolve(0), close: () => Promise.resolve() };
}

describe('summary', () => {
  it('tput: one aligned table of counts, seconds and rates', () => {
    expect(summary({ case: 'tput', results: TPUT }, settings()).split('\n')).toEqual([
      'case  clients  size   sent  received  seconds  msg/s  MB/s',
      'tput        1  64 B  1,000     1,000    0.500  2,000  0.13',
    ]);
  });

  it('rtt: the requests, in-flight and the latency percentiles in µs', () => {
    expect(summary({ case: 'rtt', results: RTT }, settings(['--case', 'rtt', '--clients', '2', '--in-flight', '8', '--size', '1024'])).split('\n')).toEqual([
      'case  clients  size    in-flight  requests  seconds   req/s  p50 µs  p99 µs  p99.9 µs  max µs',
      'rtt         2  1024 B          8    12,345    1.000  12,345    40.0   120.6    1234.5  2000.0',
    ]);
  });

  it('udp and udp-reliable: sent, received, loss and both rates', () => {
    for (const name of ['udp', 'udp-reliable'] as const) {
      const [header, row] = summary({ case: name, results: UDP }, settings(['--case', name])).split('\n');
      const width = Math.max('case'.length, name.length);
      expect(header).toBe(`${'case'.padEnd(width)}  clients  size   sent  received  loss %  seconds  sent/s  received/s  MB/s`);
      expect(row).toBe(`${name.padEnd(width)}        1  64 B  2,000     1,990    0.50    0.250   8,000       7,654  0.49`);
    }
  });

  it('says why a case stopped early, and lists its warnings, each on an indented line', () => {
    const text = summary({ case: 'tput', results: { ...TPUT, stoppedBy: 'messages', warnings: ['first thing', 'second thing'] } }, settings(['--messages', '1000']));
    expect(text.split('\n').slice(2)).toEqual(['  stopped by --messages 1000 before the duration ran out', '  warning: first thing', '  warning: second thing']);
    const interrupted = summary({ case: 'udp', results: { ...UDP, stoppedBy: 'interrupt' } }, settings(['--case', 'udp']));
    expect(interrupted.split('\n').slice(2)).toEqual(['  interrupted (SIGINT): the figures cover the time until then']);
  });

  it('one line for a case that failed or is not available', () => {
    expect(summary({ case: 'udp-reliable', results: { status: 'unavailable', reason: 'no UDP here' } }, settings())).toBe('udp-reliable: not available: no UDP here');
    expect(summary({ case: 'rtt', results: { status: 'failed', error: 'the server went away' } }, settings())).toBe('rtt: failed: the server went away');
  });

  it('shows a figure that is not finite as -', () => {
    const row = summary({ case: 'tput', results: { ...TPUT, messagesPerSecond: Number.NaN, megabytesPerSecond: Number.POSITIVE_INFINITY } }, settings()).split('\n')[1]!;
    expect(row.split(/\s+/).slice(-2)).toEqual(['-', '-']);
  });
});

describe('describeTarget', () => {
  it('says where the server runs, on which ports, and what that means for the figures', () => {
    expect(describeTarget(target('in-process', 5001))).toBe(
      'in this process, 127.0.0.1 (TCP 5000, UDP 5001): server and clients share one process and one event loop; --separate forks the server into a process of its own',
    );
    expect(describeTarget(target('separate-process', 5001))).toBe('a child process of its own, 127.0.0.1 (TCP 5000, UDP 5001); clients in this process');
    expect(describeTarget(target('remote', undefined))).toBe(
      "a running server at 127.0.0.1 (TCP 5000): tput and udp send 'ping' messages and count them from its stats (any other traffic it gets is counted too)",
    );
  });
});

describe('rounded', () => {
  it('rounds fractional numbers to three decimals and leaves everything else alone', () => {
    const result = rounded({ a: 1.23456, b: 2, c: -0.0004, d: 'text', e: [1.23456], f: null, g: Number.NaN });
    expect(result).toEqual({ a: 1.235, b: 2, c: -0, d: 'text', e: [1.23456], f: null, g: Number.NaN });
  });
});

describe('plural', () => {
  it('adds an s except for one', () => {
    expect([0, 1, 2].map((n) => plural(n, 'client'))).toEqual(['0 clients', '1 client', '2 clients']);
  });
});

describe('machine and packageVersion', () => {
  it('describe this machine and this package', () => {
    const info = machine();
    expect(info).toEqual({
      cpu: os.cpus()[0]!.model.trim(),
      cores: os.cpus().length,
      node: process.version,
      platform: process.platform,
      arch: process.arch,
      osRelease: os.release(),
      totalMemoryBytes: os.totalmem(),
      loadAverage: expect.any(Array),
    });
    expect(info.loadAverage).toHaveLength(3);
    for (const load of info.loadAverage) expect(Number(load.toFixed(2))).toBe(load);
    const manifest = JSON.parse(fs.readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
    expect(packageVersion()).toBe(manifest.version);
  });
});
