/**
 * ts/cli/interactive.ts: `hybridwire connect`, the interactive client, driven as a user drives it:
 * a real process (node dist/cli/main.js connect) against a real `hybridwire serve`, loopback,
 * port 0. Every wait has a deadline; nothing sleeps to synchronise.
 */
import { beforeEach, describe, expect, it } from 'vitest';
import { type CliProcess, type Serve, eventLine, events, freeTcpPort, runCli, startServe, withTimeout } from '../support/cli-process.js';
import { ask, cliHarness, startConnect } from '../support/cli-session.js';

const harness = cliHarness();
const HELP = '/ping  /echo TEXT  /broadcast TEXT  /stats  /custom TYPE JSON  /udp TEXT  /exit  (other text is sent as chat)';

describe('hybridwire connect and its server', () => {
  it('an interactive client whose server shuts down says it is disconnected and exits', async () => {
    const serve = await startServe();
    const { cli } = await startConnect(serve);
    serve.cli.signal('SIGTERM');
    expect(await serve.cli.waitForExit(10_000)).toEqual({ code: 0, signal: null });
    // It may try to reconnect first (five attempts, about three seconds of backoff), then gives up.
    await cli.waitForLine(/^disconnected$/, { timeoutMs: 15_000 });
    const reconnecting = cli.stdout.filter((line) => line.startsWith('connection lost'));
    expect(reconnecting.map((line) => /^connection lost; reconnecting \(attempt (\d+), in \d+ ms\)$/.exec(line)?.[1])).toEqual(['1', '2', '3', '4', '5']);
    expect(cli.stdout.indexOf(reconnecting.at(-1)!)).toBeLessThan(cli.stdout.indexOf('disconnected'));
    // stdin is still open, as it is for a user at a terminal: the session is over all the same,
    // and the exit status says it was lost rather than ended.
    expect(await cli.waitForExit(5000)).toEqual({ code: 1, signal: null });
  });

});

