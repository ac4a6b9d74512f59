/**
 * What `hybridwire bench` measures against: a server in this process, a server forked into a child
 * process (the hidden `bench-server` command, which reports its ports over IPC), or a running
 * server such as `hybridwire serve`. Each gives a receiver-side count of the one-way messages.
 */
import { HybridwireError } from '../errors.js';
import { fileURLToPath } from 'node:url';
import { createServer, type Server } from '../api/server.js';
import { connect, type Client } from '../api/client.js';
import type { Transport } from '../session/connection.js';

/** The transports a benchmark counts on: each message goes one of these ways. */
type CountedTransport = Exclude<Transport, 'auto'>;
import { Child, serveParent } from './bench-child.js';

export type Where = 'in-process' | 'separate-process' | 'remote';

export interface Target {
  where: Where;
  /** The server's process id, when it is ours (this process, or the forked child). */
  pid: number | undefined;
  host: string;
  tcpPort: number;
  udpPort: number | undefined;
  /** The message type the one-way cases send. */
  sinkType: string;
  /** 'receiver': the bench server's own handler counts; 'server-stats': deltas of the server's stats(). */
  countedBy: 'receiver' | 'server-stats';
  /** Messages received so far over `transport` (of the sink type, or of every type for server-stats). */
  count(transport: CountedTransport): Promise<number>;
  close(): Promise<void>;
}

const START_TIMEOUT_MS = 10_000;
const CALL_TIMEOUT_MS = 10_000;
const STOP_TIMEOUT_MS = 3_000;

function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout;
  return Promise.race([
    promise.finally(() => clearTimeout(timer)),
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${what} did not happen within ${ms} ms`)), ms);
    }),
  ]);
}

/** A server whose `bench` handler counts what arrives (TCP and UDP alike); builtins answer echo and ping. */
async function sinkServer(host: string): Promise<{ server: Server; counter: { messages: number }; tcpPort: number; udpPort: number | undefined }> {
  const counter = { messages: 0 };
  const server = createServer({ host, tcpPort: 0, udpPort: 0 });
  server.handle('bench', () => {
    counter.messages++;
  });
  server.on('error', () => {});
  const { tcpPort, udpPort } = await server.listen();
  return { server, counter, tcpPort, udpPort };
}

async function closeServer(server: Server): Promise<void> {
  await within(server.close(), STOP_TIMEOUT_MS + 3000, 'closing the bench server').catch(() => {});
}

export async function inProcessTarget(host: string): Promise<Target> {
  const { server, counter, tcpPort, udpPort } = await sinkServer(host);
  return {
    where: 'in-process',
    pid: process.pid,
    host,
    tcpPort,
    udpPort,
    sinkType: 'bench',
    countedBy: 'receiver',
    count: () => Promise.resolve(counter.messages),
    close: () => closeServer(server),
  };
}

/** Forks `hybridwire bench-server` (this very CLI) and talks to it over IPC. */
export async function separateTarget(host: string): Promise<Target> {
  const main = fileURLToPath(new URL('./main.js', import.meta.url));
  const child = new Child(main, { args: ['bench-server'], name: 'the bench server process' });
  const stop = () => child.stop(STOP_TIMEOUT_MS);
  let ports: { tcpPort: number; udpPort: number | undefined };
  try {
    ports = await child.call('start', { host }, START_TIMEOUT_MS);
  } catch (error) {
    await stop();
    throw error;
  }
  return {
    where: 'separate-process',
    pid: child.pid,
    host,
    tcpPort: ports.tcpPort,
    udpPort: ports.udpPort,
    sinkType: 'bench',
    countedBy: 'receiver',
    count: async () => (await child.call<{ messages: number }>('count', {}, CALL_TIMEOUT_MS)).messages,
    close: stop,
  };
}

/**
 * The hidden `bench-server` command: a counting server, started, counted and stopped by the
 * parent (`hybridwire bench --separate`) over IPC; it ends when the parent goes away.
 */
export function benchServerChild(): Promise<number> {
  if (typeof process.send !== 'function') {
    process.stderr.write('hybridwire: bench-server is internal: `hybridwire bench --separate` starts it\n');
    return Promise.resolve(2);
  }
  let sink: Awaited<ReturnType<typeof sinkServer>> | undefined;
  return new Promise<number>((resolve) => {
    serveParent({
      start: async ({ host }: { host: string }) => {
        sink = await sinkServer(host);
        return { tcpPort: sink.tcpPort, udpPort: sink.udpPort };
      },
      count: () => ({ messages: sink?.counter.messages ?? 0 }),
      stop: async () => {
        if (sink) await closeServer(sink.server);
        resolve(0);
      },
    });
  });
}

interface RemoteStats {
  tcp?: { messagesIn?: unknown };
  udp?: { messagesIn?: unknown };
}

/**
 * A running server (`hybridwire serve`, or any hybridwire server with the ping and stats
 * built-ins enabled, e.g. `builtins: true`): one-way
 * messages are sent as `ping`, which the builtin answers without a reply (and which serve does not
 * print), and counted from deltas of the server's `stats` on a control connection of our own.
 */
export async function remoteTarget(host: string, tcpPort: number, udpPort: number | undefined): Promise<Target> {
  const control = await connect({ host, tcpPort, udpPort: false, connectTimeoutMs: 5000 });
  control.on('error', () => {});
  let requests = 0;
  const count = async (transport: CountedTransport): Promise<number> => {
    // Each stats request is itself a message the server counts (before it answers).
    requests++;
    const stats = (await control.request('stats', undefined, { timeoutMs: CALL_TIMEOUT_MS })) as RemoteStats;
    const messagesIn = stats?.[transport]?.messagesIn;
    if (typeof messagesIn !== 'number') throw new Error(`the server's stats reply has no ${transport}.messagesIn: is it a hybridwire server with the stats built-in enabled (builtins: true, as hybridwire serve has)?`);
    return transport === 'tcp' ? messagesIn - requests : messagesIn;
  };
  // Fails early, with a clear message, if the server does not answer stats; the control
  // connection is not left open behind the failure (it would keep the process alive).
  try {
    await count('tcp');
  } catch (error) {
    await within(control.close(), STOP_TIMEOUT_MS + 3000, 'closing the control connection').catch(() => {});
    if ((error as { code?: unknown }).code === 'HW_ERR_NO_HANDLER') {
      throw new HybridwireError('HW_ERR_NO_HANDLER', `the server does not answer stats: is it a hybridwire server with the stats built-in enabled (builtins: true, as hybridwire serve has)?`);
    }
    throw error;
  }
  return {
    where: 'remote',
    pid: undefined,
    host,
    tcpPort,
    udpPort,
    sinkType: 'ping',
    countedBy: 'server-stats',
    count,
    close: () => within(control.close(), STOP_TIMEOUT_MS + 3000, 'closing the control connection').catch(() => {}),
  };
}

