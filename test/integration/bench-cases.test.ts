/**
 * ts/cli/bench-cases.ts: each case of `hybridwire bench` run through runCase() against a server in
 * this process on 127.0.0.1, port 0, bounded by a message budget (the duration is long enough never
 * to be what stops them). Nothing here asserts speed: only that the counts and the figures derived
 * from them agree.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { Client } from '../../ts/index.js';
import { runCase, type CaseContext, type Result, type RttResult, type TputResult, type UdpResult } from '../../ts/cli/bench-cases.js';
import { Interrupt } from '../../ts/cli/bench-load.js';
import { parseBenchArgs, type BenchSettings, type CaseName } from '../../ts/cli/bench-options.js';
import { Progress } from '../../ts/cli/bench-progress.js';
import { closeClients, connectClients, inProcessTarget, type Target } from '../../ts/cli/bench-target.js';
import { closeAfterEach, startServer } from '../support/sessions.js';

closeAfterEach();
const cleanup: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const step of cleanup.splice(0).reverse()) await step();
});

/** A stream that keeps what is written. */
function stream(): NodeJS.WriteStream & { written: string[] } {
  const written: string[] = [];
  return { written, columns: 80, write: (text: string) => written.push(text) > 0 } as unknown as NodeJS.WriteStream & { written: string[] };
}

function settingsOf(argv: string[]): BenchSettings {
  return parseBenchArgs(['--duration-ms', '60000', '--warmup-ms', '0', ...argv]) as BenchSettings;
}

interface Run {
  target: Target;
  clients: Client[];
  context: CaseContext;
  output: string[];
}

async function prepare(name: CaseName, argv: string[], options: { udp?: boolean; target?: (real: Target) => Target } = {}): Promise<Run> {
  const settings = settingsOf(['--case', name, ...argv]);
  const real = await inProcessTarget('127.0.0.1');
  cleanup.push(() => real.close());
  const target = options.target ? options.target(real) : real;
  const clients = await connectClients(target, settings.clients, options.udp ?? (name === 'udp' || name === 'udp-reliable'));
  cleanup.push(() => closeClients(clients));
  const out = stream();
  const progress = new Progress('lines', out, name, name === 'rtt' ? 'req/s' : 'msg/s');
  return { target, clients, output: out.written, context: { target, clients, settings, interrupt: new Interrupt(), progress } };
}

function ok<T extends Result>(result: Result): T {
  expect(result.status, JSON.stringify(result)).toBe('ok');
  return result as T;
}

describe('tput', () => {
  it('sends the budget over TCP and the receiver counts every message, warm-up excluded; rates are counts over time', async () => {
    const run = await prepare('tput', ['--messages', '500', '--warmup-ms', '30', '--clients', '2', '--size', '100']);
    const result = ok<TputResult>(await runCase('tput', run.context));
    expect(result).toMatchObject({ stoppedBy: 'messages', sent: 500, received: 500, countedBy: 'receiver', warnings: [] });
    expect(result.elapsedMs).toBeGreaterThan(0);
    expect(result.messagesPerSecond).toBe((500 * 1000) / result.elapsedMs);
    expect(result.megabytesPerSecond).toBe((500 * 100 * 1000) / result.elapsedMs / 1e6);
    // The warm-up's own messages arrived too, before the measured ones.
    expect(await run.target.count('tcp')).toBeGreaterThan(500);
    // The last progress line is the whole run's.
    expect(run.output.at(-1)).toMatch(/^progress 100% \S+ msg\/s\n$/);
  });

  it('fails when its own receiver counts other than what TCP carried', async () => {
    const run = await prepare('tput', ['--messages', '100'], { target: (real) => ({ ...real, count: () => Promise.resolve(0) }) });
    await expect(runCase('tput', run.context)).rejects.toThrow('the receiver counted 0 messages, but 100 were sent over TCP');
  });

  it("against server stats, leaves out the barrier's pings and warns of a difference rather than failing", async () => {
    // The sink counts 'bench' only, so taking the barrier's ping out leaves one short per client.
    const run = await prepare('tput', ['--messages', '100'], { target: (real) => ({ ...real, countedBy: 'server-stats' }) });
    const result = ok<TputResult>(await runCase('tput', run.context));
    expect(result).toMatchObject({ sent: 100, received: 99, countedBy: 'server-stats' });
    expect(result.warnings).toEqual(['the server counted 99 messages, but 100 were sent: other clients of that server?']);
  });

  it('stops at once when interrupted, saying so', async () => {
    const run = await prepare('tput', ['--messages', '100']);
    run.context.interrupt.interrupted = true;
    const result = ok<TputResult>(await runCase('tput', run.context));
    expect(result).toMatchObject({ stoppedBy: 'interrupt', sent: 0, received: 0 });
  });
});