describe.each([
  { mode: 'step', extra: ['--mode', 'step'] },
  { mode: 'burst', extra: ['--mode', 'burst', '--window', '4'] },
])('hybridwire connect --mode $mode', ({ mode, extra }) => {
  let serve: Serve;
  let cli: CliProcess;
  let session: string;

  beforeEach(async () => {
    serve = await startServe();
    ({ cli, session } = await startConnect(serve, extra));
    expect(cli.stdout[0]).toContain(`mode ${mode}`);
  });

  it('/ping prints pong', async () => {
    const { line } = await ask(cli, '/ping', /^pong\b/);
    expect(line).toMatch(/^pong \(\d+(\.\d+)? ms\)$/);
  });

  it('/echo TEXT prints echo: "TEXT"', async () => {
    await ask(cli, '/echo hello there', /^echo: /);
    expect(cli.stdout.at(-1)).toBe('echo: "hello there"');
  });

  it('/stats prints the server stats as JSON, with connectedClients', async () => {
    const { match } = await ask(cli, '/stats', /^stats: (.*)$/);
    const stats = JSON.parse(match[1]!) as Record<string, unknown>;
    expect(stats.connectedClients).toBe(1);
    expect(stats.uptimeMs).toEqual(expect.any(Number));
    expect(stats.tcp).toEqual(expect.objectContaining({ messagesIn: expect.any(Number), bytesIn: expect.any(Number) }));
    expect(stats.udp).toEqual(expect.objectContaining({ messagesIn: expect.any(Number), datagramsIn: expect.any(Number) }));

    await harness.libraryClient(serve);
    const { match: again } = await ask(cli, '/stats', /^stats: (.*)$/);
    expect((JSON.parse(again[1]!) as Record<string, unknown>).connectedClients).toBe(2);
  });

  it('/custom TYPE JSON prints the reply, or the error code when nothing handles TYPE', async () => {
    await ask(cli, '/custom echo {"a":1}', /^reply: /);
    expect(cli.stdout.at(-1)).toBe('reply: {"a":1}');
    const { line } = await ask(cli, '/custom nosuchtype 1', /^error\b/);
    expect(line).toMatch(/^error HW_ERR_NO_HANDLER\b/);
    expect(line).toContain('nosuchtype');
    // The session goes on.
    await ask(cli, '/echo still here', /^echo: "still here"$/);
  });

  it('/broadcast TEXT reaches the other connected clients', async () => {
    const other = await harness.libraryClient(serve);
    const received = new Promise<unknown>((resolve) => other.handle('broadcast', resolve));
    const { line } = await ask(cli, '/broadcast hello everyone', /^broadcast sent to/);
    expect(line).toBe('broadcast sent to 1 other client(s)');
    const message = await withTimeout(received, 5000, "the other client's 'broadcast' message");
    expect(JSON.stringify(message)).toContain('hello everyone');
    expect(message).toEqual({ from: session, payload: { text: 'hello everyone' } });
  });

  it("shows other clients' broadcasts and chat messages", async () => {
    const other = await harness.libraryClient(serve);
    const from = cli.stdout.length;
    await other.request('broadcast', { text: 'from the library' }, { timeoutMs: 5000 });
    await cli.waitForLine(new RegExp(`^\\[broadcast from ${other.sessionId!.slice(0, 8)}\\] from the library$`), { from });
    // Bytes come with the sender's id before them.
    await other.request('broadcast', new Uint8Array([1, 2, 3, 4, 5]), { timeoutMs: 5000 });
    await cli.waitForLine(new RegExp(`^\\[broadcast from ${other.sessionId!.slice(0, 8)}\\] <5 bytes>$`), { from });
    other.send('chat', { text: 'chat from the library' });
    await cli.waitForLine(new RegExp(`^\\[${other.sessionId!.slice(0, 8)}\\] chat from the library$`), { from });
  });

  it('/udp TEXT sends a chat message the server receives over UDP', async () => {
    // A datagram can be lost even on loopback: try a few times, each with its own text.
    let arrived: string | undefined;
    for (let attempt = 1; attempt <= 5 && arrived === undefined; attempt++) {
      const text = `udp ${mode} ${attempt}`;
      const from = serve.cli.stdout.length;
      await ask(cli, `/udp ${text}`, /^sent over UDP/);
      try {
        await serve.cli.waitForLine(eventLine({ event: 'chat', transport: 'udp', text }), { from, timeoutMs: 1000 });
        arrived = text;
      } catch {
        // Lost; the next attempt sends another.
      }
    }
    expect(arrived, `no /udp chat reached the server\n${serve.cli.transcript()}`).toBeDefined();
    expect(events(serve.cli)).toContainEqual({ event: 'chat', peer: session, transport: 'udp', text: arrived });
    // UDP chat is not echoed back: the session carries on over TCP.
    await ask(cli, '/echo after udp', /^echo: "after udp"$/);
  });

  it('plain text is sent as a chat message over TCP and echoed', async () => {
    const from = serve.cli.stdout.length;
    await ask(cli, 'hello, "world"', /^echo: /);
    expect(cli.stdout.at(-1)).toBe('echo: hello, "world"');
    await serve.cli.waitForLine(eventLine({ event: 'chat', transport: 'tcp', text: 'hello, "world"' }), { from });
    expect(events(serve.cli, from)).toContainEqual({ event: 'chat', peer: session, transport: 'tcp', text: 'hello, "world"' });
  });

  it('lines typed faster than the replies come are all delivered, in order', async () => {
    const count = 20;
    const from = serve.cli.stdout.length;
    const cliFrom = cli.stdout.length;
    for (let i = 0; i < count; i++) cli.send(`line ${i}`);
    await cli.waitForLine(new RegExp(`^echo: line ${count - 1}$`), { from: cliFrom, timeoutMs: 10_000 });
    expect(cli.stdout.slice(cliFrom).filter((line) => line.startsWith('echo: '))).toEqual(Array.from({ length: count }, (_, i) => `echo: line ${i}`));
    await serve.cli.waitForLine(eventLine({ event: 'chat', text: `line ${count - 1}` }), { from });
    expect(events(serve.cli, from).filter((event) => event.event === 'chat').map((event) => event.text)).toEqual(Array.from({ length: count }, (_, i) => `line ${i}`));
  });

  it('/exit ends the session: exit code 0, and the server sees the disconnect', async () => {
    await ask(cli, '/ping', /^pong\b/);
    cli.send('/exit');
    expect(await cli.waitForExit(10_000)).toEqual({ code: 0, signal: null });
    expect(cli.stderr.join('\n')).toBe('');
    await serve.cli.waitForLine(eventLine({ event: 'disconnect', peer: session }));
    expect(events(serve.cli).filter((event) => event.event === 'disconnect')).toEqual([{ event: 'disconnect', peer: session }]);
  });

  it('the end of input ends the session like /exit', async () => {
    await ask(cli, '/ping', /^pong\b/);
    cli.endInput();
    expect(await cli.waitForExit(10_000)).toEqual({ code: 0, signal: null });
    await serve.cli.waitForLine(eventLine({ event: 'disconnect', peer: session }));
  });

  it('a piped script (chat, then /exit at once) delivers the chat, exits 0, and the server sees the disconnect', async () => {
    // As in `printf 'hi\n/exit\n' | hybridwire connect ...`: no waiting between the lines.
    const from = serve.cli.stdout.length;
    cli.send('scripted hello');
    cli.send('/exit');
    expect(await cli.waitForExit(10_000)).toEqual({ code: 0, signal: null });
    await serve.cli.waitForLine(eventLine({ event: 'chat', transport: 'tcp', text: 'scripted hello' }), { from });
    await serve.cli.waitForLine(eventLine({ event: 'disconnect', peer: session }), { from });
    const after = events(serve.cli, from);
    expect(after.filter((event) => event.event === 'disconnect')).toEqual([{ event: 'disconnect', peer: session }]);
    expect(after.filter((event) => event.event === 'peerError')).toEqual([]);
  });
});

