/**
 * `hybridwire bench`, driven as a user drives it: node dist/cli/main.js bench ..., on loopback,
 * with short bounded durations. Nothing here asserts speed: only that the figures are there and
 * consistent with each other. Every process a test starts is ended by its PID afterwards.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ensureBuilt, events, killAll, runCli, startServe, type CliProcess } from '../support/cli-process.js';
import { closeAfterEach, startServer } from '../support/sessions.js';

beforeAll(async () => {
  await ensureBuilt();
}, 240_000);

afterEach(async () => {
  await killAll();
});

afterAll(async () => {
  await killAll();
});

const RUN_TIMEOUT_MS = 30_000;

/** The whole of stdout as one JSON object (which --json promises: nothing else on stdout). */
function jsonOf(run: CliProcess): Record<string, any> {
  const text = run.stdout.join('\n').trim();
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new Error(`stdout is not one JSON object: ${(error as Error).message}\n${run.transcript()}`);
  }
  expect(typeof value === 'object' && value !== null && !Array.isArray(value), run.transcript()).toBe(true);
  return value as Record<string, any>;
}

function expectMachine(out: Record<string, any>): void {
  expect(typeof out.machine.cpu).toBe('string');
  expect(out.machine.cpu.length).toBeGreaterThan(0);
  expect(Number.isInteger(out.machine.cores) && out.machine.cores > 0).toBe(true);
  expect(out.machine.node).toBe(process.version);
}

/** True while a process with this PID exists. */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

describe('hybridwire bench --json, in process', () => {
  it('tput: one JSON object with machine, case, parameters and a receiver count that matches what was sent', async () => {
    const run = await runCli(['bench', '--case', 'tput', '--duration-ms', '300', '--json'], RUN_TIMEOUT_MS);
    expect(run.exit, run.transcript()).toEqual({ code: 0, signal: null });
    const out = jsonOf(run);
    expectMachine(out);
    expect(out.case).toBe('tput');
    expect(out.parameters).toMatchObject({ size: 64, durationMs: 300, clients: 1, inFlight: 1 });
    expect(out.server).toMatchObject({ where: 'in-process', host: '127.0.0.1', sharedProcess: true });
    const r = out.results;
    expect(r.status, run.transcript()).toBe('ok');
    expect(r.countedBy).toBe('receiver');
    expect(r.sent).toBeGreaterThan(0);
    expect(r.received).toBe(r.sent);
    expect(r.warnings).toEqual([]);
    expect(r.elapsedMs).toBeGreaterThan(0);
    expect(r.messagesPerSecond).toBeGreaterThan(0);
    // The rates are the counts over the elapsed time (JSON numbers are rounded to 3 decimals).
    expect(r.messagesPerSecond / ((r.received * 1000) / r.elapsedMs)).toBeCloseTo(1, 3);
    expect(r.megabytesPerSecond / ((r.messagesPerSecond * 64) / 1e6)).toBeCloseTo(1, 3);
    expect(run.stderr.join('\n')).toBe('');
  });

  it('rtt: p50 <= p99 <= p99.9, all above zero, and a request count behind them', async () => {
    const run = await runCli(['bench', '--case', 'rtt', '--duration-ms', '300', '--json'], RUN_TIMEOUT_MS);
    expect(run.exit, run.transcript()).toEqual({ code: 0, signal: null });
    const out = jsonOf(run);
    expectMachine(out);
    expect(out.case).toBe('rtt');
    const r = out.results;
    expect(r.status, run.transcript()).toBe('ok');
    expect(r.requests).toBeGreaterThan(0);
    expect(r.requestsPerSecond).toBeGreaterThan(0);
    expect(r.p50Us).toBeGreaterThan(0);
    expect(r.p50Us).toBeLessThanOrEqual(r.p99Us);
    expect(r.p99Us).toBeLessThanOrEqual(r.p999Us);
    expect(r.p999Us).toBeLessThanOrEqual(r.maxUs);
  });

  it('rtt with several clients and requests in flight counts every request once', async () => {
    // A duration no run reaches: the budget is what stops it.
    const run = await runCli(['bench', '--case', 'rtt', '--clients', '3', '--in-flight', '8', '--messages', '2000', '--duration-ms', '600000', '--warmup-ms', '0', '--json'], RUN_TIMEOUT_MS);
    expect(run.exit, run.transcript()).toEqual({ code: 0, signal: null });
    const r = jsonOf(run).results;
    expect(r.stoppedBy).toBe('messages');
    expect(r.requests).toBe(2000);
  });

  it('udp: sent, received (never more than sent) and the loss between them', async () => {
    const run = await runCli(['bench', '--case', 'udp', '--duration-ms', '300', '--json'], RUN_TIMEOUT_MS);
    expect(run.exit, run.transcript()).toEqual({ code: 0, signal: null });
    const r = jsonOf(run).results;
    expect(r.status, run.transcript()).toBe('ok');
    expect(r.sent).toBeGreaterThan(0);
    // Loopback may drop some under load, never all.
    expect(r.received).toBeGreaterThan(0);
    expect(r.received).toBeLessThanOrEqual(r.sent);
    expect(r.lossPercent).toBeCloseTo((100 * (r.sent - r.received)) / r.sent, 2);
  });

  it('udp-reliable: every message sent is received', async () => {
    const run = await runCli(['bench', '--case', 'udp-reliable', '--duration-ms', '300', '--json'], RUN_TIMEOUT_MS);
    expect(run.exit, run.transcript()).toEqual({ code: 0, signal: null });
    const r = jsonOf(run).results;
    expect(r.status, run.transcript()).toBe('ok');
    expect(r.sent).toBeGreaterThan(0);
    expect(r.received).toBe(r.sent);
  });

  it('--case all runs every case, in order, each measured', async () => {
    const run = await runCli(['bench', '--case', 'all', '--duration-ms', '150', '--json'], RUN_TIMEOUT_MS);
    expect(run.exit, run.transcript()).toEqual({ code: 0, signal: null });
    const out = jsonOf(run);
    expect(out.case).toBe('all');
    expect(out.results).toBeUndefined();
    expect(out.runs.map((r: { case: string }) => r.case)).toEqual(['tput', 'rtt', 'udp', 'udp-reliable']);
    for (const r of out.runs) expect(r.results.status, r.case).toBe('ok');
  });

  it('--separate forks the server into a process of its own, gone when bench exits', async () => {
    const run = await runCli(['bench', '--case', 'tput', '--separate', '--duration-ms', '300', '--json'], RUN_TIMEOUT_MS);
    expect(run.exit, run.transcript()).toEqual({ code: 0, signal: null });
    const out = jsonOf(run);
    expect(out.server).toMatchObject({ where: 'separate-process', sharedProcess: false });
    expect(out.server.pid).not.toBe(run.pid);
    expect(alive(out.server.pid)).toBe(false);
    expect(out.results.status).toBe('ok');
    expect(out.results.received).toBe(out.results.sent);
    expect(out.results.sent).toBeGreaterThan(0);
  });
});