/** Connects `n` clients to the target, a few at a time; with `udp` false they open no UDP socket. */
export async function connectClients(target: Target, n: number, udp: boolean): Promise<Client[]> {
  const clients: Client[] = [];
  try {
    for (let i = 0; i < n; i += 16) {
      const batch: Array<Promise<Client>> = [];
      for (let j = i; j < Math.min(n, i + 16); j++) {
        const udpPort = udp ? target.udpPort : false;
        batch.push(connect({ host: target.host, tcpPort: target.tcpPort, ...(udpPort === undefined ? {} : { udpPort }), connectTimeoutMs: 5000 }));
      }
      const settled = await Promise.allSettled(batch);
      for (const result of settled) if (result.status === 'fulfilled') clients.push(result.value);
      const failed = settled.find((result) => result.status === 'rejected');
      if (failed) throw (failed as PromiseRejectedResult).reason;
    }
    for (const client of clients) client.on('error', () => {});
    return clients;
  } catch (error) {
    await closeClients(clients);
    throw error;
  }
}

export async function closeClients(clients: Client[]): Promise<void> {
  await within(Promise.allSettled(clients.map((client) => client.close())), 8000, 'closing the clients').catch(() => {});
}

/** Waits (bounded) until every client's UDP path has been answered by the server. */
export async function udpReady(clients: Client[], timeoutMs = 3000): Promise<boolean> {
  const until = performance.now() + timeoutMs;
  while (clients.some((client) => !client.udpReady)) {
    if (performance.now() >= until) return false;
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  return true;
}
