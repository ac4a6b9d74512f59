/**
 * `hybridwire sub` and `hybridwire pub` (ts/cli/pubsub-cli.ts) as real processes against a real
 * `hybridwire serve`: the subscribed line, one JSON line per message, QoS, retained messages, and
 * the refusals of bad arguments.
 */
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ensureBuilt, killAll, runCli, startCli, startServe } from '../support/cli-process.js';

beforeAll(async () => {
  await ensureBuilt();
}, 180_000);
afterEach(async () => {
  await killAll();
});

describe('hybridwire sub and pub', () => {
  it('sub prints {"event":"subscribed"}, then one JSON line per message that pub publishes', async () => {
    const { tcpPort } = await startServe();
    const sub = startCli(['sub', '--host', '127.0.0.1', '--tcp-port', String(tcpPort), 'sensors/+/temp', '--qos', '1']);
    await sub.waitForLine(/^\{"event":"subscribed"\}$/, { timeoutMs: 10_000 });
    const first = await runCli(['pub', '--host', '127.0.0.1', '--tcp-port', String(tcpPort), 'sensors/1/temp', '21.5', '--qos', '1']);
    expect(first.exit).toEqual({ code: 0, signal: null });
    const second = await runCli(['pub', '--host', '127.0.0.1', '--tcp-port', String(tcpPort), 'sensors/2/temp', 'hot', '--qos', '2']);
    expect(second.exit.code).toBe(0);
    await runCli(['pub', '--host', '127.0.0.1', '--tcp-port', String(tcpPort), 'other/topic', 'ignored']);
    const line = await sub.waitForLine(/"hot"/, { timeoutMs: 10_000 });
    expect(sub.stdout.slice(1, line.index + 1).map((text) => JSON.parse(text))).toEqual([
      { topic: 'sensors/1/temp', payload: '21.5', qos: 1, retain: false },
      { topic: 'sensors/2/temp', payload: 'hot', qos: 1, retain: false },
    ]);
    sub.signal('SIGINT');
    expect((await sub.waitForExit()).code).toBe(0);
  });

  it('pub --retain leaves a message that a later sub gets with retain true', async () => {
    const { tcpPort } = await startServe();
    const pub = await runCli(['pub', '--tcp-port', String(tcpPort), 'status/door', 'open', '--retain', '--qos', '1']);
    expect(pub.exit.code).toBe(0);
    const sub = startCli(['sub', '--tcp-port', String(tcpPort), 'status/#']);
    await sub.waitForLine(/^\{"event":"subscribed"\}$/, { timeoutMs: 10_000 });
    const line = await sub.waitForLine(/status\/door/, { timeoutMs: 10_000 });
    expect(JSON.parse(line.line)).toEqual({ topic: 'status/door', payload: 'open', qos: 0, retain: true });
  });

  it('refuses bad topics, filters and arguments, exiting 2 with the reason', async () => {
    const { tcpPort } = await startServe();
    const badTopic = await runCli(['pub', '--tcp-port', String(tcpPort), 'a/+', 'x']);
    expect(badTopic.exit.code).toBe(2);
    expect(badTopic.stderr.join('\n')).toMatch(/^hybridwire: HW_ERR_INVALID_TOPIC: /);
    const badFilter = await runCli(['sub', '--tcp-port', String(tcpPort), 'a/#/b']);
    expect(badFilter.exit.code).toBe(2);
    expect(badFilter.stderr.join('\n')).toMatch(/^hybridwire: HW_ERR_INVALID_TOPIC: /);
    const badQos = await runCli(['pub', '--tcp-port', String(tcpPort), 't', 'x', '--qos', '3']);
    expect(badQos.stderr.join('\n')).toMatch(/--qos must be 0, 1 or 2/);
    const missing = await runCli(['pub', '--tcp-port', String(tcpPort), 't']);
    expect(missing.stderr.join('\n')).toMatch(/usage: hybridwire pub/);
  });
});
