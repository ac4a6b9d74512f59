/**
 * `hybridwire top` in a real terminal: tmux runs it against a running `hybridwire serve` while a
 * client sends, and the test reads the screen with capture-pane. Needs the Debian package tmux;
 * without it the test is skipped and says so.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { CLI, REPO, type Library, ensureBuilt, killAll, loadLibrary, startServe } from '../support/cli-process.js';

const tmuxFound = spawnSync('tmux', ['-V'], { encoding: 'utf8' }).status === 0;
if (!tmuxFound) console.warn('test/integration/cli-top.test.ts: skipped, tmux is not installed (apt-get install tmux)');
// A server of our own, apart from any tmux the machine runs.
const SOCKET = `hybridwire-test-${process.pid}`;
const tmux = (...args: string[]) => execFileSync('tmux', ['-L', SOCKET, ...args], { encoding: 'utf8', timeout: 5000 });

let lib: Library;
beforeAll(async () => {
  await ensureBuilt();
  lib = await loadLibrary();
}, 240_000);
afterEach(async () => {
  if (tmuxFound) spawnSync('tmux', ['-L', SOCKET, 'kill-server']);
  await killAll();
});
afterAll(() => killAll());

function sessionAlive(name: string): boolean {
  return spawnSync('tmux', ['-L', SOCKET, 'has-session', '-t', name]).status === 0;
}

/** The pane's text once `done(screen)` holds; fails with the last screen after `timeoutMs`. */
async function screenWhen(name: string, done: (screen: string) => boolean, timeoutMs = 10_000): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  let screen = '';
  while (Date.now() < deadline) {
    screen = sessionAlive(name) ? tmux('capture-pane', '-p', '-t', name) : '(the tmux session has ended)';
    if (done(screen)) return screen;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`the screen did not show what was expected within ${timeoutMs} ms:\n${screen}`);
}

describe.skipIf(!tmuxFound)(`hybridwire top in a terminal${tmuxFound ? '' : ' (skipped: install the Debian package tmux)'}`, () => {
  it('shows the peers, msg/s in and out, RTT, drops and the busiest types, refreshed each second; q quits', async () => {
    const serve = await startServe();
    const client = await lib.connect({ host: '127.0.0.1', tcpPort: serve.tcpPort, udpPort: false });
    // Steady traffic while top watches: 50 pings every 50 ms, for at most 20 s.
    let sent = 0;
    const load = setInterval(() => {
      for (let i = 0; i < 50; i++) void client.request('ping').catch(() => {});
      sent += 50;
    }, 50);
    const stopLoad = setTimeout(() => clearInterval(load), 20_000);
    try {
      const name = 'top';
      // Should top exit early, its pane stays with what it printed, so the failure says why.
      tmux('new-session', '-d', '-s', name, '-x', '120', '-y', '40', '-c', REPO, `${JSON.stringify(process.execPath)} ${JSON.stringify(CLI)} top --host 127.0.0.1 --tcp-port ${serve.tcpPort}; echo "top exited $?"; sleep 30`);
      const peerPrefix = client.sessionId!.slice(0, 8);
      // A second frame has rates: msg/s in is a number, and the ping type shows its rate.
      const screen = await screenWhen(name, (text) => /msg\/s in [1-9][\d,]* {2}out [1-9]/.test(text) && new RegExp(`^  ping +[1-9]`, 'm').test(text) && text.includes(peerPrefix));
      expect(screen).toMatch(/^hybridwire top {2}127\.0\.0\.1:\d+ {2}up \S+ {2}peers 2 {2}\(q quits\)$/m);
      expect(screen).toMatch(/^RTT \S+( µs| ms)? {4}drops 0 {4}retransmissions 0$/m);
      expect(screen).toMatch(new RegExp(`^${peerPrefix} +127\\.0\\.0\\.1:\\d+ +\\S+( µs| ms)? +[1-9][\\d,]* +[1-9][\\d,]* +\\S+ B$`, 'm'));
      const uptime = /up (\S+)/.exec(screen)![1];
      // Refreshed: the uptime moves on.
      await screenWhen(name, (text) => /up (\S+)/.exec(text)?.[1] !== uptime);
      tmux('send-keys', '-t', name, 'q');
      await screenWhen(name, (text) => /^top exited 0$/m.test(text), 5000);
      expect(sent).toBeGreaterThan(0);
    } finally {
      clearInterval(load);
      clearTimeout(stopLoad);
      await client.close();
    }
  });

  it('says why it cannot reach the server, and exits 2', async () => {
    // A port nothing listens on. (The admin request's refusal of other addresses is tested in
    // test/unit/admin.test.ts: every connection a test may make comes from loopback.)
    const name = 'refused';
    tmux('new-session', '-d', '-s', name, '-x', '100', '-y', '10', '-c', REPO, `${JSON.stringify(process.execPath)} ${JSON.stringify(CLI)} top --host 127.0.0.1 --tcp-port 1; echo "exit $?"; sleep 30`);
    const screen = await screenWhen(name, (text) => /exit \d/.test(text));
    expect(screen).toMatch(/cannot connect to 127\.0\.0\.1:1/);
    expect(screen).toMatch(/exit 2/);
  });
});