describe('hybridwire bench, human output', () => {
  it('not in a terminal: plain progress lines, then an aligned summary table; says server and clients share a process', async () => {
    const run = await runCli(['bench', '--case', 'tput', '--duration-ms', '300'], RUN_TIMEOUT_MS);
    expect(run.exit, run.transcript()).toEqual({ code: 0, signal: null });
    const lines = run.stdout;
    expect(lines.join('\n')).toMatch(/share one process/);
    const progress = lines.filter((line) => line.startsWith('progress '));
    expect(progress.length, run.transcript()).toBeGreaterThan(0);
    for (const line of progress) expect(line).toMatch(/^progress \d{1,3}% \d+(\.\d+)?[kMG]? msg\/s$/);
    // No carriage returns or escape sequences when stdout is not a terminal.
    // eslint-disable-next-line no-control-regex -- the escape character is what this looks for
    expect(lines.join('\n')).not.toMatch(/[\r\x1b]/);
    const header = lines.findIndex((line) => /^case\s+clients\s+size\s+sent\s+received\s+seconds\s+msg\/s\s+MB\/s$/.test(line));
    expect(header, run.transcript()).toBeGreaterThan(lines.indexOf(progress[0]!));
    const row = lines[header + 1]!;
    expect(row).toMatch(/^tput\s+1\s+64 B\s+[\d,]+\s+[\d,]+\s+[\d.]+\s+[\d,]+\s+[\d.]+$/);
    // Aligned: the row ends where the header does (numbers are right-aligned).
    expect(row.length).toBe(lines[header]!.length);
  });

  it('--help lists the cases and exits 0; the command list names bench', async () => {
    const help = await runCli(['bench', '--help'], RUN_TIMEOUT_MS);
    expect(help.exit).toEqual({ code: 0, signal: null });
    for (const name of ['tput', 'rtt', 'udp', 'udp-reliable', '--in-flight', '--separate', '--json']) expect(help.stdout.join('\n')).toContain(name);
    const main = await runCli(['--help'], RUN_TIMEOUT_MS);
    expect(main.stdout.join('\n')).toMatch(/^\s+bench\b/m);
  });
});

