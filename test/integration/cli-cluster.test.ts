/**
 * `hybridwire serve --cluster nats://...`: two serve processes on one nats-server form a cluster;
 * the built-in broadcast sent to one reaches a client of the other.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { NatsServer, natsSkipReason } from '../support/nats-server.js';
import { ensureBuilt, killAll, startCli } from '../support/cli-process.js';
import { closeAfterEach, startClient } from '../support/sessions.js';
import { within } from '../support/wait.js';

if (natsSkipReason !== undefined) console.warn(`test/integration/cli-cluster.test.ts skipped: ${natsSkipReason}`);

closeAfterEach();
afterEach(killAll);

let nats: NatsServer;

async function startNode(name: string): Promise<number> {
  const cli = startCli(['serve', '--host', '127.0.0.1', '--tcp-port', '0', '--udp-port', '0', '--cluster', nats.url], { ...process.env, HYBRIDWIRE_CLUSTER_NAME: name, HYBRIDWIRE_CLUSTER_HEARTBEAT_MS: '200' });
  await cli.waitForLine(/"event":"listening"/, { timeoutMs: 15_000 });
  const listening = JSON.parse(cli.stdout.find((line) => line.includes('"listening"'))!) as { tcpPort: number; cluster: string };
  expect(listening.cluster).toBe(name);
  return listening.tcpPort;
}

describe.skipIf(natsSkipReason !== undefined)(`hybridwire serve --cluster${natsSkipReason ? ` (skipped: ${natsSkipReason})` : ''}`, () => {
  beforeAll(async () => {
    await ensureBuilt();
    nats = await NatsServer.start();
  });
  afterAll(async () => {
    await nats?.dispose();
  });

  it('two serve processes form one cluster: a broadcast to one reaches the clients of the other', async () => {
    const [a, b] = await Promise.all([startNode('cli-a'), startNode('cli-b')]);
    const sender = await startClient({ tcpPort: a, udpPort: false });
    const receiver = await startClient({ tcpPort: b, udpPort: false });
    // Both nodes know each other once the stats of one count two nodes.
    const deadline = Date.now() + 10_000;
    for (;;) {
      const stats = (await sender.request('stats')) as { cluster?: { nodes: number } };
      if (stats.cluster?.nodes === 2) break;
      if (Date.now() > deadline) throw new Error(`node cli-a never saw cli-b: ${JSON.stringify(stats.cluster)}`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    const received = new Promise<unknown>((resolve) => receiver.once('message', (type, payload) => resolve([type, payload])));
    await sender.request('broadcast', { text: 'across nodes' });
    const [type, payload] = (await within(received, 5000, 'the broadcast on the other node')) as [string, unknown];
    expect(type).toBe('broadcast');
    expect(payload).toMatchObject({ from: sender.sessionId, payload: { text: 'across nodes' } });
  });
});