describe('rtt', () => {
  it('completes the budget of echo round trips with requests in flight, and orders the percentiles', async () => {
    const run = await prepare('rtt', ['--messages', '300', '--clients', '2', '--in-flight', '4']);
    const result = ok<RttResult>(await runCase('rtt', run.context));
    expect(result).toMatchObject({ stoppedBy: 'messages', requests: 300, warnings: [] });
    expect(result.requestsPerSecond).toBe((300 * 1000) / result.elapsedMs);
    expect(result.minUs).toBeGreaterThan(0);
    expect(result.minUs).toBeLessThanOrEqual(result.p50Us);
    expect(result.p50Us).toBeLessThanOrEqual(result.p99Us);
    expect(result.p99Us).toBeLessThanOrEqual(result.p999Us);
    expect(result.p999Us).toBeLessThanOrEqual(result.maxUs);
    expect(result.meanUs).toBeGreaterThanOrEqual(result.minUs);
    expect(result.meanUs).toBeLessThanOrEqual(result.maxUs);
  });

  it("fails when the server's echo does not return the bytes sent", async () => {
    const { server, tcpPort } = await startServer({ udpPort: false });
    server.handle('echo', () => 'something else');
    const settings = settingsOf(['--case', 'rtt', '--messages', '10', '--size', '32']);
    const target: Target = { where: 'remote', pid: undefined, host: '127.0.0.1', tcpPort, udpPort: undefined, sinkType: 'ping', countedBy: 'server-stats', count: () => Promise.resolve(0), close: () => Promise.resolve() };
    const clients = await connectClients(target, 1, false);
    cleanup.push(() => closeClients(clients));
    const context = { target, clients, settings, interrupt: new Interrupt(), progress: new Progress('none', stream(), 'rtt', 'req/s') };
    await expect(runCase('rtt', context)).rejects.toThrow("the server's echo did not return the 32 bytes sent");
  });
});

describe('udp and udp-reliable', () => {
  it('udp: sends the budget, receives at most that, and the loss is what is missing', async () => {
    const run = await prepare('udp', ['--messages', '200']);
    const result = ok<UdpResult>(await runCase('udp', run.context));
    expect(result).toMatchObject({ stoppedBy: 'messages', sent: 200, countedBy: 'receiver' });
    expect(result.received).toBeGreaterThan(0);
    expect(result.received).toBeLessThanOrEqual(200);
    expect(result.lossPercent).toBe((100 * (200 - result.received)) / 200);
    expect(result.receiveElapsedMs).toBeGreaterThanOrEqual(result.sendElapsedMs);
    expect(result.sentPerSecond).toBe((200 * 1000) / result.sendElapsedMs);
    expect(result.messagesPerSecond).toBe((result.received * 1000) / result.receiveElapsedMs);
  });

  it('udp-reliable: every message sent is received', async () => {
    const run = await prepare('udp-reliable', ['--messages', '200', '--clients', '2']);
    const result = ok<UdpResult>(await runCase('udp-reliable', run.context));
    expect(result).toMatchObject({ stoppedBy: 'messages', sent: 200, received: 200, lossPercent: 0, warnings: [] });
  });

  it('is not available when the clients have no UDP path', async () => {
    const run = await prepare('udp', ['--messages', '10'], { udp: false });
    expect(await runCase('udp', run.context)).toEqual({
      status: 'unavailable',
      reason: 'the server did not answer on UDP within 3 s (no UDP port, or it is unreachable from here)',
    });
    expect(await run.target.count('udp')).toBe(0);
  });
});
