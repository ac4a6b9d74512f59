/**
 * ts/cli/bench-child.ts: parent <-> child control over the fork() IPC channel, with real child
 * processes (test/support/ipc-child.mjs, which answers through the built dist/cli/bench-child.js).
 * Every child a test forks is stopped, or killed by its PID, afterwards.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Child, type ChildOptions } from '../../ts/cli/bench-child.js';
import { ensureBuilt, withTimeout } from '../support/cli-process.js';

const SCRIPT = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'support', 'ipc-child.mjs');
const children: Child[] = [];

beforeAll(async () => {
  await ensureBuilt();
}, 240_000);

afterEach(async () => {
  for (const child of children.splice(0)) {
    if (!child.exited) child.process.kill('SIGKILL');
  }
});

function fork(options: ChildOptions = {}): Child {
  const child = new Child(SCRIPT, { name: 'the test child', ...options });
  children.push(child);
  return child;
}

/** Resolves with the child's exit code and signal once it has exited (fails the test after 10 s). */
function exitOf(child: Child): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  const exited = child.exited
    ? Promise.resolve({ code: child.process.exitCode, signal: child.process.signalCode })
    : new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.process.once('exit', (code, signal) => resolve({ code, signal })));
  return withTimeout(exited, 10_000, `the exit of child ${child.pid}`);
}

describe('Child.call and serveParent', () => {
  it("resolves each call with the child's result, concurrent calls each with their own", async () => {
    const child = fork();
    const replies = await Promise.all([1, 2, 3].map((n) => child.call('echo', { n, text: `call ${n}` }, 5000)));
    expect(replies).toEqual([1, 2, 3].map((n) => ({ n, text: `call ${n}` })));
  });

  it("rejects with the child's error, named after the child, and the child goes on answering", async () => {
    const child = fork();
    const error = (await child.call('fail', {}, 5000).catch((caught: unknown) => caught)) as Error;
    expect(error).toBeInstanceOf(Error);
    expect(error.message).toMatch(/^the test child: Error: it went wrong\n\s+at /);
    expect(await child.call('echo', { still: 'here' }, 5000)).toEqual({ still: 'here' });
  });

  it('rejects an op the child does not have', async () => {
    const child = fork();
    await expect(child.call('nope', {}, 5000)).rejects.toThrow(/^the test child: Error: unknown op 'nope'/);
  });

  it('rejects a call the child does not answer in time, and later replies still find their calls', async () => {
    const child = fork();
    await expect(child.call('never', {}, 50)).rejects.toThrow("the test child: 'never' timed out after 50 ms");
    expect(await child.call('echo', { value: 'after' }, 5000)).toEqual({ value: 'after' });
  });

  it('rejects the calls pending when the child exits, and any call after that', async () => {
    const child = fork();
    const pending = child.call('never', {}, 10_000);
    const exiting = child.call('exit', { code: 3 }, 10_000);
    await expect(pending).rejects.toThrow('the test child exited (code 3, signal null)');
    await expect(exiting).rejects.toThrow('the test child exited (code 3, signal null)');
    expect(child.exited).toBe(true);
    await expect(child.call('echo', {}, 5000)).rejects.toThrow('the test child has exited');
  });
});

describe('Child.waitEvent and notifyParent', () => {
  it('resolves with the data of the next event of that name, not of another', async () => {
    const child = fork();
    const ready = child.waitEvent<{ port: number }>('ready', 5000);
    expect(await child.call('emit', { event: 'other', data: 'ignored' }, 5000)).toBe('sent');
    expect(await child.call('emit', { event: 'ready', data: { port: 1234 } }, 5000)).toBe('sent');
    expect(await ready).toEqual({ port: 1234 });
  });

  it('rejects when no such event comes in time', async () => {
    const child = fork();
    await expect(child.waitEvent('ready', 50)).rejects.toThrow("the test child: no 'ready' within 50 ms");
  });
});

describe('the options of a child', () => {
  it('passes its arguments and Node options, and sends its stdout to a file descriptor when given one', async () => {
    const directory = fs.mkdtempSync(path.join(os.tmpdir(), 'hybridwire-child-'));
    const file = path.join(directory, 'stdout.txt');
    const fd = fs.openSync(file, 'w');
    try {
      const child = fork({ args: ['first', 'second'], execArgv: ['--expose-gc'], stdout: fd });
      expect(await child.call('argv', {}, 5000)).toEqual(['first', 'second']);
      expect(await child.call('hasGc', {}, 5000)).toBe(true);
      expect(await child.call('print', { text: 'to the file' }, 5000)).toBe(true);
      await child.stop(5000);
      expect(fs.readFileSync(file, 'utf8')).toBe('to the file\n');
    } finally {
      fs.closeSync(fd);
      fs.rmSync(directory, { recursive: true, force: true });
    }
    // Without those options: no arguments, no --expose-gc.
    const plain = fork();
    expect(await plain.call('argv', {}, 5000)).toEqual([]);
    expect(await plain.call('hasGc', {}, 5000)).toBe(false);
  });
});

describe('Child.stop', () => {
  it('asks the child to stop; the child answers, disconnects and exits 0', async () => {
    const child = fork();
    expect(await child.call('echo', { value: 'alive' }, 5000)).toEqual({ value: 'alive' });
    const exit = exitOf(child);
    await child.stop(5000);
    expect(child.exited).toBe(true);
    expect(await exit).toEqual({ code: 0, signal: null });
    // Stopping again is nothing to do.
    await child.stop(5000);
  });

  it('kills, by its PID, a child that does not stop within the timeout', async () => {
    const child = fork({ args: ['stubborn'] });
    expect(await child.call('echo', { value: 'alive' }, 5000)).toEqual({ value: 'alive' });
    const exit = exitOf(child);
    await child.stop(100);
    expect(await exit).toEqual({ code: null, signal: 'SIGKILL' });
  });

  it('a child exits when its parent goes away (the IPC channel closes)', async () => {
    const child = fork({ args: ['stubborn'] });
    expect(await child.call('echo', { value: 'alive' }, 5000)).toEqual({ value: 'alive' });
    const exit = exitOf(child);
    child.process.disconnect();
    expect(await exit).toEqual({ code: 0, signal: null });
  });
});
