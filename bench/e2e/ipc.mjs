// Parent <-> child control over the fork() IPC channel: numbered requests, one reply each, every
// wait bounded. Children answer ops from a table and exit when the parent goes away.
import { fork } from 'node:child_process';

export class Child {
  constructor(script, { execArgv = [], name = script } = {}) {
    this.name = name;
    this.nextId = 1;
    this.pending = new Map();
    this.listeners = new Map();
    this.exited = false;
    this.process = fork(script, [], { execArgv, stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
    this.process.on('message', (message) => this.onMessage(message));
    this.process.on('exit', (code, signal) => {
      this.exited = true;
      for (const { reject, timer } of this.pending.values()) {
        clearTimeout(timer);
        reject(new Error(`${this.name} exited (code ${code}, signal ${signal})`));
      }
      this.pending.clear();
    });
  }

  get pid() {
    return this.process.pid;
  }

  /** Sends `op` and resolves with the child's result; rejects on its error, its exit or the timeout. */
  call(op, args = {}, timeoutMs = 30_000) {
    if (this.exited) return Promise.reject(new Error(`${this.name} has exited`));
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new Error(`${this.name}: '${op}' timed out after ${timeoutMs} ms`));
      }, timeoutMs);
      this.pending.set(id, { resolve, reject, timer });
      this.process.send({ id, op, args });
    });
  }

  /** Resolves with the next unsolicited event named `event` the child sends, within `timeoutMs`. */
  waitEvent(event, timeoutMs) {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.listeners.delete(event);
        reject(new Error(`${this.name}: no '${event}' within ${timeoutMs} ms`));
      }, timeoutMs);
      this.listeners.set(event, (data) => {
        clearTimeout(timer);
        this.listeners.delete(event);
        resolve(data);
      });
    });
  }

  onMessage(message) {
    if (message.event !== undefined) {
      this.listeners.get(message.event)?.(message.data);
      return;
    }
    const waiter = this.pending.get(message.id);
    if (!waiter) return;
    this.pending.delete(message.id);
    clearTimeout(waiter.timer);
    if (message.ok) waiter.resolve(message.result);
    else waiter.reject(new Error(`${this.name}: ${message.error}`));
  }

  /** Asks the child to stop, then kills it (by its own PID) if it has not exited in time. */
  async stop(timeoutMs = 5000) {
    if (this.exited) return;
    const exited = new Promise((resolve) => this.process.once('exit', resolve));
    this.call('stop', {}, timeoutMs).catch(() => {});
    const timer = setTimeout(() => {
      if (!this.exited) this.process.kill('SIGKILL');
    }, timeoutMs);
    await exited;
    clearTimeout(timer);
  }
}

/** In a child: answers the parent's requests from `ops` (name -> async function(args)). */
export function serveParent(ops) {
  process.on('disconnect', () => process.exit(0));
  process.on('message', async ({ id, op, args }) => {
    try {
      const handler = ops[op];
      if (!handler) throw new Error(`unknown op '${op}'`);
      const result = await handler(args);
      process.send({ id, ok: true, result });
      if (op === 'stop') process.disconnect();
    } catch (error) {
      process.send({ id, ok: false, error: error?.stack ?? String(error) });
    }
  });
}

/** In a child: sends an unsolicited event to the parent. */
export function notifyParent(event, data) {
  process.send({ event, data });
}
