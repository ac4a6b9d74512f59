/**
 * The command line of `hybridwire bench`: its cases, usage text and options, validated with
 * messages that name the flag and its range (a bad command line exits 2).
 */
import { parseArgs } from 'node:util';

export const CASES = ['tput', 'rtt', 'udp', 'udp-reliable'] as const;
export type CaseName = (typeof CASES)[number];

export const DESCRIPTIONS: Record<CaseName, string> = {
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
