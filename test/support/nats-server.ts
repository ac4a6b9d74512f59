/**
 * Real nats-server processes for tests (the Debian package nats-server), with JetStream on
 * (`-js -sd DIR`, a fresh directory per server). nats-server does not take port 0, so a free port
 * is found by binding and closing a socket, and the start is retried on another port if the server
 * loses the race for it. Processes are stopped by their PID; restart() starts the same server
 * again on the same port and store, as an operator restarting it would.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

/** Debian's package installs it in /usr/sbin; HYBRIDWIRE_NATS_SERVER names another. */
const CANDIDATES = process.env.HYBRIDWIRE_NATS_SERVER ? [process.env.HYBRIDWIRE_NATS_SERVER] : ['/usr/sbin/nats-server', '/usr/bin/nats-server'];
export const NATS_SERVER = CANDIDATES.find((candidate) => fs.existsSync(candidate)) ?? CANDIDATES[0]!;
export const natsServerFound = fs.existsSync(NATS_SERVER);
/** Why tests that need nats-server are skipped, or undefined when they can run. */
export const natsSkipReason = natsServerFound ? undefined : `${CANDIDATES.join(' and ')} missing: install the Debian package nats-server (apt-get install nats-server)`;

const READY_TIMEOUT_MS = 10_000;
const STOP_TIMEOUT_MS = 5_000;

/** A port nobody listens on at this moment (the kernel's choice for port 0, then released). */
export async function freePort(): Promise<number> {
  const server = net.createServer();
  server.listen(0, '127.0.0.1');
  await new Promise<void>((resolve, reject) => {
    server.once('listening', resolve);
    server.once('error', reject);
  });
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

export class NatsServer {
  readonly storeDir: string;
  port = 0;
  private child: ChildProcess | undefined;
  private output = '';

  private constructor(storeDir: string) {
    this.storeDir = storeDir;
  }

  /** Starts a nats-server with JetStream on a free loopback port. */
  static async start(): Promise<NatsServer> {
    const server = new NatsServer(fs.mkdtempSync(path.join(os.tmpdir(), 'hw-nats-')));
    let lastError: unknown;
    for (let attempt = 0; attempt < 5; attempt++) {
      try {
        await server.launch(await freePort());
        return server;
      } catch (error) {
        lastError = error;
      }
    }
    fs.rmSync(server.storeDir, { recursive: true, force: true });
    throw lastError as Error;
  }

  get url(): string {
    return `nats://127.0.0.1:${this.port}`;
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  get running(): boolean {
    return this.child !== undefined;
  }

  /** Kills the server with `signal` (SIGKILL: no goodbye to clients) and waits until it is gone. */
  async stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    const child = this.child;
    if (child === undefined) return;
    this.child = undefined;
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    process.kill(child.pid!, signal);
    const timer = setTimeout(() => {
      if (child.exitCode === null && child.signalCode === null) process.kill(child.pid!, 'SIGKILL');
    }, STOP_TIMEOUT_MS);
    await exited;
    clearTimeout(timer);
  }

  /** Starts the server again on the same port with the same JetStream store. */
  async restart(): Promise<void> {
    await this.stop();
    let lastError: unknown;
    // The port was ours a moment ago; another process may take it meanwhile, which fails the test.
    for (let attempt = 0; attempt < 20; attempt++) {
      try {
        await this.launch(this.port);
        return;
      } catch (error) {
        lastError = error;
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    }
    throw lastError as Error;
  }

  /** Stops the server and removes its store. */
  async dispose(): Promise<void> {
    await this.stop();
    fs.rmSync(this.storeDir, { recursive: true, force: true });
  }

  private async launch(port: number): Promise<void> {
    this.output = '';
    const child = spawn(NATS_SERVER, ['-a', '127.0.0.1', '-p', String(port), '-js', '-sd', this.storeDir], { stdio: ['ignore', 'pipe', 'pipe'] });
    const collect = (chunk: Buffer) => {
      // Only the start-up lines matter; keep the tail bounded.
      this.output = (this.output + chunk.toString()).slice(-16_384);
    };
    child.stdout!.on('data', collect);
    child.stderr!.on('data', collect);
    try {
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => done(new Error(`nats-server did not become ready on port ${port} in ${READY_TIMEOUT_MS} ms:\n${this.output}`)), READY_TIMEOUT_MS);
        const onData = () => {
          if (this.output.includes('Server is ready')) done();
        };
        const onExit = (code: number | null) => done(new Error(`nats-server exited (${code}) on port ${port}:\n${this.output}`));
        const done = (error?: Error) => {
          clearTimeout(timer);
          child.stdout!.off('data', onData);
          child.stderr!.off('data', onData);
          child.off('exit', onExit);
          if (error) reject(error);
          else resolve();
        };
        child.stdout!.on('data', onData);
        child.stderr!.on('data', onData);
        child.once('exit', onExit);
      });
    } catch (error) {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      throw error;
    }
    this.child = child;
    this.port = port;
  }
}
