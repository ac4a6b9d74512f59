/**
 * The `hybridwire` command line, driven as a user drives it: real processes (node dist/cli/main.js),
 * real sockets on loopback, port 0. Every wait has a deadline; nothing sleeps to synchronise.
 */
import net from 'node:net';
import dgram from 'node:dgram';
import { once } from 'node:events';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { Client } from '../../ts/index.js';
import {
  LISTENING_LINE,
  type CliProcess,
  type Library,
  type Serve,
  ensureBuilt,
  escapeRegex,
  eventLine,
  events,
  freeTcpPort,
  killAll,
  loadLibrary,
  runCli,
  startCli,
  startServe,
  withTimeout,
} from '../support/cli-process.js';

let lib: Library;
const cleanup: Array<() => Promise<void> | void> = [];

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

/**
 * A library client (from dist/index.js), closed after the test. Like a user watching the server's
 * output, it waits for serve to print the connection: connect() resolves when the client sends
 * HELLO_DONE, which the server may not have read yet.
 */
async function libraryClient(serve: Serve): Promise<Client> {
  const client = await lib.connect({ host: '127.0.0.1', tcpPort: serve.tcpPort, udpPort: serve.udpPort });
  cleanup.push(() => client.close());
  await serve.cli.waitForLine(eventLine({ event: 'connection', peer: client.sessionId! }));
  return client;
}

/** Starts `hybridwire connect` against a serve and waits for its "connected" line; returns its session id. */
async function startConnect(serve: Serve, extra: string[] = [], host = '127.0.0.1'): Promise<{ cli: CliProcess; session: string }> {
  const cli = startCli(['connect', '--host', host, '--tcp-port', String(serve.tcpPort), '--udp-port', String(serve.udpPort), ...extra]);
  const { match } = await cli.waitForLine(/^connected to (.+):(\d+) \(session ([0-9a-f-]+), mode (step|burst)\)/, { timeoutMs: 10_000 });
  expect(match[1]).toBe(host);
  expect(Number(match[2])).toBe(serve.tcpPort);
  const session = match[3]!;
  await serve.cli.waitForLine(eventLine({ event: 'connection', peer: session }));
  return { cli, session };
}

/** Types a command and waits for a new output line matching `pattern`. */
function ask(cli: CliProcess, command: string, pattern: RegExp, timeoutMs = 5000) {
  const from = cli.stdout.length;
  cli.send(command);
  return cli.waitForLine(pattern, { from, timeoutMs });
}