describe('hybridwire connect: commands answered without the server', () => {
  it('/help lists the commands, an unknown command says so, /custom explains itself, blank lines are skipped, /quit ends', async () => {
    const serve = await startServe();
    const { cli, session } = await startConnect(serve);
    expect(cli.stdout[0]).toBe(`connected to 127.0.0.1:${serve.tcpPort} (session ${session}, mode burst); ${HELP}`);
    expect((await ask(cli, '/help', /./)).line).toBe(HELP);
    expect((await ask(cli, '/frobnicate now', /./)).line).toBe(`unknown command /frobnicate; ${HELP}`);
    expect((await ask(cli, '/custom', /./)).line).toBe('usage: /custom TYPE JSON');
    expect((await ask(cli, '/custom echo {oops', /./)).line).toBe('not valid JSON: {oops');
    const from = cli.stdout.length;
    cli.send('');
    cli.send('   ');
    await ask(cli, '/echo after blanks', /^echo: /);
    expect(cli.stdout.slice(from)).toEqual(['echo: "after blanks"']);
    cli.send('/quit');
    expect(await cli.waitForExit(10_000)).toEqual({ code: 0, signal: null });
    await serve.cli.waitForLine(eventLine({ event: 'disconnect', peer: session }));
  });
});

describe('hybridwire connect to nothing', () => {
  it('connect to a port where nothing listens fails at once with a clear error', async () => {
    const port = await freeTcpPort();
    // A CLI still retrying when the bound ends is killed, and its null exit code fails below.
    const run = await runCli(['connect', '--host', '127.0.0.1', '--tcp-port', String(port), '--udp-port', String(port)], 15_000);
    expect(run.exit.code, run.transcript()).not.toBe(0);
    expect(run.exit.code, run.transcript()).not.toBeNull();
    const stderr = run.stderr.join('\n');
    expect(stderr).toMatch(/HW_ERR_CONNECT_FAILED|ECONNREFUSED|cannot connect/);
    expect(stderr).toContain(`127.0.0.1:${port}`);
    expect(run.stdout.join('\n')).not.toMatch(/^connected/m);
  });

  it('the library error behind it carries the stable code HW_ERR_CONNECT_FAILED', async () => {
    const port = await freeTcpPort();
    const error = await harness.lib.connect({ host: '127.0.0.1', tcpPort: port }).then(
      (client) => {
        harness.defer(() => client.close());
        return undefined;
      },
      (caught: unknown) => caught as { code?: string; message?: string },
    );
    expect(error).toBeDefined();
    expect(error).toBeInstanceOf(harness.lib.HybridwireError);
    expect(error!.code).toBe('HW_ERR_CONNECT_FAILED');
    expect(error!.message).toContain(`127.0.0.1:${port}`);
  });
});
