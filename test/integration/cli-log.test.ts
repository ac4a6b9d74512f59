/** `hybridwire serve --log-level LEVEL`: pino JSON lines on stderr, the event lines on stdout unchanged. */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type Library, LISTENING_LINE, ensureBuilt, eventLine, killAll, loadLibrary, runCli, startCli } from '../support/cli-process.js';

let lib: Library;
beforeAll(async () => {
  await ensureBuilt();
  lib = await loadLibrary();
}, 240_000);
afterEach(() => killAll());
afterAll(() => killAll());

function jsonLines(lines: string[]): Array<Record<string, unknown>> {
  return lines.map((line) => JSON.parse(line) as Record<string, unknown>);
}

describe('hybridwire serve --log-level', () => {
  it('info: logs listening, connection and disconnect as pino JSON lines on stderr, with peer id and address', async () => {
    const serve = startCli(['serve', '--host', '127.0.0.1', '--tcp-port', '0', '--udp-port', '0', '--log-level', 'info']);
    await serve.waitForLine(LISTENING_LINE, { timeoutMs: 10_000 });
    await serve.waitForLine(/"event":"listening"/, { stream: 'stderr' });
    const [, tcpPort] = LISTENING_LINE.exec(serve.stdout[0]!)!;
    const client = await lib.connect({ host: '127.0.0.1', tcpPort: Number(tcpPort), udpPort: false });
    const peer = client.sessionId!;
    await serve.waitForLine(eventLine({ event: 'connection', peer }), { stream: 'stderr' });
    await client.close();
    await serve.waitForLine(eventLine({ event: 'disconnect', peer }), { stream: 'stderr' });
    serve.signal('SIGTERM');
    await serve.waitForExit();
    // Every line on stderr is a pino JSON line: level, time, pid, msg.
    const logs = jsonLines(serve.stderr);
    for (const log of logs) expect(log).toMatchObject({ level: expect.any(Number), time: expect.any(Number), pid: serve.pid, msg: expect.any(String) });
    expect(logs).toContainEqual(expect.objectContaining({ level: 30, event: 'connection', peer, address: '127.0.0.1', port: expect.any(Number) }));
    expect(logs).toContainEqual(expect.objectContaining({ level: 30, event: 'disconnect', peer, address: '127.0.0.1' }));
    expect(logs.at(-1)).toMatchObject({ event: 'close' });
    // stdout still carries the event lines, the listening line first.
    expect(serve.stdout[0]).toMatch(LISTENING_LINE);
  });

  it('by default (warn) a quiet run logs nothing; a peer error is logged with its code', async () => {
    const serve = startCli(['serve', '--host', '127.0.0.1', '--tcp-port', '0', '--udp-port', '0']);
    await serve.waitForLine(LISTENING_LINE, { timeoutMs: 10_000 });
    const [, tcpPort] = LISTENING_LINE.exec(serve.stdout[0]!)!;
    const client = await lib.connect({ host: '127.0.0.1', tcpPort: Number(tcpPort), udpPort: false });
    await serve.waitForLine(eventLine({ event: 'connection', peer: client.sessionId! }));
    expect(serve.stderr).toEqual([]);
    (client as unknown as { connection: { socket: { write(bytes: Buffer): void } } }).connection.socket.write(Buffer.alloc(32, 0xff));
    const { line } = await serve.waitForLine(/"event":"peerError"/, { stream: 'stderr' });
    expect(JSON.parse(line)).toMatchObject({ level: 40, peer: client.sessionId, code: 'HW_ERR_BAD_VERSION' });
    await client.close();
  });

  it('refuses an unknown level', async () => {
    const run = await runCli(['serve', '--tcp-port', '0', '--log-level', 'loud']);
    expect(run.exit).toEqual({ code: 2, signal: null });
    expect(run.stderr.join('\n')).toMatch(/^hybridwire: --log-level must be one of fatal, error, warn, info, debug, trace, silent, got 'loud'/);
  });
});
