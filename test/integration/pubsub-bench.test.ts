/**
 * bench/pubsub/run.mjs, the pub/sub benchmark, run for a tiny message count with each system: every
 * delivery it reports must have been counted at the subscribers (messages × subscribers), and every
 * broker process it started must be gone afterwards (for hybridwire-cluster: nats-server and its three
 * nodes). mosquitto and nats-server come from Debian
 * packages; without one, that system's case is skipped and says which package to install. Nothing
 * here asserts speed.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../../', import.meta.url));
const RUNNER = `${root}bench/pubsub/run.mjs`;
const SCALE = 0.01;
// bench/pubsub/cases.mjs: one-q1 is 15,000 messages to 1 subscriber, fanout-100-q0 3,000 to 100.
const CASES = { 'one-q1': { messages: 150, subscribers: 1 }, 'fanout-100-q0': { messages: 30, subscribers: 100 } };

const natsServer = ['/usr/sbin/nats-server', '/usr/bin/nats-server'].find((path) => existsSync(path));
const missing: Record<string, string | undefined> = {
  mosquitto: existsSync('/usr/sbin/mosquitto') ? undefined : 'mosquitto',
  nats: natsServer ? undefined : 'nats-server',
  'hybridwire-cluster': natsServer ? undefined : 'nats-server',
};
for (const [system, pkg] of Object.entries(missing)) {
  if (pkg) console.warn(`test/integration/pubsub-bench.test.ts: ${system} skipped, its broker is not installed (apt-get install ${pkg})`);
}

interface Measurement {
  case: string;
  system: string;
  ok: boolean;
  error?: string;
  result?: { delivered: number; expected: number; latencyDeliveries: number; deliveriesPerSecond: number; brokerPid: number; brokerPids: number[] };
}

function run(args: string[]): Promise<{ measurements: Measurement[]; meta: { notes: string[] } }> {
  return new Promise((resolve, reject) => {
    execFile(process.execPath, [RUNNER, ...args], { timeout: 170_000, maxBuffer: 16 * 2 ** 20 }, (error, stdout, stderr) => {
      if (error) reject(new Error(`${error.message}\n${stderr}`));
      else resolve(JSON.parse(stdout));
    });
  });
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe('bench/pubsub/run.mjs', () => {
  for (const system of ['hybridwire', 'aedes', 'mosquitto', 'nats', 'hybridwire-cluster']) {
    const pkg = missing[system];
    const qos0Only = system === 'nats' || system === 'hybridwire-cluster'; // core NATS has QoS 0 only
    const cases = qos0Only ? ['fanout-100-q0'] : Object.keys(CASES);
    // The cluster's three nodes each get a subscriber process (process i connects to node i mod 3).
    const subscriberProcesses = system === 'hybridwire-cluster' ? '3' : '2';
    it.skipIf(pkg !== undefined)(
      `${system}: counts every delivery of ${cases.join(' and ')}, and its broker process is gone afterwards${pkg ? ` (skipped: install the Debian package ${pkg})` : ''}`,
      async () => {
        const { measurements, meta } = await run(['--json', '--rounds', '1', '--scale', String(SCALE), '--latency-ms', '200', '--subscriber-processes', subscriberProcesses, '--systems', system, '--cases', cases.join(',')]);
        expect(meta.notes).toEqual([]);
        expect(measurements.map((m) => m.case).sort()).toEqual([...cases].sort());
        for (const measurement of measurements) {
          expect(measurement.ok, measurement.error).toBe(true);
          const { messages, subscribers } = CASES[measurement.case as keyof typeof CASES];
          expect(measurement.result!.expected).toBe(messages * subscribers);
          expect(measurement.result!.delivered).toBe(messages * subscribers);
          expect(measurement.result!.latencyDeliveries).toBeGreaterThan(0);
          expect(measurement.result!.deliveriesPerSecond).toBeGreaterThan(0);
          expect(alive(measurement.result!.brokerPid)).toBe(false);
          expect(measurement.result!.brokerPids).toHaveLength(system === 'hybridwire-cluster' ? 4 : 1);
          for (const pid of measurement.result!.brokerPids) expect(alive(pid)).toBe(false);
        }
      },
      180_000,
    );
  }
});
