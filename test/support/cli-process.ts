/**
 * Helpers for tests that drive the real `hybridwire` command line (dist/cli/main.js) as child
 * processes: build once, spawn, read output line by line, wait for a line with a deadline, and make
 * sure every process a test started is ended (by its PID) afterwards.
 */
import { execFile, spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

export const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
export const CLI = path.join(REPO, 'dist', 'cli', 'main.js');
export const DIST_INDEX = path.join(REPO, 'dist', 'index.js');

/** The library as built into dist/, typed from its sources. */
export type Library = typeof import('../../ts/index.js');

// ---------------------------------------------------------------------------------------------
// Building dist/ once

function tsSources(dir: string): string[] {
  const files: string[] = [];
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) files.push(...tsSources(full));
    else if (entry.name.endsWith('.ts') && !entry.name.endsWith('.d.ts')) files.push(full);
  }
  return files;
}

/** The sources under ts/ whose dist/ output is missing or older than the source. */
export function staleOutputs(): string[] {
  const root = path.join(REPO, 'ts');
  const stale: string[] = [];
  for (const source of tsSources(root)) {
    const output = path.join(REPO, 'dist', path.relative(root, source)).replace(/\.ts$/, '.js');
    let outputTime: number;
    try {
      outputTime = fs.statSync(output).mtimeMs;
    } catch {
      stale.push(path.relative(REPO, source));
      continue;
    }
    if (fs.statSync(source).mtimeMs > outputTime) stale.push(path.relative(REPO, source));
  }
  return stale;
}

function runTsc(): Promise<void> {
  return new Promise((resolve, reject) => {
    execFile('npx', ['tsc', '-p', 'tsconfig.build.json'], { cwd: REPO, encoding: 'utf8', timeout: 180_000, maxBuffer: 16 * 1024 * 1024 }, (error, stdout, stderr) => {
      if (error) {
        const output = `${stdout}${stderr}`.split('\n').filter((line) => !line.startsWith('npm warn')).join('\n').trim();
        reject(new Error(`npx tsc -p tsconfig.build.json failed (${error.code ?? error.signal ?? error.message}):\n${output}`));
      } else {
        resolve();
      }
    });
  });
}

const lockDir = path.join(os.tmpdir(), `hybridwire-tsc-${createHash('sha1').update(REPO).digest('hex').slice(0, 12)}.lock`);

