/**
 * ts/cli/bench-options.ts: the command line of `hybridwire bench`, its defaults, and validation
 * messages that name the flag, its range and the value given.
 */
import { describe, expect, it } from 'vitest';
import { BENCH_USAGE, CASES, DESCRIPTIONS, UsageError, parseBenchArgs, type BenchSettings } from '../../ts/cli/bench-options.js';

function settings(argv: string[]): BenchSettings {
  const parsed = parseBenchArgs(argv);
  if (parsed === 'help') throw new Error(`${argv.join(' ')} asked for help`);
  return parsed;
}

function refusal(argv: string[]): UsageError {
  try {
    parseBenchArgs(argv);
  } catch (error) {
    expect(error).toBeInstanceOf(UsageError);
    return error as UsageError;
  }
  throw new Error(`${argv.join(' ') || '(no arguments)'} was accepted`);
}

describe('parseBenchArgs', () => {
  it('has these defaults: tput in process on 127.0.0.1, 3 s after a 300 ms warm-up, 64 bytes, one client, one in flight', () => {
    expect(settings([])).toEqual({
      requested: 'tput',
      cases: ['tput'],
      host: '127.0.0.1',
      tcpPort: undefined,
      udpPort: undefined,
      separate: false,
      messages: 1_000_000_000,
      messagesGiven: false,
      durationMs: 3000,
      warmupMs: 300,
      size: 64,
      clients: 1,
      inFlight: 1,
      json: false,
    });
  });

  it('returns help for --help and -h, whatever else is given', () => {
    expect(parseBenchArgs(['--help'])).toBe('help');
    expect(parseBenchArgs(['-h', '--case', 'rtt'])).toBe('help');
  });

  it('takes each case by name, and all of them in order with --case all', () => {
    for (const name of CASES) expect(settings(['--case', name])).toMatchObject({ requested: name, cases: [name] });
    expect(settings(['--case', 'all'])).toMatchObject({ requested: 'all', cases: ['tput', 'rtt', 'udp', 'udp-reliable'] });
  });

  it('reads every flag', () => {
    expect(
      settings(['--case', 'rtt', '--host', 'localhost', '--tcp-port', '5000', '--udp-port', '5001', '--messages', '10', '--duration-ms', '200', '--warmup-ms', '0', '--size', '1024', '--clients', '4', '--in-flight', '16', '--json']),
    ).toEqual({
      requested: 'rtt',
      cases: ['rtt'],
      host: 'localhost',
      tcpPort: 5000,
      udpPort: 5001,
      separate: false,
      messages: 10,
      messagesGiven: true,
      durationMs: 200,
      warmupMs: 0,
      size: 1024,
      clients: 4,
      inFlight: 16,
      json: true,
    });
    expect(settings(['--separate'])).toMatchObject({ separate: true, tcpPort: undefined });
  });

  it('makes the default warm-up a tenth of the duration, rounded, at most 1000 ms', () => {
    expect(settings(['--duration-ms', '1']).warmupMs).toBe(0);
    expect(settings(['--duration-ms', '15']).warmupMs).toBe(2);
    expect(settings(['--duration-ms', '9990']).warmupMs).toBe(999);
    expect(settings(['--duration-ms', '60000']).warmupMs).toBe(1000);
    expect(settings(['--duration-ms', '60000', '--warmup-ms', '5000']).warmupMs).toBe(5000);
  });

  it('accepts the ends of every range', () => {
    expect(settings(['--messages', '1', '--duration-ms', '1', '--size', '0', '--clients', '1', '--in-flight', '1', '--tcp-port', '1', '--udp-port', '1'])).toMatchObject({
      messages: 1,
      durationMs: 1,
      size: 0,
      clients: 1,
      inFlight: 1,
      tcpPort: 1,
      udpPort: 1,
    });
    expect(
      settings(['--messages', '1000000000', '--duration-ms', '3600000', '--warmup-ms', '3600000', '--size', String(8 * 1024 * 1024), '--clients', '1000', '--in-flight', '4096', '--tcp-port', '65535']),
    ).toMatchObject({ messages: 1e9, durationMs: 3_600_000, warmupMs: 3_600_000, size: 8 * 1024 * 1024, clients: 1000, inFlight: 4096, tcpPort: 65535 });
    // A UDP case takes up to 65000 bytes; the TCP ones more.
    expect(settings(['--case', 'udp', '--size', '65000']).size).toBe(65_000);
    expect(settings(['--case', 'rtt', '--size', '65001']).size).toBe(65_001);
  });

  it.each([
    [['--case', 'fast'], "--case must be one of tput, rtt, udp, udp-reliable, all, got 'fast'"],
    [['--host', ' '], "--host must name a host, got ' '"],
    [['--tcp-port', '0'], "--tcp-port must be an integer from 1 to 65535, got '0'"],
    [['--tcp-port', '70000'], "--tcp-port must be an integer from 1 to 65535, got '70000'"],
    [['--tcp-port', '5000', '--udp-port=-1'], "--udp-port must be an integer from 1 to 65535, got '-1'"],
    [['--udp-port', '5001'], '--udp-port needs --tcp-port (a running server); without it the bench starts its own'],
    [['--separate', '--tcp-port', '5000'], '--separate starts a server of its own; it cannot be combined with --tcp-port'],
    [['--duration-ms', '0'], "--duration-ms must be an integer from 1 to 3600000, got '0'"],
    [['--duration-ms', '3600001'], "--duration-ms must be an integer from 1 to 3600000, got '3600001'"],
    [['--warmup-ms', '1e3'], "--warmup-ms must be an integer from 0 to 3600000, got '1e3'"],
    [['--size', 'big'], "--size must be an integer from 0 to 8388608, got 'big'"],
    [['--size', '8388609'], "--size must be an integer from 0 to 8388608, got '8388609'"],
    [['--case', 'udp', '--size', '65001'], "--size must be at most 65000 for the udp cases (one message per datagram), got '65001'"],
    [['--case', 'all', '--size', '100000'], "--size must be at most 65000 for the udp cases (one message per datagram), got '100000'"],
    [['--messages', '1.5'], "--messages must be an integer from 1 to 1000000000, got '1.5'"],
    [['--messages', '0'], "--messages must be an integer from 1 to 1000000000, got '0'"],
    [['--messages', '99999999999999999'], "--messages must be an integer from 1 to 1000000000, got '99999999999999999'"],
    [['--clients', '0'], "--clients must be an integer from 1 to 1000, got '0'"],
    [['--clients', '1001'], "--clients must be an integer from 1 to 1000, got '1001'"],
    [['--in-flight', '99999'], "--in-flight must be an integer from 1 to 4096, got '99999'"],
    [['--in-flight', ''], "--in-flight must be an integer from 1 to 4096, got ''"],
  ])('refuses %j: %s', (argv, message) => {
    expect(refusal(argv).message).toBe(message);
  });

  it("refuses unknown flags, positionals and a value given to a switch, in node's words", () => {
    expect(refusal(['--bogus']).message).toContain("'--bogus'");
    expect(refusal(['tput']).message).toContain("'tput'");
    expect(refusal(['--json=yes']).message).toContain('--json');
    expect(refusal(['--size']).message).toContain('--size');
  });
});

describe('BENCH_USAGE', () => {
  it('names every case with its description, and every flag parseBenchArgs reads', () => {
    for (const name of CASES) expect(BENCH_USAGE).toContain(`${name.padEnd(12)}  ${DESCRIPTIONS[name]}`);
    for (const flag of ['--case', '--host', '--tcp-port', '--udp-port', '--separate', '--messages', '--duration-ms', '--warmup-ms', '--size', '--clients', '--in-flight', '--json']) {
      expect(BENCH_USAGE).toContain(flag);
    }
  });
});
