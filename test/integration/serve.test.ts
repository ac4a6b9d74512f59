/**
 * ts/cli/serve.ts: `hybridwire serve` driven as a user drives it: a real process (node
 * dist/cli/main.js serve), real sockets on loopback, port 0. Every wait has a deadline; nothing
 * sleeps to synchronise.
 */
import net from 'node:net';
import dgram from 'node:dgram';
import { once } from 'node:events';
import { describe, expect, it } from 'vitest';
import { FrameType } from '../../ts/codec/frame.js';
import { LISTENING_LINE, escapeRegex, eventLine, events, runCli, startCli, startServe, withTimeout } from '../support/cli-process.js';
import { ask, cliHarness, startConnect } from '../support/cli-session.js';
import { RawPeer } from '../support/raw-peer.js';
import { waitUntil } from '../support/wait.js';

const harness = cliHarness();

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
    harness.defer(() => void socket.destroy());
    await withTimeout(once(socket, 'connect'), 5000, 'a TCP connection to the listening port');
    socket.destroy();

    // A hybridwire client completes the handshake over TCP...
    const client = await harness.libraryClient(serve);
    await serve.cli.waitForLine(eventLine({ event: 'connection', peer: client.sessionId!, address: '127.0.0.1' }));
    expect(await client.request('echo', 'over tcp', { timeoutMs: 5000 })).toBe('over tcp');

    // ...and its datagrams reach the UDP port (resent, since even loopback may drop one).
    const from = serve.cli.stdout.length;
    const resend = setInterval(() => client.send('chat', { text: 'over udp' }, { transport: 'udp' }), 50);
    harness.defer(() => clearInterval(resend));
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
    const client = await harness.libraryClient(serve);
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

  it('serves IPv6 on ::1', async () => {
    const serve = await startServe('::1');
    const { cli, session } = await startConnect(serve, ['--mode', 'burst'], '::1');
    await ask(cli, 'hello over ipv6', /^echo: hello over ipv6$/);
    expect(events(serve.cli)).toContainEqual({ event: 'chat', peer: session, transport: 'tcp', text: 'hello over ipv6' });
    expect(events(serve.cli)).toContainEqual(expect.objectContaining({ event: 'connection', peer: session, address: '::1' }));
    cli.send('/exit');
    expect(await cli.waitForExit(10_000)).toEqual({ code: 0, signal: null });
  });

  it('relays chat to the other clients but not back to the sender, who gets an echo over TCP only', async () => {
    const serve = await startServe();
    const alice = await harness.libraryClient(serve);
    const bob = await harness.libraryClient(serve);
    const atAlice: unknown[] = [];
    const atBob: unknown[] = [];
    const echoes: unknown[] = [];
    alice.handle('chat', (message) => void atAlice.push(message));
    alice.handle('chat_response', (message) => void echoes.push(message));
    bob.handle('chat', (message) => void atBob.push(message));
    const from = alice.sessionId!.slice(0, 8);

    alice.send('chat', { text: 'hello bob' });
    alice.send('chat', 'not an object');
    await waitUntil(() => atBob.length === 2 && echoes.length === 2, 5000, 'the relayed chat and its echo');
    expect(atBob).toEqual([
      { from, text: 'hello bob' },
      { from, text: '"not an object"' },
    ]);
    expect(echoes).toEqual([{ text: 'echo: hello bob' }, { text: 'echo: "not an object"' }]);
    await serve.cli.waitForLine(eventLine({ event: 'chat', peer: alice.sessionId!, transport: 'tcp', text: '"not an object"' }));

    // Over (reliable) UDP it is relayed and printed, but not echoed.
    alice.send('chat', { text: 'over udp' }, { transport: 'udp', reliable: true });
    await waitUntil(() => atBob.length === 3, 5000, 'the chat sent over UDP to be relayed');
    expect(atBob[2]).toEqual({ from, text: 'over udp' });
    await serve.cli.waitForLine(eventLine({ event: 'chat', peer: alice.sessionId!, transport: 'udp', text: 'over udp' }));
    // An echo of it would have been sent before the echo of a chat the server handles after it.
    alice.send('chat', { text: 'after' });
    await waitUntil(() => echoes.length === 3, 5000, 'the echo of the last chat');
    expect(echoes[2]).toEqual({ text: 'echo: after' });
    expect(atAlice).toEqual([]);
  });

  it("shows the first five messages of a type it has no handler for, then one note, then none of that type", async () => {
    const serve = await startServe();
    const client = await harness.libraryClient(serve);
    for (let n = 0; n < 8; n++) client.send('mystery', { n });
    client.send('other', new Uint8Array(3));
    await serve.cli.waitForLine(eventLine({ event: 'message', type: 'other' }));
    expect(events(serve.cli).filter((event) => event.event === 'message')).toEqual([
      ...[0, 1, 2, 3, 4].map((n) => ({ event: 'message', peer: client.sessionId, type: 'mystery', transport: 'tcp', payload: { n } })),
      { event: 'message', type: 'mystery', note: "more 'mystery' messages are not shown; /stats counts them" },
      { event: 'message', peer: client.sessionId, type: 'other', transport: 'tcp', payload: '<3 bytes>' },
    ]);
  });

  it('prints the code and reason of a peer closed for breaking the protocol', async () => {
    const serve = await startServe();
    const peer = await RawPeer.connect(serve.tcpPort);
    harness.defer(() => peer.destroy());
    const ack = await peer.handshake();
    const session = String(ack.sessionId);
    await serve.cli.waitForLine(eventLine({ event: 'connection', peer: session }));
    // An acknowledgement of messages the server never sent.
    peer.sendFrame(FrameType.ACK, undefined, 5);
    await serve.cli.waitForLine(eventLine({ event: 'disconnect', peer: session }));
    expect(events(serve.cli).filter((event) => event.event === 'disconnect')).toEqual([
      { event: 'disconnect', peer: session, code: 'HW_ERR_BAD_ACK', reason: 'ACK for 5 covers messages never sent' },
    ]);
    await peer.waitClosed();
    // The server carries on.
    const client = await harness.libraryClient(serve);
    expect(await client.request('echo', 'still serving', { timeoutMs: 5000 })).toBe('still serving');
  });
});

describe('hybridwire serve on a port already in use', () => {
  it('serve on a TCP port already in use exits non-zero, naming the address', async () => {
    const blocker = net.createServer();
    harness.defer(() => new Promise<void>((resolve) => blocker.close(() => resolve())));
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
    harness.defer(() => new Promise<void>((resolve) => blocker.close(() => resolve())));
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
