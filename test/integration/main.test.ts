/**
 * ts/cli/main.ts: the `hybridwire` command's dispatch and its own flags (ports, mode, window, help),
 * run as a user runs it (node dist/cli/main.js ...). Commands that start nothing exit at once.
 */
import { describe, expect, it } from 'vitest';
import { runCli } from '../support/cli-process.js';
import { cliHarness } from '../support/cli-session.js';

cliHarness();

describe('hybridwire command lines', () => {
  it('an unknown command exits 2 with the usage', async () => {
    const run = await runCli(['frobnicate'], 10_000);
    expect(run.exit, run.transcript()).toEqual({ code: 2, signal: null });
    const stderr = run.stderr.join('\n');
    expect(stderr).toContain("unknown command 'frobnicate'");
    expect(stderr).toContain('usage: hybridwire <command>');
    for (const command of ['serve', 'connect', 'demo']) expect(stderr).toMatch(new RegExp(`^\\s+${command}\\b`, 'm'));
    expect(run.stdout.join('\n')).toBe('');
  });

  it('--help prints the usage and exits 0', async () => {
    const run = await runCli(['--help'], 10_000);
    expect(run.exit).toEqual({ code: 0, signal: null });
    expect(run.stdout.join('\n')).toContain('usage: hybridwire <command>');
  });

  it.each([
    { args: ['serve', '--host', '127.0.0.1', '--tcp-port', 'abc', '--udp-port', '0'], names: '--tcp-port', value: 'abc' },
    { args: ['connect', '--host', '127.0.0.1', '--tcp-port', 'abc'], names: '--tcp-port', value: 'abc' },
    { args: ['serve', '--host', '127.0.0.1', '--tcp-port', '0', '--udp-port', '70000'], names: '--udp-port', value: '70000' },
    { args: ['serve', '--host', '127.0.0.1', '--tcp-port', '-1', '--udp-port', '0'], names: '--tcp-port', value: '' },
    { args: ['serve', '--host', '127.0.0.1', '--tcp-port', '5.5', '--udp-port', '0'], names: '--tcp-port', value: '5.5' },
    { args: ['connect', '--tcp-port', '1', '--mode', 'fast'], names: '--mode', value: 'fast' },
    { args: ['connect', '--tcp-port', '1', '--window', '0'], names: '--window', value: '0' },
    { args: ['serve', '--bogus'], names: '--bogus', value: '' },
  ].map((row) => ({ ...row, line: row.args.join(' ') })))('hybridwire $line exits 2 naming $names', async ({ args, names, value }) => {
    const run = await runCli(args, 10_000);
    expect(run.exit, run.transcript()).toEqual({ code: 2, signal: null });
    const stderr = run.stderr.join('\n');
    expect(stderr).toMatch(/^hybridwire: /);
    expect(stderr).toContain(names);
    if (value !== '') expect(stderr).toContain(`'${value}'`);
    expect(run.stdout.join('\n')).toBe('');
  });

  it('with no command prints the usage and exits 1', async () => {
    const run = await runCli([], 10_000);
    expect(run.exit, run.transcript()).toEqual({ code: 1, signal: null });
    expect(run.stdout.join('\n')).toContain('usage: hybridwire <command>');
    expect(run.stderr.join('\n')).toBe('');
  });

  it.each([[['help']], [['-h']], [['serve', '--help']], [['connect', '-h', '--tcp-port', '1']]])('%j prints the usage and exits 0, starting nothing', async (args) => {
    const run = await runCli(args, 10_000);
    expect(run.exit, run.transcript()).toEqual({ code: 0, signal: null });
    expect(run.stdout[0]).toBe('usage: hybridwire <command> [options]');
    expect(run.stdout.join('\n')).not.toMatch(/^\{"event":"listening"|^connected to/m);
    expect(run.stderr.join('\n')).toBe('');
  });
});
