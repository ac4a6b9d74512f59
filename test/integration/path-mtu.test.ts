/**
 * Path MTU discovery and oversized datagrams on real sockets whose path is narrower than
 * loopback's 64 KiB: each case runs test/support/netns-udp.mjs (a server and client of dist/) in
 * a private network namespace (`unshare -rn`) whose loopback MTU is set to 9000 or 1500. Needs
 * unshare and ip (util-linux, iproute2) and user namespaces; without them the cases are skipped
 * with a message. The child loads dist/ (built by `npm install`; `npm run compile:ts` after edits).
 */
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const script = path.join(path.dirname(fileURLToPath(import.meta.url)), '../support/netns-udp.mjs');
const probe = process.platform === 'linux' ? spawnSync('unshare', ['-rn', 'sh', '-c', 'ip link set lo up && ip link set lo mtu 1500'], { encoding: 'utf8' }) : undefined;
const why =
  process.platform !== 'linux'
    ? 'path MTU discovery is Linux-only'
    : probe?.error !== undefined || probe?.status !== 0
      ? `needs unshare -rn and ip (util-linux, iproute2) with user namespaces: ${probe?.error?.message ?? probe?.stderr.trim()}`
      : undefined;
if (why !== undefined) console.warn(`path-mtu.test.ts skipped: ${why}`);

function inNamespace(loopbackMtu: number, ...args: string[]): Record<string, unknown> {
  const run = spawnSync('unshare', ['-rn', 'sh', '-c', `ip link set lo up && ip link set lo mtu ${loopbackMtu} && exec node "$0" "$@"`, script, ...args], {
    encoding: 'utf8',
    timeout: 60_000,
  });
  expect(run.status, run.stderr).toBe(0);
  return JSON.parse(run.stdout.trim().split('\n').at(-1)!) as Record<string, unknown>;
}

describe.skipIf(why !== undefined)('UDP over a path narrower than loopback (a network namespace)', () => {
  it('path MTU discovery finds 8952 bytes on a 9000-byte link: larger probes are lost, and messages then use the size found', () => {
    const result = inNamespace(9000, 'discover');
    // 65507, 65488 and 16384 are each lost three times (the kernel refuses them unfragmented).
    expect(result).toMatchObject({ pathMtu: 8952, probesSent: 10, probesLost: 9, delivered: 5, intact: true });
    // 30,000 bytes in 4 datagrams of about 8,900 where the 1200-byte base would take 27.
    expect(result.datagrams).toBeLessThanOrEqual(5 * 4 + 2);
  });

  it('over TLS, the sizes probed are the sealed datagrams on the wire: 8952 bytes found on a 9000-byte link, as without sealing', () => {
    const result = inNamespace(9000, 'discover', 'tls');
    // Probing 8952 less the 24 bytes sealing adds: a probe cut at 8952 would be 8976 sealed and
    // lost, and the search would end at 1476.
    expect(result).toMatchObject({ sealed: true, pathMtu: 8952, probesSent: 10, probesLost: 9, delivered: 5, intact: true });
  });

  it('an mtu above the link\'s, with discovery off, still delivers: datagrams leave in IP fragments, and refused GSO runs go one by one', () => {
    const result = inNamespace(1500, 'fixed', '4000');
    expect(result).toMatchObject({ delivered: 5, intact: true });
  });
});
