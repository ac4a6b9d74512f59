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

export const binaries = {
  mosquitto: { path: process.env.MOSQUITTO ?? '/usr/sbin/mosquitto', debianPackage: 'mosquitto' },
  nats: { path: process.env.NATS_SERVER ?? (existsSync('/usr/sbin/nats-server') ? '/usr/sbin/nats-server' : '/usr/bin/nats-server'), debianPackage: 'nats-server' },
};

/** A reason the system's broker cannot run here, or undefined. */
export function unavailable(system) {
  const binary = binaries[system];
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

function nats(host) {
  return spawnListening('nats-server', host, (port) => ({ path: binaries.nats.path, args: ['-a', host, '-p', String(port)] }));
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

/** Starts `system`'s broker; resolves with its address and a stop(). */
export function startBroker(system, host) {
  if (system === 'mosquitto') return mosquitto(host);
  if (system === 'nats') return nats(host);
  return nodeBroker(system, host);
}
