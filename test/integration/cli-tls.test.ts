/**
 * TLS from the command line, driven as a user drives it: the README's three commands (cert, then
 * serve with mutual TLS, then connect) as real processes on loopback with port 0, and what the
 * flags refuse. Every wait has a deadline.
 */
import { X509Certificate } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { REPO, ensureBuilt, eventLine, killAll, runCli, startCli, type CliProcess } from '../support/cli-process.js';

let directory: string;

beforeAll(async () => {
  await ensureBuilt();
  directory = fs.mkdtempSync(path.join(os.tmpdir(), 'hybridwire-cli-tls-'));
}, 240_000);

afterEach(async () => {
  await killAll();
});

afterAll(async () => {
  await killAll();
  fs.rmSync(directory, { recursive: true, force: true });
});

/** The README's commands of "TLS and mutual TLS in three commands", each as its arguments. */
function readmeCommands(): string[][] {
  const readme = fs.readFileSync(path.join(REPO, 'README.md'), 'utf8');
  const block = /### TLS and mutual TLS in three commands\s+```sh\n([\s\S]*?)```/.exec(readme);
  if (!block) throw new Error('README.md has no "TLS and mutual TLS in three commands" section with a ```sh block');
  return block[1]!
    .trim()
    .split('\n')
    .map((line) => line.trim().split(/\s+/));
}

const LISTENING = /^\{"event":"listening","tcpPort":(\d+),"udpPort":(\d+)\}$/;

async function listening(serve: CliProcess): Promise<{ tcpPort: number; udpPort: number }> {
  const { match } = await serve.waitForLine(LISTENING, { timeoutMs: 10_000 });
  return { tcpPort: Number(match[1]), udpPort: Number(match[2]) };
}

