#!/usr/bin/env node
/**
 * The `hybridwire` command: serve, connect (interactive), demo, bench.
 */
import { parseArgs } from 'node:util';
import { logLevel, serve, serveLayers } from './serve.js';
import { printConfig } from './config.js';
import { top } from './top.js';
import type { ConfigSetting } from '../config/load-config.js';
import { interactive } from './interactive.js';
import { demo } from './demo.js';
import { bench, benchServerChild } from './bench.js';

const USAGE = `usage: hybridwire <command> [options]

commands:
  serve     --host H --tcp-port N --udp-port N [--config FILE] [--log-level LEVEL]
            run a server until SIGINT/SIGTERM; options from FILE (TOML) and HYBRIDWIRE_
            variables, below the flags; event lines on stdout, pino JSON logs on stderr;
            it answers all four built-in types: ping, echo, stats (its counters, to anyone who
            asks) and broadcast (relays to every connected client), like
            createServer({ builtins: true })
            (LEVEL: fatal error warn info debug trace silent; default warn)
            [--metrics-port N]  GET /metrics in the Prometheus text format
            [--dashboard-port N]  a page of live charts (message rates, RTT, sessions) at /
  config    --print [--config FILE] [--host H --tcp-port N --udp-port N]
            the configuration serve would run with, and where each value came from
  connect   --host H --tcp-port N --udp-port N --mode step|burst --window N
            interactive client: /ping /echo TEXT /broadcast TEXT /stats
            /custom TYPE JSON /udp TEXT /exit; other lines are sent as chat messages
  top       --host H --tcp-port N [--admin-token T]
            live view of a running server (peers, msg/s, RTT, drops, busiest types), each second;
            the server answers from loopback, or with its adminToken
  demo                                           server and client in one process over TCP and UDP
  bench     [--case tput|rtt|udp|udp-reliable|all] [--host H --tcp-port N --udp-port N] [--separate]
            [--messages N] [--duration-ms MS] [--size BYTES] [--clients N] [--in-flight N] [--json]
            throughput or latency, in process or against a running server (bench --help for more)
`;

const options = {
  host: { type: 'string' },
  'tcp-port': { type: 'string' },
  'udp-port': { type: 'string' },
  mode: { type: 'string' },
  window: { type: 'string' },
  config: { type: 'string' },
  print: { type: 'boolean' },
  'log-level': { type: 'string' },
  'metrics-port': { type: 'string' },
  'admin-token': { type: 'string' },
  'dashboard-port': { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

function port(value: string | undefined, name: string, fallback: number): number {
  if (value === undefined) return fallback;
  const number = /^\d{1,5}$/.test(value) ? Number(value) : NaN;
  if (!Number.isInteger(number) || number < 0 || number > 65535) {
    throw new Error(`--${name} must be a port number from 0 to 65535, got '${value}'`);
  }
  return number;
}

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (command === undefined || command === '--help' || command === '-h' || command === 'help') {
    process.stdout.write(USAGE);
    return command === undefined ? 1 : 0;
  }
  // bench validates options of its own; bench-server is its hidden child (bench --separate).
  if (command === 'bench') return bench(rest);
  if (command === 'bench-server') return benchServerChild();
  const { values } = parseArgs({ args: rest, options, strict: true, allowPositionals: false });
  if (values.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  // serve's own flags, the top layer of its configuration.
  const serveFlags = (): ConfigSetting[] => [
    ...(values.host === undefined ? [] : [{ key: 'host', value: values.host, source: '--host' }]),
    ...(values['tcp-port'] === undefined ? [] : [{ key: 'tcpPort', value: port(values['tcp-port'], 'tcp-port', 0), source: '--tcp-port' }]),
    ...(values['udp-port'] === undefined ? [] : [{ key: 'udpPort', value: port(values['udp-port'], 'udp-port', 0), source: '--udp-port' }]),
  ];
  switch (command) {
    case 'serve':
      return serve({
        configPath: values.config,
        flags: serveFlags(),
        logLevel: logLevel(values['log-level']),
        metricsPort: values['metrics-port'] === undefined ? undefined : port(values['metrics-port'], 'metrics-port', 0),
        dashboardPort: values['dashboard-port'] === undefined ? undefined : port(values['dashboard-port'], 'dashboard-port', 0),
      });
    case 'config':
      if (!values.print) throw new Error('config needs --print');
      return printConfig(values.config, serveLayers(serveFlags()));
    case 'connect': {
      const mode = values.mode ?? 'burst';
      if (mode !== 'step' && mode !== 'burst') throw new Error(`--mode must be step or burst, got '${mode}'`);
      const window = values.window === undefined ? undefined : /^\d{1,7}$/.test(values.window) ? Number(values.window) : NaN;
      if (window !== undefined && (!Number.isInteger(window) || window < 1)) throw new Error(`--window must be a positive integer, got '${values.window}'`);
      return interactive({
        host: values.host ?? '127.0.0.1',
        tcpPort: port(values['tcp-port'], 'tcp-port', 5000),
        udpPort: values['udp-port'] === undefined ? undefined : port(values['udp-port'], 'udp-port', 5001),
        mode,
        windowSize: window,
      });
    }
    case 'top':
      return top({ host: values.host ?? '127.0.0.1', tcpPort: port(values['tcp-port'], 'tcp-port', 5000), adminToken: values['admin-token'] });
    case 'demo':
      return demo();
    default:
      process.stderr.write(`hybridwire: unknown command '${command}'\n${USAGE}`);
      return 2;
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error: Error) => {
    const code = (error as { code?: unknown }).code;
    process.stderr.write(`hybridwire: ${error.message}${typeof code === 'string' && code.startsWith('HW_ERR_') ? ` [${code}]` : ''}\n`);
    process.exitCode = 2;
  },
);
