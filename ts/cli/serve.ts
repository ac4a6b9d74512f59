import { createServer } from '../api/server.js';
import type { Peer } from '../api/peer.js';
import { readConfig, type ConfigLayers, type ConfigSetting } from '../config/load-config.js';
import { pino } from 'pino';
import { Registry, collectDefaultMetrics } from 'prom-client';
import { serveMetrics, type HttpEndpoint } from './metrics-endpoint.js';
import { serveDashboard } from '../features/dashboard/dashboard-server.js';
import type { ServerTlsOptions } from '../transport/tls.js';

export interface ServeOptions {
  /** A TOML configuration file (--config). */
  configPath: string | undefined;
  /** Options given as flags (--host, --tcp-port, --udp-port), above the file and the environment. */
  flags: ConfigSetting[];
  /** The server's pino log (JSON lines on stderr) from this level up (--log-level). */
  logLevel: LogLevel;
  /** Serve GET /metrics on this port (--metrics-port; 0 picks one). */
  metricsPort?: number;
  /** Serve the dashboard page on this port (--dashboard-port; 0 picks one). */
  dashboardPort?: number;
  /** TLS (--tls-cert, --tls-key, --tls-ca, --require-client-cert); plaintext clients are then refused. */
  tls?: ServerTlsOptions;
}

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];
/** Warnings and errors only: a quiet server's stderr stays empty. */
export const DEFAULT_LOG_LEVEL: LogLevel = 'warn';

export function logLevel(value: string | undefined): LogLevel {
  if (value === undefined) return DEFAULT_LOG_LEVEL;
  if (!(LOG_LEVELS as readonly string[]).includes(value)) throw new Error(`--log-level must be one of ${LOG_LEVELS.join(', ')}, got '${value}'`);
  return value as LogLevel;
}

/** Where `hybridwire serve` listens unless told otherwise. */
export const SERVE_DEFAULTS: ConfigSetting[] = [
  { key: 'host', value: '0.0.0.0', source: 'default' },
  { key: 'tcpPort', value: 5000, source: 'default' },
  { key: 'udpPort', value: 5001, source: 'default' },
  // A tool to try hybridwire with answers all four built-in types (see serve() below).
  { key: 'builtins', value: true, source: 'default' },
];

/** A local socket (--path) replaces the default host and ports. */
const ADDRESS_DEFAULTS = new Set(['host', 'tcpPort', 'udpPort']);

export function serveLayers(flags: ConfigSetting[]): ConfigLayers {
  const local = flags.some((flag) => flag.key === 'path');
  return { flags, defaults: local ? SERVE_DEFAULTS.filter((setting) => !ADDRESS_DEFAULTS.has(setting.key)) : SERVE_DEFAULTS };
}

const UNHANDLED_SHOWN = 5;

function line(event: Record<string, unknown>): void {
  process.stdout.write(`${JSON.stringify(event)}\n`);
}

/**
 * Chat relay server: prints one JSON line per event; the first is {"event":"listening",...}. It
 * answers all four built-in types, stats and broadcast included (a library server answers only
 * ping and echo unless told otherwise): it is a tool to try hybridwire with, which `connect`'s
 * /stats and /broadcast use.
 */
export async function serve(options: ServeOptions): Promise<number> {
  const { options: config } = readConfig(options.configPath, undefined, serveLayers(options.flags));
  // Logs go to stderr, synchronously: stdout carries the event lines below, which scripts read.
  const logger = pino({ level: options.logLevel, base: { pid: process.pid } }, pino.destination({ dest: 2, sync: true }));
  // With --metrics-port: the server's metrics and the process's own (memory, CPU, event loop).
  const registry = options.metricsPort === undefined ? undefined : new Registry();
  if (registry) collectDefaultMetrics({ register: registry });
  const server = createServer({ ...config, ...(options.tls ? { tls: options.tls } : {}), logger, ...(registry ? { metrics: { registry } } : {}) });
  server.handle<{ text?: unknown }>('chat', (message, peer, info) => {
    const text = typeof message?.text === 'string' ? message.text : JSON.stringify(message);
    line({ event: 'chat', peer: peer.id, transport: info.transport, text });
    server.broadcast('chat', { from: peer.id.slice(0, 8), text }, { except: peer });
    if (info.transport === 'tcp') peer.send('chat_response', { text: `echo: ${text}` });
  });
  // Unhandled messages are shown, but only the first few of each type: a flood of them must not
  // turn the server into a logger bound by its stdout.
  const shown = new Map<string, number>();
  server.on('message', (type, payload, peer, info) => {
    const count = (shown.get(type) ?? 0) + 1;
    if (count > UNHANDLED_SHOWN + 1 || shown.size > 1000) return;
    shown.set(type, count);
    if (count > UNHANDLED_SHOWN) {
      line({ event: 'message', type, note: `more '${type}' messages are not shown; /stats counts them` });
      return;
    }
    line({ event: 'message', peer: peer.id, type, transport: info.transport, payload: payload instanceof Uint8Array ? `<${payload.length} bytes>` : payload });
  });
  server.on('connection', (peer: Peer) =>
    line({
      event: 'connection',
      peer: peer.id,
      address: peer.tcpAddress.address,
      port: peer.tcpAddress.port,
      ...(peer.encrypted ? { tls: true } : {}),
      ...(peer.certificate ? { certificate: { subject: peer.certificate.subject, fingerprint: peer.certificate.fingerprint } } : {}),
    }),
  );
  server.on('disconnect', (peer: Peer, error) => line({ event: 'disconnect', peer: peer.id, ...(error ? { code: (error as { code?: string }).code, reason: error.message } : {}) }));
  server.on('peerError', (peer, error) => line({ event: 'peerError', peer: peer?.id, code: (error as { code?: string }).code, reason: error.message }));
  // Signal handlers go in before the listening line: whoever reads that line may signal at once.
  let stop!: (signal: NodeJS.Signals) => void;
  const stopped = new Promise<NodeJS.Signals>((resolve) => (stop = resolve));
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  const endpoints: HttpEndpoint[] = [];
  let ports: Record<string, number | string>;
  try {
    const metrics = registry && (await serveMetrics(config.host, options.metricsPort!, registry));
    if (metrics) endpoints.push(metrics);
    const { host, tcpPort, udpPort, path } = await server.listen();
    const dashboard = options.dashboardPort === undefined ? undefined : await serveDashboard(server, { host: config.host, port: options.dashboardPort, title: path ?? `${host}:${tcpPort}` });
    if (dashboard) endpoints.push(dashboard);
    ports = { ...(path === undefined ? { tcpPort } : { path }), ...(udpPort === undefined ? {} : { udpPort }), ...(metrics ? { metricsPort: metrics.port } : {}), ...(dashboard ? { dashboardPort: dashboard.port } : {}) };
  } catch (error) {
    await Promise.all([server.close(), ...endpoints.map((endpoint) => endpoint.close())]);
    throw error;
  }
  line({ event: 'listening', ...ports, ...(server.cluster ? { cluster: server.cluster.name } : {}) });
  line({ event: 'shutdown', signal: await stopped });
  await Promise.all([server.close(), ...endpoints.map((endpoint) => endpoint.close())]);
  line({ event: 'closed' });
  return 0;
}
