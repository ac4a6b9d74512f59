/**
 * `hybridwire serve --path` and `hybridwire connect --path`: a server and an interactive client
 * on a Unix domain socket in a temporary directory, driven as a user drives them.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { eventLine, runCli, startCli } from '../support/cli-process.js';
import { ask, cliHarness } from '../support/cli-session.js';

const harness = cliHarness();

describe.skipIf(process.platform === 'win32')('hybridwire serve --path / connect --path', () => {
  it('serves on a local socket, and connect talks to it', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hw-cli-local-'));
    harness.defer(() => fs.rmSync(dir, { recursive: true, force: true }));
    const socketPath = path.join(dir, 'serve.sock');
    const serve = startCli(['serve', '--path', socketPath]);
    await serve.waitForLine(/./, { timeoutMs: 10_000 });
    expect(JSON.parse(serve.stdout[0]!)).toEqual({ event: 'listening', path: socketPath });
    expect(fs.lstatSync(socketPath).isSocket()).toBe(true);

    const client = await harness.lib.connect({ path: socketPath });
    harness.defer(() => client.close());
    expect(await client.request('echo', 'over a local socket', { timeoutMs: 5000 })).toBe('over a local socket');

    const connect = startCli(['connect', '--path', socketPath]);
    const { match } = await connect.waitForLine(/^connected to (.+) \(session ([0-9a-f-]+), mode burst\)/, { timeoutMs: 10_000 });
    expect(match[1]).toBe(socketPath);
    await serve.waitForLine(eventLine({ event: 'connection', peer: match[2]! }));
    await ask(connect, '/echo hello', /hello/);
    // No UDP beside a local socket: said, and the session goes on.
    await ask(connect, '/udp hi', /^error HW_ERR_UDP_UNAVAILABLE: /);
    await ask(connect, '/echo still', /still/);
  });

  it('refuses --path beside --tcp-port', async () => {
    const cli = await runCli(['serve', '--path', '/tmp/never.sock', '--tcp-port', '0']);
    expect(cli.exit.code).toBe(2);
    expect(cli.stderr.join('\n')).toMatch(/--path \(a local socket\) goes without --host, --tcp-port and --udp-port/);
  });
});