describe('hybridwire cert, serve and connect with TLS', () => {
  it("runs the README's three commands: cert, serve with mutual TLS, connect", async () => {
    const commands = readmeCommands();
    expect(commands.map((words) => words.slice(0, 2).join(' '))).toEqual(['hybridwire cert', 'hybridwire serve', 'hybridwire connect']);
    const [certArgs, serveArgs, connectArgs] = commands.map((words) => words.slice(1)) as [string[], string[], string[]];
    const work = fs.mkdtempSync(path.join(directory, 'readme-'));

    const cert = await runCli(certArgs, 30_000, undefined, work);
    expect(cert.exit.code, cert.transcript()).toBe(0);
    for (const file of ['ca.pem', 'server.pem', 'server-key.pem', 'client.pem', 'client-key.pem']) expect(fs.existsSync(path.join(work, 'certs', file))).toBe(true);

    // Port 0 instead of the README's defaults (tests never use a fixed port); the rest as written.
    const serve = startCli([...serveArgs, '--host', '127.0.0.1', '--tcp-port', '0', '--udp-port', '0'], undefined, work);
    const { tcpPort, udpPort } = await listening(serve);
    const connect = startCli([...connectArgs, '--tcp-port', String(tcpPort), '--udp-port', String(udpPort)], undefined, work);
    const { match } = await connect.waitForLine(/^connected to localhost:(\d+) \(session ([0-9a-f-]+), mode burst\)/, { timeoutMs: 10_000 });
    await connect.waitForLine(/^over TLS; the server's certificate: \{"CN":"localhost"\}, key pin sha256\//);
    const session = match[2]!;
    const { line } = await serve.waitForLine(eventLine({ event: 'connection', peer: session }));
    const event = JSON.parse(line) as { tls?: boolean; certificate?: { subject: { CN: string }; fingerprint: string } };
    expect(event.tls).toBe(true);
    expect(event.certificate?.subject.CN).toBe('hybridwire client');
    expect(event.certificate?.fingerprint).toBe(new X509Certificate(fs.readFileSync(path.join(work, 'certs', 'client.pem'))).fingerprint256);

    const from = connect.stdout.length;
    connect.send('/echo over mutual TLS');
    await connect.waitForLine(/^echo: "over mutual TLS"$/, { from });
    connect.send('/exit');
    expect((await connect.waitForExit()).code).toBe(0);
  });

  it('prints the pin of the server key, which connect --pin accepts, and refuses another pin', async () => {
    const work = fs.mkdtempSync(path.join(directory, 'pin-'));
    const cert = await runCli(['cert', '--out', 'dev', '--hosts', '127.0.0.1', '--days', '2'], 30_000, undefined, work);
    expect(cert.exit.code, cert.transcript()).toBe(0);
    const pin = /^server key pin \(connect --pin\): (sha256\/\S+)$/.exec(cert.stdout.at(-1)!)?.[1];
    const server = new X509Certificate(fs.readFileSync(path.join(work, 'dev', 'server.pem')));
    expect(server.subjectAltName).toBe('IP Address:127.0.0.1');
    // Valid for the days asked, from a few minutes before now.
    const days = (Date.parse(server.validTo) - Date.now()) / 86_400_000;
    expect(days).toBeGreaterThan(1.99);
    expect(days).toBeLessThan(2.01);

    const serve = startCli(['serve', '--host', '127.0.0.1', '--tcp-port', '0', '--udp-port', '0', '--tls-cert', 'dev/server.pem', '--tls-key', 'dev/server-key.pem'], undefined, work);
    const { tcpPort } = await listening(serve);
    const pinned = startCli(['connect', '--tcp-port', String(tcpPort), '--tls-ca', 'dev/ca.pem', '--pin', pin!], undefined, work);
    await pinned.waitForLine(/^connected to 127\.0\.0\.1:/, { timeoutMs: 10_000 });
    pinned.send('/exit');
    expect((await pinned.waitForExit()).code).toBe(0);

    const wrong = await runCli(['connect', '--tcp-port', String(tcpPort), '--tls-ca', 'dev/ca.pem', '--pin', 'sha256/AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA='], 20_000, undefined, work);
    expect(wrong.exit.code).toBe(2);
    expect(wrong.stderr.join('\n')).toMatch(/^hybridwire: HW_ERR_TLS_PIN_MISMATCH: /);
  });

  it('refuses a client without a certificate under --require-client-cert, and a plaintext client, with their codes', async () => {
    const work = fs.mkdtempSync(path.join(directory, 'refuse-'));
    expect((await runCli(['cert', '--out', '.'], 30_000, undefined, work)).exit.code).toBe(0);
    const serve = startCli(['serve', '--host', '127.0.0.1', '--tcp-port', '0', '--udp-port', '0', '--tls-cert', 'server.pem', '--tls-key', 'server-key.pem', '--tls-ca', 'ca.pem', '--require-client-cert'], undefined, work);
    const { tcpPort } = await listening(serve);
    const anonymous = await runCli(['connect', '--tcp-port', String(tcpPort), '--tls-ca', 'ca.pem'], 20_000, undefined, work);
    expect(anonymous.exit.code).toBe(2);
    expect(anonymous.stderr.join('\n')).toMatch(/^hybridwire: HW_ERR_TLS_CERT_REQUIRED: /);
    const plaintext = await runCli(['connect', '--tcp-port', String(tcpPort)], 20_000, undefined, work);
    expect(plaintext.exit.code).toBe(2);
    expect(plaintext.stderr.join('\n')).toMatch(/^hybridwire: HW_ERR_ENCRYPTION_REQUIRED: /);
  });

  it.each([
    [['cert'], /cert needs --out DIR/],
    [['cert', '--out', 'x', '--days', '0'], /--days must be an integer from 1 to 3650/],
    [['cert', '--out', 'x', '--hosts', 'bad host'], /--hosts: 'bad host' is neither/],
    [['serve', '--tls-cert', 'server.pem'], /--tls-cert and --tls-key go together/],
    [['serve', '--tls-cert', 'a.pem', '--tls-key', 'b.pem', '--require-client-cert'], /--require-client-cert needs --tls-ca/],
    [['serve', '--tls-cert', 'missing.pem', '--tls-key', 'missing.pem'], /cannot read --tls-cert missing\.pem/],
    [['serve', '--pin', 'sha256/x'], /--pin is not an option of serve/],
    [['connect', '--tls-cert', 'client.pem'], /--tls-cert and --tls-key go together/],
    [['connect', '--pin', 'md5/abc'], /HW_ERR_INVALID_OPTION: option tls.pins/],
  ])('refuses %j with a message naming the flag', async (args, message) => {
    const run = await runCli(args, 20_000, undefined, directory);
    expect(run.exit.code).toBe(2);
    expect(run.stderr.join('\n')).toMatch(message);
  });
});