describe('hybridwire bench against a running hybridwire serve', () => {
  it('rtt uses its echo', async () => {
    const serve = await startServe();
    const run = await runCli(
      ['bench', '--case', 'rtt', '--host', '127.0.0.1', '--tcp-port', String(serve.tcpPort), '--udp-port', String(serve.udpPort), '--duration-ms', '300', '--json'],
      RUN_TIMEOUT_MS,
    );
    expect(run.exit, run.transcript()).toEqual({ code: 0, signal: null });
    const out = jsonOf(run);
    expect(out.server).toMatchObject({ where: 'remote', tcpPort: serve.tcpPort, udpPort: serve.udpPort, pid: null });
    const r = out.results;
    expect(r.status, run.transcript()).toBe('ok');
    expect(r.p50Us).toBeGreaterThan(0);
    expect(r.p50Us).toBeLessThanOrEqual(r.p99Us);
    expect(r.p99Us).toBeLessThanOrEqual(r.p999Us);
  });

  it("tput counts from the server's stats, which match what was sent, and serve prints no line per message", async () => {
    const serve = await startServe();
    const run = await runCli(['bench', '--case', 'tput', '--tcp-port', String(serve.tcpPort), '--duration-ms', '300', '--json'], RUN_TIMEOUT_MS);
    expect(run.exit, run.transcript()).toEqual({ code: 0, signal: null });
    const r = jsonOf(run).results;
    expect(r.status, run.transcript()).toBe('ok');
    expect(r.countedBy).toBe('server-stats');
    expect(r.sent).toBeGreaterThan(0);
    expect(r.received).toBe(r.sent);
    const printed = events(serve.cli);
    expect(printed.filter((event) => event.event === 'message')).toEqual([]);
    // The bench's clients (the control connection and one sender) came and went.
    expect(printed.filter((event) => event.event === 'connection').length).toBe(2);
  });
});

describe('hybridwire bench against a server without UDP', () => {
  closeAfterEach();

  it('a udp case asked for by name is "not available" and the run exits 1', async () => {
    const { tcpPort } = await startServer({ udpPort: false, builtins: true });
    const run = await runCli(['bench', '--case', 'udp', '--tcp-port', String(tcpPort), '--duration-ms', '100', '--json'], RUN_TIMEOUT_MS);
    expect(run.exit, run.transcript()).toEqual({ code: 1, signal: null });
    const out = jsonOf(run);
    expect(out.server).toMatchObject({ where: 'remote', tcpPort, udpPort: null });
    expect(out.results).toEqual({ status: 'unavailable', reason: 'the server did not answer on UDP within 3 s (no UDP port, or it is unreachable from here)' });
  });

  it('in --case all, the unavailable udp cases do not fail the run; the others are measured', async () => {
    const { tcpPort } = await startServer({ udpPort: false, builtins: true });
    const run = await runCli(['bench', '--case', 'all', '--tcp-port', String(tcpPort), '--duration-ms', '100', '--json'], RUN_TIMEOUT_MS);
    expect(run.exit, run.transcript()).toEqual({ code: 0, signal: null });
    const out = jsonOf(run);
    expect(out.runs.map((r: { case: string; results: { status: string } }) => [r.case, r.results.status])).toEqual([
      ['tput', 'ok'],
      ['rtt', 'ok'],
      ['udp', 'unavailable'],
      ['udp-reliable', 'unavailable'],
    ]);
  });
});

describe('hybridwire bench with bad options', () => {
  it.each([
    { args: ['--case', 'fast'], flag: '--case', value: 'fast' },
    { args: ['--size', 'big'], flag: '--size', value: 'big' },
    { args: ['--duration-ms', '0'], flag: '--duration-ms', value: '0' },
    { args: ['--messages', '1.5'], flag: '--messages', value: '1.5' },
    { args: ['--clients', '0'], flag: '--clients', value: '0' },
    { args: ['--in-flight', '99999'], flag: '--in-flight', value: '99999' },
    { args: ['--tcp-port', '70000'], flag: '--tcp-port', value: '70000' },
    { args: ['--udp-port', '5001'], flag: '--udp-port', value: '' },
    { args: ['--separate', '--tcp-port', '5000'], flag: '--separate', value: '' },
    { args: ['--case', 'udp', '--size', '100000'], flag: '--size', value: '100000' },
    { args: ['--bogus'], flag: '--bogus', value: '' },
  ].map((row) => ({ ...row, line: row.args.join(' ') })))('bench $line exits 2 naming $flag', async ({ args, flag, value }) => {
    const run = await runCli(['bench', ...args], RUN_TIMEOUT_MS);
    expect(run.exit, run.transcript()).toEqual({ code: 2, signal: null });
    const stderr = run.stderr.join('\n');
    expect(stderr).toMatch(/^hybridwire: /);
    expect(stderr).toContain(flag);
    if (value !== '') expect(stderr).toContain(`'${value}'`);
    expect(run.stdout.join('\n')).toBe('');
  });
});
