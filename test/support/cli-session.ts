/**
 * The set-up shared by the tests of the command line's modules (serve, interactive, demo, main):
 * dist/ built once, the built library loaded, and after each test every step deferred and every
 * process started ended by its PID. Also a library client of a running `hybridwire serve`, and an
 * interactive `hybridwire connect` driven line by line.
 */
import { afterAll, afterEach, beforeAll, expect } from 'vitest';
import type { Client } from '../../ts/index.js';
import { type CliProcess, type Library, type Serve, ensureBuilt, eventLine, killAll, loadLibrary, startCli } from './cli-process.js';

type Step = () => Promise<unknown> | unknown;

export interface CliHarness {
  /** The library as built into dist/ (after the beforeAll this registers). */
  readonly lib: Library;
  /** Runs `step` after the test, last deferred first. */
  defer(step: Step): void;
  /**
   * A library client of `serve`, closed after the test. Like a user watching the server's output,
   * it waits for serve to print the connection: connect() resolves when the client sends
   * HELLO_DONE, which the server may not have read yet.
   */
  libraryClient(serve: Serve): Promise<Client>;
}

/** Registers the hooks of a CLI test file; call it once, at the top. */
export function cliHarness(): CliHarness {
  let lib: Library | undefined;
  const cleanup: Step[] = [];
  beforeAll(async () => {
    await ensureBuilt();
    lib = await loadLibrary();
  }, 240_000);
  afterEach(async () => {
    for (const step of cleanup.splice(0).reverse()) await Promise.resolve(step()).catch(() => {});
    await killAll();
  });
  afterAll(async () => {
    await killAll();
  });
  const harness: CliHarness = {
    get lib(): Library {
      if (lib === undefined) throw new Error('the library is loaded in beforeAll');
      return lib;
    },
    defer: (step) => {
      cleanup.push(step);
    },
    libraryClient: async (serve) => {
      const client = await harness.lib.connect({ host: '127.0.0.1', tcpPort: serve.tcpPort, udpPort: serve.udpPort });
      cleanup.push(() => client.close());
      await serve.cli.waitForLine(eventLine({ event: 'connection', peer: client.sessionId! }));
      return client;
    },
  };
  return harness;
}

/** Starts `hybridwire connect` against a serve and waits for its "connected" line; returns its session id. */
export async function startConnect(serve: Serve, extra: string[] = [], host = '127.0.0.1'): Promise<{ cli: CliProcess; session: string }> {
  const cli = startCli(['connect', '--host', host, '--tcp-port', String(serve.tcpPort), '--udp-port', String(serve.udpPort), ...extra]);
  const { match } = await cli.waitForLine(/^connected to (.+):(\d+) \(session ([0-9a-f-]+), mode (step|burst)\)/, { timeoutMs: 10_000 });
  expect(match[1]).toBe(host);
  expect(Number(match[2])).toBe(serve.tcpPort);
  const session = match[3]!;
  await serve.cli.waitForLine(eventLine({ event: 'connection', peer: session }));
  return { cli, session };
}

/** Types a command and waits for a new output line matching `pattern`. */
export function ask(cli: CliProcess, command: string, pattern: RegExp, timeoutMs = 5000) {
  const from = cli.stdout.length;
  cli.send(command);
  return cli.waitForLine(pattern, { from, timeoutMs });
}
