/**
 * Parent <-> child control for benchmark processes over the fork() IPC channel: numbered requests,
 * one reply each, every wait bounded. `hybridwire bench --separate` runs its server this way, and
 * bench/e2e every server and client. Children answer ops from a table and exit when the parent
 * goes away.
 */
import { fork, type ChildProcess } from 'node:child_process';

export interface ChildOptions {
  /** Arguments after the script. */
  args?: string[];
  /** Node options of the child (e.g. --expose-gc, --cpu-prof). */
  execArgv?: string[];
  /** Names the child in error messages. */
  name?: string;
  /** Where the child's stdout goes: nowhere by default, or an open file descriptor. */
  stdout?: 'ignore' | 'inherit' | number;
}

interface Reply {
  id?: number;
  ok?: boolean;
  result?: unknown;
  error?: string;
  event?: string;
  data?: unknown;
}

interface Waiter {
  resolve: (value: unknown) => void;
  reject: (error: Error) => void;
  timer: NodeJS.Timeout;
}

export class Child {
  readonly name: string;
  readonly process: ChildProcess;
  exited = false;
  private nextId = 1;
  private readonly pending = new Map<number, Waiter>();
  private readonly listeners = new Map<string, (data: unknown) => void>();
  private readonly exit: Promise<void>;

  constructor(script: string, { args = [], execArgv = [], name = script, stdout = 'ignore' }: ChildOptions = {}) {
    this.name = name;
    this.process = fork(script, args, { execArgv, stdio: ['ignore', stdout, 'inherit', 'ipc'] });
    this.process.on('message', (message: Reply) => this.onMessage(message));
    this.process.on('error', () => {});
    this.exit = new Promise((resolve) => {
      this.process.once('exit', (code, signal) => {
        this.exited = true;
        for (const { reject, timer } of this.pending.values()) {
          clearTimeout(timer);
          reject(new Error(`${this.name} exited (code ${code}, signal ${signal})`));
        }
        this.pending.clear();
        resolve();
      });
    });
  }

  get pid(): number | undefined {
    return this.process.pid;
  }

  /** Sends `op` and resolves with the child's result; rejects on its error, its exit or the timeout. */
  call<T = unknown>(op: string, args: object = {}, timeoutMs = 30_000): Promise<T> {
    if (this.exited || !this.process.connected) return Promise.reject(new Error(`${this.name} has exited`));
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new Error(`${this.name}: '${op}' timed out after ${timeoutMs} ms`));
      }, timeoutMs);
      this.pending.set(id, { resolve: resolve as (value: unknown) => void, reject, timer });
      this.process.send({ id, op, args });
    });
  }

  /** Resolves with the next unsolicited event named `event` the child sends, within `timeoutMs`. */
  waitEvent<T = unknown>(event: string, timeoutMs: number): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.listeners.delete(event);
        reject(new Error(`${this.name}: no '${event}' within ${timeoutMs} ms`));
      }, timeoutMs);
      this.listeners.set(event, (data) => {
        clearTimeout(timer);
        this.listeners.delete(event);
        resolve(data as T);
      });
    });
  }

  private onMessage(message: Reply): void {
    if (message.event !== undefined) {
      this.listeners.get(message.event)?.(message.data);
      return;
    }
    const waiter = message.id === undefined ? undefined : this.pending.get(message.id);
    if (!waiter) return;
    this.pending.delete(message.id!);
    clearTimeout(waiter.timer);
    if (message.ok) waiter.resolve(message.result);
    else waiter.reject(new Error(`${this.name}: ${message.error}`));
  }

  /** Asks the child to stop, then kills it (by its own PID) if it has not exited in time. */
  async stop(timeoutMs = 5000): Promise<void> {
    if (this.exited) return;
    this.call('stop', {}, timeoutMs).catch(() => {});
    const timer = setTimeout(() => {
      if (!this.exited) this.process.kill('SIGKILL');
    }, timeoutMs);
    await this.exit;
    clearTimeout(timer);
  }
}

/** The ops of a child: each takes the parent's arguments and returns (or resolves with) the result. */
export type Ops = Record<string, (args: never) => unknown>;

/**
 * In a child: answers the parent's requests from `ops`; after answering `stop` it disconnects, and
 * it exits when the parent goes away (Ctrl-C in a terminal reaches the whole process group: the
 * parent decides when its children stop).
 */
export function serveParent(ops: Ops): void {
  process.on('SIGINT', () => {});
  process.on('disconnect', () => process.exit(0));
  process.on('message', async ({ id, op, args }: { id: number; op: string; args: unknown }) => {
    try {
      const handler = ops[op];
      if (!handler) throw new Error(`unknown op '${op}'`);
      const result = await handler(args as never);
      process.send!({ id, ok: true, result });
      if (op === 'stop') process.disconnect();
    } catch (error) {
      process.send!({ id, ok: false, error: (error as Error)?.stack ?? String(error) });
    }
  });
}

/** In a child: sends an unsolicited event to the parent. */
export function notifyParent(event: string, data: unknown): void {
  process.send!({ event, data });
}