async function withBuildLock<T>(work: () => Promise<T>): Promise<T> {
  const deadline = Date.now() + 240_000;
  for (;;) {
    try {
      fs.mkdirSync(lockDir);
      break;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      // A lock left behind by a killed run is stale after three minutes.
      try {
        if (Date.now() - fs.statSync(lockDir).mtimeMs > 180_000) fs.rmSync(lockDir, { recursive: true, force: true });
      } catch {
        // Removed by its owner meanwhile.
      }
      if (Date.now() > deadline) throw new Error(`timed out waiting for the build lock ${lockDir}`);
      // Another test file is compiling: poll for its lock to go.
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
  try {
    return await work();
  } finally {
    fs.rmSync(lockDir, { recursive: true, force: true });
  }
}

/**
 * Compiles ts/ into dist/ with `npx tsc -p tsconfig.build.json` unless every output is newer than
 * its source. Test files running in parallel take a lock, so only one of them compiles.
 * A failing compile fails the caller with tsc's output.
 */
export async function ensureBuilt(): Promise<void> {
  await withBuildLock(async () => {
    if (staleOutputs().length > 0) await runTsc();
  });
  if (!fs.existsSync(CLI)) throw new Error(`${CLI} is missing after the build`);
}

/** Imports the built library (after ensureBuilt()). */
export async function loadLibrary(): Promise<Library> {
  return (await import(pathToFileURL(DIST_INDEX).href)) as Library;
}

// ---------------------------------------------------------------------------------------------
// Processes

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface WaitOptions {
  /** Deadline in ms; the wait rejects after it. Default 5000. */
  timeoutMs?: number;
  /** Only lines at this index or later count. Default 0 (every line so far). */
  from?: number;
  stream?: 'stdout' | 'stderr';
}

export interface LineMatch {
  line: string;
  index: number;
  match: RegExpExecArray;
}

const running = new Set<CliProcess>();

/** One `hybridwire` process, with its output split into lines as it arrives. */
export class CliProcess {
  readonly stdout: string[] = [];
  readonly stderr: string[] = [];
  exit: Exit | undefined;
  readonly exited: Promise<Exit>;
  private readonly child: ChildProcessWithoutNullStreams;
  private readonly partial = { stdout: '', stderr: '' };
  private waiters = new Set<() => void>();

  /** `env`: variables added to (or, as undefined, removed from) this process's environment; `cwd`: where it runs. */
  constructor(
    readonly args: string[],
    env: NodeJS.ProcessEnv = {},
    cwd = REPO,
  ) {
    this.child = spawn(process.execPath, [CLI, ...args], { cwd, stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, NODE_OPTIONS: '', ...env } });
    running.add(this);
    for (const stream of ['stdout', 'stderr'] as const) {
      this.child[stream].setEncoding('utf8');
      this.child[stream].on('data', (chunk: string) => {
        const parts = (this.partial[stream] + chunk).split('\n');
        this.partial[stream] = parts.pop()!;
        for (const part of parts) this[stream].push(part.replace(/\r$/, ''));
        this.wake();
      });
    }
    // Writing to the stdin of a process that has gone is not what a test checks.
    this.child.stdin.on('error', () => {});
    this.exited = new Promise((resolve) => {
      this.child.on('close', (code, signal) => {
        for (const stream of ['stdout', 'stderr'] as const) {
          if (this.partial[stream] !== '') this[stream].push(this.partial[stream]);
          this.partial[stream] = '';
        }
        this.exit = { code, signal };
        running.delete(this);
        this.wake();
        resolve(this.exit);
      });
    });
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  /** Writes one line to stdin. */
  send(line: string): void {
    this.child.stdin.write(`${line}\n`);
  }

  /** Closes stdin (end of input). */
  endInput(): void {
    this.child.stdin.end();
  }

  signal(signal: NodeJS.Signals): void {
    if (this.exit === undefined) this.child.kill(signal);
  }

  /** Ends the process by its PID (SIGKILL) if it is still running. */
  async kill(): Promise<void> {
    if (this.exit !== undefined) return;
    this.child.kill('SIGKILL');
    await this.exited;
  }

  /** Everything printed so far, for failure messages. */
  transcript(): string {
    const status = this.exit === undefined ? 'still running' : `exited with code ${this.exit.code}, signal ${this.exit.signal}`;
    return `hybridwire ${this.args.join(' ')} (pid ${this.pid}, ${status})\n--- stdout ---\n${this.stdout.join('\n')}\n--- stderr ---\n${this.stderr.join('\n')}\n---`;
  }

  /** The first line (at index `from` or later) matching `pattern`, or what is already there. */
  findLine(pattern: RegExp, options: Omit<WaitOptions, 'timeoutMs'> = {}): LineMatch | undefined {
    const lines = this[options.stream ?? 'stdout'];
    for (let index = options.from ?? 0; index < lines.length; index++) {
      const match = new RegExp(pattern.source, pattern.flags.replace('g', '')).exec(lines[index]!);
      if (match) return { line: lines[index]!, index, match };
    }
    return undefined;
  }

  /**
   * Waits for a line matching `pattern`. Rejects, with the transcript, when the deadline passes or
   * the process exits without printing one.
   */
  waitForLine(pattern: RegExp, options: WaitOptions = {}): Promise<LineMatch> {
    const timeoutMs = options.timeoutMs ?? 5000;
    const stream = options.stream ?? 'stdout';
    return new Promise((resolve, reject) => {
      const check = () => {
        const found = this.findLine(pattern, options);
        if (found) {
          done();
          resolve(found);
        } else if (this.exit !== undefined) {
          done();
          reject(new Error(`the process ended without printing a line matching ${pattern} on ${stream}\n${this.transcript()}`));
        }
      };
      const timer = setTimeout(() => {
        done();
        reject(new Error(`no line matching ${pattern} on ${stream} within ${timeoutMs} ms\n${this.transcript()}`));
      }, timeoutMs);
      const done = () => {
        clearTimeout(timer);
        this.waiters.delete(check);
      };
      this.waiters.add(check);
      check();
    });
  }

  /** Waits for the process to exit; rejects (with the transcript) after `timeoutMs`. */
  waitForExit(timeoutMs = 10_000): Promise<Exit> {
    return withTimeout(this.exited, timeoutMs, () => `the process did not exit within ${timeoutMs} ms\n${this.transcript()}`);
  }

  private wake(): void {
    for (const waiter of [...this.waiters]) waiter();
  }
}

/** Starts `hybridwire ...args` (in the repository, or in `cwd`). */
export function startCli(args: string[], env?: NodeJS.ProcessEnv, cwd?: string): CliProcess {
  return new CliProcess(args, env, cwd);
}

/** Runs `hybridwire ...args` to completion (stdin closed at once) with a deadline. */
export async function runCli(args: string[], timeoutMs = 20_000, env?: NodeJS.ProcessEnv, cwd?: string): Promise<CliProcess & { exit: Exit }> {
  const cli = startCli(args, env, cwd);
  cli.endInput();
  await cli.waitForExit(timeoutMs);
  return cli as CliProcess & { exit: Exit };
}

/** Ends, by PID, every process started through this module that is still running. */
export async function killAll(): Promise<void> {
  await Promise.all([...running].map((cli) => cli.kill()));
}

// ---------------------------------------------------------------------------------------------
// A running `hybridwire serve`

export const LISTENING_LINE = /^\{"event":"listening","tcpPort":(\d+),"udpPort":(\d+)\}$/;

export interface Serve {
  cli: CliProcess;
  tcpPort: number;
  udpPort: number;
}

/** Starts `hybridwire serve` on port 0 and waits for its listening line (which must be its first). */
export async function startServe(host = '127.0.0.1'): Promise<Serve> {
  const cli = startCli(['serve', '--host', host, '--tcp-port', '0', '--udp-port', '0']);
  await cli.waitForLine(/./, { timeoutMs: 10_000 });
  const first = LISTENING_LINE.exec(cli.stdout[0]!);
  if (!first) throw new Error(`the first line of serve is not the listening line\n${cli.transcript()}`);
  return { cli, tcpPort: Number(first[1]), udpPort: Number(first[2]) };
}

/** The JSON event lines a serve process printed (from index `from`). */
export function events(cli: CliProcess, from = 0): Array<Record<string, unknown>> {
  return cli.stdout.slice(from).flatMap((line) => {
    try {
      const value = JSON.parse(line) as unknown;
      return typeof value === 'object' && value !== null ? [value as Record<string, unknown>] : [];
    } catch {
      return [];
    }
  });
}

/** A regex matching a serve event line whose JSON has these string fields (in any order). */
export function eventLine(fields: Record<string, string>): RegExp {
  return new RegExp(`^\\{${Object.entries(fields).map(([key, value]) => `(?=.*"${escapeRegex(key)}":${escapeRegex(JSON.stringify(value))})`).join('')}.*\\}$`);
}

export function escapeRegex(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
}

// ---------------------------------------------------------------------------------------------
// Miscellany

export function withTimeout<T>(promise: Promise<T>, ms: number, what: string | (() => string)): Promise<T> {
  let timer: NodeJS.Timeout;
  return Promise.race([
    promise.finally(() => clearTimeout(timer)),
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(typeof what === 'string' ? `${what} did not happen within ${ms} ms` : what())), ms);
    }),
  ]);
}

