/**
 * `hybridwire serve --config FILE` and `hybridwire config --print`, run as a user runs them: real
 * processes, a real file, real variables, loopback and port 0.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parse } from 'smol-toml';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type Library, ensureBuilt, killAll, loadLibrary, runCli, startCli, withTimeout } from '../support/cli-process.js';

let lib: Library;
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hw-cli-config-'));

beforeAll(async () => {
  await ensureBuilt();
  lib = await loadLibrary();
}, 240_000);
afterEach(() => killAll());
afterAll(async () => {
  await killAll();
  fs.rmSync(dir, { recursive: true, force: true });
});

function file(name: string, text: string): string {
  const full = path.join(dir, name);
  fs.writeFileSync(full, text);
  return full;
}

describe('hybridwire config --print', () => {
  it('prints the effective configuration as TOML, each value with its source: flag over variable over file over default', async () => {
    const config = file('print.toml', '# settings\ntcpPort = 6000\nudpPort = 6001\nmaxConnections = 50\n');
    const run = await runCli(['config', '--print', '--config', config, '--udp-port', '7001'], 20_000, { HYBRIDWIRE_MAX_CONNECTIONS: '75', HYBRIDWIRE_UDP_PORT: '6500' });
    expect(run.exit, run.transcript()).toEqual({ code: 0, signal: null });
    const lines = run.stdout;
    const line = (key: string) => lines.find((candidate) => candidate.startsWith(`${key} = `));
    expect(line('tcpPort')).toMatch(new RegExp(`^tcpPort = 6000 +# ${config.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}:2$`));
    expect(line('udpPort')).toMatch(/^udpPort = 7001 +# --udp-port$/);
    expect(line('maxConnections')).toMatch(/^maxConnections = 75 +# HYBRIDWIRE_MAX_CONNECTIONS$/);
    expect(line('host')).toMatch(/^host = "0\.0\.0\.0" +# default$/);
    expect(line('heartbeatIntervalMs')).toMatch(/^heartbeatIntervalMs = 5000 +# default$/);
    // What it prints is a configuration file itself.
    const printed = parse(lines.join('\n'));
    expect(printed).toMatchObject({ tcpPort: 6000, udpPort: 7001, maxConnections: 75, host: '0.0.0.0' });
    expect(lib.loadConfig(file('reprint.toml', lines.join('\n')), {})).toMatchObject({ tcpPort: 6000, udpPort: 7001, maxConnections: 75 });
  });

  it('shows client options and the [reconnect] table when they are set, and does not show the admin token', async () => {
    const config = file('client.toml', 'mode = "step"\nadminToken = "s3cret-token"\n[reconnect]\nmaxAttempts = 4\n');
    const run = await runCli(['config', '--print', '--config', config]);
    expect(run.exit, run.transcript()).toEqual({ code: 0, signal: null });
    const text = run.stdout.join('\n');
    expect(text).toMatch(/^mode = "step" +# .*client\.toml:1$/m);
    expect(text).toMatch(/^\[reconnect\]\nmaxAttempts = 4 +# .*client\.toml:4$/m);
    expect(text).not.toContain('s3cret');
    expect(text).toMatch(/^# adminToken is set \(.*client\.toml:2\); not shown$/m);
  });

  it('exits 2 with HW_ERR_CONFIG naming the key, the source and the range', async () => {
    const config = file('bad.toml', 'tcpPort = 0\n\nmaxConnections = 0\n');
    const run = await runCli(['config', '--print', '--config', config]);
    expect(run.exit).toEqual({ code: 2, signal: null });
    const stderr = run.stderr.join('\n');
    expect(stderr).toContain('HW_ERR_CONFIG');
    expect(stderr).toContain('maxConnections');
    expect(stderr).toContain(`${config}:3`);
    expect(stderr).toContain('an integer from 1 to 10000000');
    const fromEnv = await runCli(['config', '--print'], 20_000, { HYBRIDWIRE_HEARTBEAT_TIMEOUT_MS: 'never' });
    expect(fromEnv.exit).toEqual({ code: 2, signal: null });
    expect(fromEnv.stderr.join('\n')).toContain('HYBRIDWIRE_HEARTBEAT_TIMEOUT_MS');
  });
});

describe('hybridwire serve --config', () => {
  it('runs with the options of the file: maxConnections = 1 refuses a second client', async () => {
    const config = file('serve.toml', 'host = "127.0.0.1"\ntcpPort = 0\nudpPort = 0\nmaxConnections = 1\n');
    const serve = startCli(['serve', '--config', config]);
    const { line } = await serve.waitForLine(/"event":"listening"/, { timeoutMs: 10_000 });
    const { tcpPort } = JSON.parse(line) as { tcpPort: number };
    const first = await lib.connect({ host: '127.0.0.1', tcpPort, udpPort: false });
    try {
      await expect(withTimeout(lib.connect({ host: '127.0.0.1', tcpPort, udpPort: false }), 5000, 'the refusal')).rejects.toMatchObject({ code: 'HW_ERR_SERVER_FULL' });
    } finally {
      await first.close();
    }
  });

  it('a flag wins over the file: --tcp-port', async () => {
    const taken = file('flag.toml', 'host = "127.0.0.1"\ntcpPort = 1\nudpPort = 0\n');
    // Port 1 would need privileges; the flag's port 0 is what it binds.
    const serve = startCli(['serve', '--config', taken, '--tcp-port', '0']);
    const { line } = await serve.waitForLine(/"event":"listening"/, { timeoutMs: 10_000 });
    expect((JSON.parse(line) as { tcpPort: number }).tcpPort).toBeGreaterThan(1);
  });

  it('does not start with a bad configuration: exit 2 and the error on stderr', async () => {
    const run = await runCli(['serve', '--config', file('unknown.toml', 'tcpPort = 0\nmaxConection = 5\n')]);
    expect(run.exit).toEqual({ code: 2, signal: null });
    expect(run.stdout).toEqual([]);
    expect(run.stderr.join('\n')).toMatch(/unknown option maxConection \(.*unknown\.toml:2\); did you mean maxConnections\?/);
  });
});
