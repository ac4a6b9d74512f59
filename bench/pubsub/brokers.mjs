// The brokers of the pub/sub benchmark, each in a process of its own on 127.0.0.1: aedes and
// hybridwire in a Node child (broker-process.mjs), mosquitto and nats-server (the Debian packages)
// as their own binaries on a free port, mosquitto from a generated configuration file. Every
// process is stopped by its PID.
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Child } from '../e2e/harness.mjs';

const BROKER_PROCESS = fileURLToPath(new URL('./broker-process.mjs', import.meta.url));
const READY_MS = 10_000;
const STOP_MS = 3_000;
const PORT_ATTEMPTS = 3;
const CLUSTER_NODES = 3;

export const binaries = {
  mosquitto: { path: process.env.MOSQUITTO ?? '/usr/sbin/mosquitto', debianPackage: 'mosquitto' },
  nats: { path: process.env.NATS_SERVER ?? (existsSync('/usr/sbin/nats-server') ? '/usr/sbin/nats-server' : '/usr/bin/nats-server'), debianPackage: 'nats-server' },
};

/** A reason the system's broker cannot run here, or undefined. */
export function unavailable(system) {
  const binary = binaries[system === 'hybridwire-cluster' ? 'nats' : system];
  if (binary && !existsSync(binary.path)) return `${binary.path} not found (install the Debian package ${binary.debianPackage})`;
  return undefined;
}

/** A port free on `host` a moment ago (the broker binaries take no port 0; a race is retried). */
function freePort(host) {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, host, () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

function canConnect(host, port) {
  return new Promise((resolve) => {
    const socket = net.connect({ host, port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

/** Stops a spawned process by its PID: SIGTERM, then SIGKILL if it has not exited in time. */
async function stopProcess(child, exited) {
  if (child.exitCode !== null || child.signalCode !== null) return;
  try {
    process.kill(child.pid, 'SIGTERM');
  } catch {
    return;
  }
  const timer = setTimeout(() => {
    try {
      process.kill(child.pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }, STOP_MS);
  await exited;
  clearTimeout(timer);
}

async function spawnListening(name, host, command) {
  let lastError;
  for (let attempt = 0; attempt < PORT_ATTEMPTS; attempt++) {
    const port = await freePort(host);
    const { path, args, cleanup } = command(port);
    const child = spawn(path, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    let output = '';
    child.stderr.on('data', (chunk) => {
      output = (output + chunk.toString()).slice(-2000);
    });
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.once('error', () => {});
    const until = Date.now() + READY_MS;
    let ready = false;
    while (!ready && Date.now() < until && child.exitCode === null && child.signalCode === null) {
      ready = await canConnect(host, port);
      if (!ready) await new Promise((resolve) => setTimeout(resolve, 25));
    }
    if (ready) {
      return {
        pid: child.pid,
        address: { host, port },
        stop: async () => {
          await stopProcess(child, exited);
          cleanup?.();
        },
      };
    }
    await stopProcess(child, exited);
    cleanup?.();
    lastError = new Error(`${name} did not listen on ${host}:${port}: ${output.trim().split('\n').slice(-2).join(' / ') || 'no output'}`);
  }
  throw lastError;
}

function mosquitto(host) {
  return spawnListening('mosquitto', host, (port) => {
    const dir = mkdtempSync(join(tmpdir(), 'hybridwire-mosquitto-'));
    const config = join(dir, 'mosquitto.conf');
    writeFileSync(
      config,
      [
        `listener ${port} ${host}`,
        'allow_anonymous true',
        'persistence false',
        // No queue limit, so that every delivery is counted (the default, 1000, drops past it).
        'max_queued_messages 0',
        'log_dest stderr',
        'log_type error',
        '',
      ].join('\n'),
    );
    return { path: binaries.mosquitto.path, args: ['-c', config], cleanup: () => rmSync(dir, { recursive: true, force: true }) };
  });
}

/** nats-server; with `jetStream`, `-js` and a store directory of its own, removed when it stops (the cluster needs it). */
function nats(host, { jetStream = false } = {}) {
  return spawnListening('nats-server', host, (port) => {
    if (!jetStream) return { path: binaries.nats.path, args: ['-a', host, '-p', String(port)] };
    const dir = mkdtempSync(join(tmpdir(), 'hybridwire-nats-'));
    return { path: binaries.nats.path, args: ['-a', host, '-p', String(port), '-js', '-sd', dir], cleanup: () => rmSync(dir, { recursive: true, force: true }) };
  });
}

async function nodeBroker(system, host) {
  const child = new Child(BROKER_PROCESS, { name: `${system} broker` });
  try {
    const { address } = await child.call('start', { system, host }, 15_000);
    return { pid: child.pid, address, stop: () => child.stop(), stats: () => child.call('stats') };
  } catch (error) {
    await child.stop();
    throw error;
  }
}

/**
 * Three hybridwire nodes, each in a Node process of its own, joined by `createServer({ cluster: {
 * nats } })` over one nats-server (`-js`: the cluster keeps QoS ≥ 1 and retained messages in
 * JetStream; the benchmark's QoS 0 goes over core NATS) on a free port. The publisher connects to the first node
 * (`address`); subscriber process i connects to `subscriberAddresses[i % 3]`, so that subscribers
 * are spread over every node and two thirds of the deliveries cross NATS.
 */
async function hybridwireCluster(host, nodes = CLUSTER_NODES) {
  const engine = await nats(host, { jetStream: true });
  const started = [];
  try {
    const url = `nats://${host.includes(':') ? `[${host}]` : host}:${engine.address.port}`;
    await Promise.all(
      Array.from({ length: nodes }, async (_, i) => {
        const child = new Child(BROKER_PROCESS, { name: `hybridwire cluster node ${i}` });
        started[i] = child;
        const { address } = await child.call('start', { system: 'hybridwire-cluster', host, nats: url, name: `bench-${i}` }, 15_000);
        child.address = address;
      }),
    );
    return {
      pid: started[0].pid,
      pids: [engine.pid, ...started.map((child) => child.pid)],
      address: started[0].address,
      subscriberAddresses: started.map((child) => child.address),
      settle: () => Promise.all(started.map((child) => child.call('settle', {}, 15_000))),
      stats: () => started[0].call('stats'),
      stop: async () => {
        await Promise.all(started.map((child) => child.stop()));
        await engine.stop();
      },
    };
  } catch (error) {
    await Promise.all(started.filter(Boolean).map((child) => child.stop()));
    await engine.stop();
    throw error;
  }
}

/** Starts `system`'s broker; resolves with its address and a stop(). */
export function startBroker(system, host) {
  if (system === 'mosquitto') return mosquitto(host);
  if (system === 'nats') return nats(host);
  if (system === 'hybridwire-cluster') return hybridwireCluster(host);
  return nodeBroker(system, host);
}