/** A loopback TCP port nothing listens on (bound, then released). */
export function freeTcpPort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, host, () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

// ---------------------------------------------------------------------------------------------
// The README's usage example

export class ReadmeExampleMissing extends Error {}

/**
 * The first ```ts block in the "## Usage" section of a README (the section ends at the next heading
 * of level 1 or 2). Throws ReadmeExampleMissing when there is none.
 */
export function extractUsageExample(markdown: string): string {
  const lines = markdown.split(/\r?\n/);
  const heading = lines.findIndex((line) => /^##\s+Usage\s*$/.test(line));
  if (heading < 0) throw new ReadmeExampleMissing('README example is missing: README.md has no "## Usage" heading');
  for (let i = heading + 1; i < lines.length; i++) {
    if (/^#{1,2}\s/.test(lines[i]!)) break;
    if (/^```(ts|typescript)\s*$/.test(lines[i]!)) {
      const end = lines.findIndex((line, j) => j > i && /^```\s*$/.test(line));
      if (end < 0) throw new ReadmeExampleMissing(`README example is missing: the \`\`\`ts block under "## Usage" (line ${i + 1}) is never closed`);
      const code = lines.slice(i + 1, end).join('\n');
      if (code.trim() === '') throw new ReadmeExampleMissing('README example is missing: the ```ts block under "## Usage" is empty');
      return `${code}\n`;
    }
  }
  throw new ReadmeExampleMissing('README example is missing: no ```ts code block under the "## Usage" heading of README.md');
}

/** Points the example's `from 'hybridwire'` imports at the built dist/index.js. */
export function rewriteImports(code: string, indexPath = DIST_INDEX): string {
  const target = pathToFileURL(indexPath).href;
  return code.replace(/(\bfrom\s*|\bimport\s*\(\s*|\bimport\s+)(['"])hybridwire\2/g, (_all, keyword: string, quote: string) => `${keyword}${quote}${target}${quote}`);
}

/**
 * What the example says it prints: the trailing `// comment` of each line that calls console.log,
 * in order (`console.log(x); // hello` expects a line `hello`).
 */
export function expectedOutputs(code: string): string[] {
  const expected: string[] = [];
  for (const line of code.split('\n')) {
    if (!line.includes('console.log(')) continue;
    const comment = /\)\s*;?\s*\/\/\s?(.*?)\s*$/.exec(line);
    if (comment && comment[1] !== '') expected.push(comment[1]!);
  }
  return expected;
}