describe('hybridwire serve', () => {
  it('prints {"event":"listening","tcpPort":N,"udpPort":N} as its first line, with ports that accept connections', async () => {
    const serve = await startServe();
    const first = serve.cli.stdout[0]!;
    expect(first).toMatch(LISTENING_LINE);
    expect(JSON.parse(first)).toEqual({ event: 'listening', tcpPort: serve.tcpPort, udpPort: serve.udpPort });
    for (const port of [serve.tcpPort, serve.udpPort]) {
      expect(port).toBeGreaterThan(0);
      expect(port).toBeLessThan(65536);
    }

    // A bare TCP connection is accepted.
    const socket = net.connect({ host: '127.0.0.1', port: serve.tcpPort });
    cleanup.push(() => void socket.destroy());
    await withTimeout(once(socket, 'connect'), 5000, 'a TCP connection to the listening port');
    socket.destroy();

    // A hybridwire client completes the handshake over TCP...
    const client = await libraryClient(serve);
    await serve.cli.waitForLine(eventLine({ event: 'connection', peer: client.sessionId!, address: '127.0.0.1' }));
    expect(await client.request('echo', 'over tcp', { timeoutMs: 5000 })).toBe('over tcp');

    // ...and its datagrams reach the UDP port (resent, since even loopback may drop one).
    const from = serve.cli.stdout.length;
    const resend = setInterval(() => client.send('chat', { text: 'over udp' }, { transport: 'udp' }), 50);
    cleanup.push(() => clearInterval(resend));
    client.send('chat', { text: 'over udp' }, { transport: 'udp' });
    await serve.cli.waitForLine(eventLine({ event: 'chat', peer: client.sessionId!, transport: 'udp', text: 'over udp' }), { from });
    clearInterval(resend);
  });

  it.each(['SIGINT', 'SIGTERM'] as const)('shuts down cleanly on %s sent as soon as the listening line appears: {"event":"closed"}, exit code 0', async (signal) => {
    // "Listening" means ready, so a supervisor may stop the server the moment it reads that line.
    const serve = await startServe();
    serve.cli.signal(signal);
    const exit = await serve.cli.waitForExit(10_000);
    expect(exit, serve.cli.transcript()).toEqual({ code: 0, signal: null });
    expect(events(serve.cli)).toEqual([
      { event: 'listening', tcpPort: serve.tcpPort, udpPort: serve.udpPort },
      { event: 'shutdown', signal },
      { event: 'closed' },
    ]);
    expect(serve.cli.stderr.join('\n')).toBe('');
  });

  it.each(['SIGINT', 'SIGTERM'] as const)('shuts down cleanly on %s with a client connected, which sees the disconnect', async (signal) => {
    const serve = await startServe();
    const client = await libraryClient(serve);
    await serve.cli.waitForLine(eventLine({ event: 'connection', peer: client.sessionId! }));
    const disconnected = once(client, 'disconnect');
    const closed = once(client, 'close');

    serve.cli.signal(signal);
    await withTimeout(disconnected, 10_000, `the client's 'disconnect' event after ${signal}`);
    await withTimeout(closed, 10_000, `the client's 'close' event after ${signal}`);
    expect(client.state).toBe('closed');
    const exit = await serve.cli.waitForExit(10_000);
    expect(exit, serve.cli.transcript()).toEqual({ code: 0, signal: null });

    const printed = events(serve.cli).map((event) => event.event);
    expect(printed[0]).toBe('listening');
    expect(printed.at(-1)).toBe('closed');
    expect(printed.indexOf('shutdown')).toBeLessThan(printed.indexOf('closed'));
    expect(events(serve.cli)).toContainEqual({ event: 'shutdown', signal });
    expect(events(serve.cli).filter((event) => event.event === 'disconnect').map((event) => event.peer)).toEqual([client.sessionId]);
    expect(serve.cli.stderr.join('\n')).toBe('');
  });

  it('an interactive client whose server shuts down says it is disconnected and exits', async () => {
    const serve = await startServe();
    const { cli } = await startConnect(serve);
    serve.cli.signal('SIGTERM');
    expect(await serve.cli.waitForExit(10_000)).toEqual({ code: 0, signal: null });
    // It may try to reconnect first (five attempts, about three seconds of backoff), then gives up.
    await cli.waitForLine(/^disconnected$/, { timeoutMs: 15_000 });
    // stdin is still open, as it is for a user at a terminal: the session is over all the same.
    await cli.waitForExit(5000);
  });

  it('serves IPv6 on ::1', async () => {
    const serve = await startServe('::1');
    const { cli, session } = await startConnect(serve, ['--mode', 'burst'], '::1');
    await ask(cli, 'hello over ipv6', /^echo: hello over ipv6$/);
    expect(events(serve.cli)).toContainEqual({ event: 'chat', peer: session, transport: 'tcp', text: 'hello over ipv6' });
    expect(events(serve.cli)).toContainEqual(expect.objectContaining({ event: 'connection', peer: session, address: '::1' }));
    cli.send('/exit');
    expect(await cli.waitForExit(10_000)).toEqual({ code: 0, signal: null });
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

    await libraryClient(serve);
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
    const other = await libraryClient(serve);
    const received = new Promise<unknown>((resolve) => other.handle('broadcast', resolve));
    const { line } = await ask(cli, '/broadcast hello everyone', /^broadcast sent to/);
    expect(line).toBe('broadcast sent to 1 other client(s)');
    const message = await withTimeout(received, 5000, "the other client's 'broadcast' message");
    expect(JSON.stringify(message)).toContain('hello everyone');
    expect(message).toEqual({ from: session, payload: { text: 'hello everyone' } });
  });

  it("shows other clients' broadcasts and chat messages", async () => {
    const other = await libraryClient(serve);
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

describe('hybridwire demo', () => {
  it('runs server and clients in one process and shows TCP, UDP, request/response, ping, broadcast and a clean close', async () => {
    // Each step of the demo has its own deadline of two or three seconds.
    const demo = await runCli(['demo'], 20_000);
    expect(demo.exit, demo.transcript()).toEqual({ code: 0, signal: null });
    expect(demo.stderr.join('\n')).toBe('');
    const expected = [
      /^server: listening on 127\.0\.0\.1, TCP port [1-9]\d*, UDP port [1-9]\d*$/,
      /^client: connected, session [0-9a-f-]+; negotiated features: udp, request, heartbeat$/,
      /^client: chat_response \{"text":"echo: hello over TCP"\}$/,
      /^server: position \{"x":1,"y":2\} over udp$/,
      /^client: request sum\(\[1,2,3,4\]\) -> 10$/,
      /^client: echo -> "hello"$/,
      /^client: ping round trip \d+\.\d{3} ms$/,
      /^client: broadcast reached 1 other client\(s\); second client got \{"from":"[0-9a-f-]+","payload":\{"text":"hi everyone"\}\}$/,
      /^server: stats \{"connectedClients":2,"tcp":\{.*\},"udp":\{"messagesIn":[1-9]\d*,"datagramsIn":[1-9]\d*\}\}$/,
      /^demo: done, server and clients closed cleanly$/,
    ];
    expect(demo.stdout.filter((line) => line !== '')).toHaveLength(expected.length);
    expected.forEach((pattern, i) => expect(demo.stdout[i], demo.transcript()).toMatch(pattern));
    // The client's session id is the broadcast's sender.
    const sessionId = /session ([0-9a-f-]+);/.exec(demo.stdout[1]!)![1];
    expect(demo.stdout[7]).toContain(`"from":"${sessionId}"`);
  });
});

describe('bad command lines', () => {
  it('an unknown command exits 2 with the usage', async () => {
    const run = await runCli(['frobnicate'], 10_000);
    expect(run.exit, run.transcript()).toEqual({ code: 2, signal: null });
    const stderr = run.stderr.join('\n');
    expect(stderr).toContain("unknown command 'frobnicate'");
    expect(stderr).toContain('usage: hybridwire <command>');
    for (const command of ['serve', 'connect', 'demo']) expect(stderr).toMatch(new RegExp(`^\\s+${command}\\b`, 'm'));
    expect(run.stdout.join('\n')).toBe('');
  });

  it('--help prints the usage and exits 0', async () => {
    const run = await runCli(['--help'], 10_000);
    expect(run.exit).toEqual({ code: 0, signal: null });
    expect(run.stdout.join('\n')).toContain('usage: hybridwire <command>');
  });

  it.each([
    { args: ['serve', '--host', '127.0.0.1', '--tcp-port', 'abc', '--udp-port', '0'], names: '--tcp-port', value: 'abc' },
    { args: ['connect', '--host', '127.0.0.1', '--tcp-port', 'abc'], names: '--tcp-port', value: 'abc' },
    { args: ['serve', '--host', '127.0.0.1', '--tcp-port', '0', '--udp-port', '70000'], names: '--udp-port', value: '70000' },
    { args: ['serve', '--host', '127.0.0.1', '--tcp-port', '-1', '--udp-port', '0'], names: '--tcp-port', value: '' },
    { args: ['serve', '--host', '127.0.0.1', '--tcp-port', '5.5', '--udp-port', '0'], names: '--tcp-port', value: '5.5' },
    { args: ['connect', '--tcp-port', '1', '--mode', 'fast'], names: '--mode', value: 'fast' },
    { args: ['connect', '--tcp-port', '1', '--window', '0'], names: '--window', value: '0' },
    { args: ['serve', '--bogus'], names: '--bogus', value: '' },
  ].map((row) => ({ ...row, line: row.args.join(' ') })))('hybridwire $line exits 2 naming $names', async ({ args, names, value }) => {
    const run = await runCli(args, 10_000);
    expect(run.exit, run.transcript()).toEqual({ code: 2, signal: null });
    const stderr = run.stderr.join('\n');
    expect(stderr).toMatch(/^hybridwire: /);
    expect(stderr).toContain(names);
    if (value !== '') expect(stderr).toContain(`'${value}'`);
    expect(run.stdout.join('\n')).toBe('');
  });

  it('connect to a port where nothing listens fails at once with a clear error', async () => {
    const port = await freeTcpPort();
    const started = Date.now();
    const run = await runCli(['connect', '--host', '127.0.0.1', '--tcp-port', String(port), '--udp-port', String(port)], 15_000);
    expect(Date.now() - started).toBeLessThan(10_000);
    expect(run.exit.code, run.transcript()).not.toBe(0);
    expect(run.exit.code, run.transcript()).not.toBeNull();
    const stderr = run.stderr.join('\n');
    expect(stderr).toMatch(/HW_ERR_CONNECT_FAILED|ECONNREFUSED|cannot connect/);
    expect(stderr).toContain(`127.0.0.1:${port}`);
    expect(run.stdout.join('\n')).not.toMatch(/^connected/m);
  });

  it('the library error behind it carries the stable code HW_ERR_CONNECT_FAILED', async () => {
    const port = await freeTcpPort();
    const error = await lib.connect({ host: '127.0.0.1', tcpPort: port }).then(
      (client) => {
        cleanup.push(() => client.close());
        return undefined;
      },
      (caught: unknown) => caught as { code?: string; message?: string },
    );
    expect(error).toBeDefined();
    expect(error).toBeInstanceOf(lib.HybridwireError);
    expect(error!.code).toBe('HW_ERR_CONNECT_FAILED');
    expect(error!.message).toContain(`127.0.0.1:${port}`);
  });

  it('serve on a TCP port already in use exits non-zero, naming the address', async () => {
    const blocker = net.createServer();
    cleanup.push(() => new Promise<void>((resolve) => blocker.close(() => resolve())));
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    const port = (blocker.address() as net.AddressInfo).port;
    const run = await runCli(['serve', '--host', '127.0.0.1', '--tcp-port', String(port), '--udp-port', '0'], 15_000);
    expect(run.exit.code, run.transcript()).not.toBe(0);
    expect(run.exit.signal, run.transcript()).toBeNull();
    expect(run.stderr.join('\n')).toMatch(new RegExp(`EADDRINUSE.*127\\.0\\.0\\.1:${port}`));
    expect(run.stdout.join('\n')).not.toMatch(/listening/);
  });

  it('serve on a UDP port already in use exits non-zero, naming the address', async () => {
    const blocker = dgram.createSocket('udp4');
    cleanup.push(() => new Promise<void>((resolve) => blocker.close(() => resolve())));
    await new Promise<void>((resolve) => blocker.bind(0, '127.0.0.1', () => resolve()));
    const port = blocker.address().port;
    const serve = startCli(['serve', '--host', '127.0.0.1', '--tcp-port', '0', '--udp-port', String(port)]);
    serve.endInput();
    await serve.waitForLine(new RegExp(`EADDRINUSE.*127\\.0\\.0\\.1:${escapeRegex(String(port))}`), { stream: 'stderr', timeoutMs: 10_000 });
    const exit = await serve.waitForExit(10_000);
    expect(exit.code, serve.transcript()).not.toBe(0);
    expect(exit.signal).toBeNull();
    expect(serve.stdout.join('\n')).not.toMatch(/listening/);
  });
});
