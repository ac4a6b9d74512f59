#!/usr/bin/env node
/**
 * The `hybridwire` command: serve, connect (interactive), sub, pub, top, cert, demo, bench.
 */
import fs from 'node:fs';
import { parseArgs } from 'node:util';
import { logLevel, serve, serveLayers } from './serve.js';
import { printConfig } from './config.js';
import { top } from './top.js';
import type { ConfigSetting } from '../config/load-config.js';
import type { ClientTlsOptions, ServerTlsOptions } from '../transport/tls.js';
import { interactive } from './interactive.js';
import { demo } from './demo.js';
import { bench, benchServerChild } from './bench.js';
import { pubsubCommand } from './pubsub-cli.js';

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
            [--tls-cert FILE --tls-key FILE]  TLS only (plaintext clients are refused)
            [--tls-ca FILE [--require-client-cert]]  ask clients for certificates from this CA
            (and require one: mutual TLS)
  config    --print [--config FILE] [--host H --tcp-port N --udp-port N]
            the configuration serve would run with, and where each value came from
  connect   --host H --tcp-port N --udp-port N --mode step|burst --window N
            interactive client: /ping /echo TEXT /broadcast TEXT /stats
            /custom TYPE JSON /udp TEXT /exit; other lines are sent as chat messages
            [--tls] [--tls-ca FILE] [--tls-cert FILE --tls-key FILE] [--pin sha256/BASE64 ...]
            TLS (any of these turns it on), verifying the server against --tls-ca (default: the
            system's CAs) and its name; a client certificate for mutual TLS; the server's key pins
  sub       --host H --tcp-port N TOPIC [--qos 0|1|2]
            subscribe (TOPIC may be a filter: + * #); prints {"event":"subscribed"}, then one
            JSON line per message: topic, payload, qos, retain
  pub       --host H --tcp-port N TOPIC MESSAGE [--qos 0|1|2] [--retain]
            publish MESSAGE; exits once the server has taken it as the QoS requires
  top       --host H --tcp-port N [--admin-token T]
            live view of a running server (peers, msg/s, RTT, drops, busiest types), each second;
            the server answers from loopback, or with its adminToken
  cert      --out DIR [--hosts localhost,127.0.0.1,::1] [--days 90]
            a development CA and a server and a client certificate signed by it, for TLS:
            DIR/ca.pem, server.pem, server-key.pem, client.pem, client-key.pem
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
  'tls-cert': { type: 'string' },
  'tls-key': { type: 'string' },
  'tls-ca': { type: 'string' },
  'require-client-cert': { type: 'boolean' },
  tls: { type: 'boolean' },
  pin: { type: 'string', multiple: true },
  out: { type: 'string' },
  hosts: { type: 'string' },
  days: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

/** The options each command takes (help aside). */
const ACCEPTED: Record<string, readonly string[]> = {
  serve: ['host', 'tcp-port', 'udp-port', 'config', 'log-level', 'metrics-port', 'dashboard-port', 'tls-cert', 'tls-key', 'tls-ca', 'require-client-cert'],
  config: ['print', 'config', 'host', 'tcp-port', 'udp-port'],
  connect: ['host', 'tcp-port', 'udp-port', 'mode', 'window', 'tls', 'tls-ca', 'tls-cert', 'tls-key', 'pin'],
  top: ['host', 'tcp-port', 'admin-token'],
  cert: ['out', 'hosts', 'days'],
  demo: [],
};

type Values = ReturnType<typeof parseArgs<{ args: string[]; options: typeof options; strict: true; allowPositionals: false }>>['values'];

function readPem(flag: string, file: string): string {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch (error) {
    throw new Error(`cannot read --${flag} ${file}: ${(error as Error).message}`);
  }
}

/** serve's TLS options from --tls-cert, --tls-key, --tls-ca and --require-client-cert, or undefined for none. */
function serverTls(values: Values): ServerTlsOptions | undefined {
  const { 'tls-cert': certFile, 'tls-key': keyFile, 'tls-ca': caFile } = values;
  const requireClientCert = values['require-client-cert'] === true;
  if (certFile === undefined && keyFile === undefined) {
    if (caFile !== undefined || requireClientCert) throw new Error('--tls-ca and --require-client-cert need --tls-cert and --tls-key');
    return undefined;
  }
  if (certFile === undefined || keyFile === undefined) throw new Error('--tls-cert and --tls-key go together');
  if (requireClientCert && caFile === undefined) throw new Error('--require-client-cert needs --tls-ca, the CA that signs client certificates');
  return {
    cert: readPem('tls-cert', certFile),
    key: readPem('tls-key', keyFile),
    ...(caFile === undefined ? {} : { ca: readPem('tls-ca', caFile), requestCert: true, rejectUnauthorized: requireClientCert }),
  };
}

/** connect's TLS options from --tls, --tls-ca, --tls-cert, --tls-key and --pin, or undefined for none. */
function clientTls(values: Values): ClientTlsOptions | undefined {
  const { 'tls-cert': certFile, 'tls-key': keyFile, 'tls-ca': caFile, pin } = values;
  if (!values.tls && certFile === undefined && keyFile === undefined && caFile === undefined && pin === undefined) return undefined;
  if ((certFile === undefined) !== (keyFile === undefined)) throw new Error('--tls-cert and --tls-key go together');
  return {
    ...(caFile === undefined ? {} : { ca: readPem('tls-ca', caFile) }),
    ...(certFile === undefined ? {} : { cert: readPem('tls-cert', certFile), key: readPem('tls-key', keyFile!) }),
    ...(pin === undefined ? {} : { pins: pin }),
  };
}

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
  // sub and pub take positional arguments (TOPIC, MESSAGE).
  if (command === 'sub' || command === 'pub') return pubsubCommand(command, rest);
  const { values } = parseArgs({ args: rest, options, strict: true, allowPositionals: false });
  if (values.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  const accepted = ACCEPTED[command];
  const stray = accepted === undefined ? undefined : Object.keys(values).find((name) => !accepted.includes(name));
  if (stray !== undefined) throw new Error(`--${stray} is not an option of ${command}`);
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
        tls: serverTls(values),
      });
    case 'config':
      if (!values.print) throw new Error('config needs --print');
      return printConfig(values.config, serveLayers(serveFlags()));
    case 'cert': {
      // Loaded only here: the certificate library is not needed by the other commands.
      const { cert, DEFAULT_DAYS, DEFAULT_HOSTS } = await import('./cert.js');
      if (values.out === undefined) throw new Error('cert needs --out DIR, the directory to write the PEM files to');
      const days = values.days === undefined ? DEFAULT_DAYS : /^\d{1,4}$/.test(values.days) ? Number(values.days) : NaN;
      if (Number.isNaN(days)) throw new Error(`--days must be an integer from 1 to 3650, got '${values.days}'`);
      const hosts = values.hosts === undefined ? DEFAULT_HOSTS : values.hosts.split(',').map((host) => host.trim()).filter((host) => host !== '');
      return cert(values.out, hosts, days);
    }
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
        tls: clientTls(values),
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
  (error: Error & { code?: unknown }) => {
    const code = typeof error.code === 'string' && error.code.startsWith('HW_ERR_') ? `${error.code}: ` : '';
    process.stderr.write(`hybridwire: ${code}${error.message}\n`);
    process.exitCode = 2;
  },
);
