/**
 * One cluster node in a process of its own, for test/chaos/cluster.test.ts: a server from the
 * built dist/ joined to the cluster of the NATS server given as argv[2], named argv[3]. Prints
 * {"tcpPort":N} once listening; ends on SIGTERM (or is killed).
 */
import { createServer } from '../../dist/index.js';

const [nats, name, heartbeatMs] = process.argv.slice(2);
const server = createServer({
  host: '127.0.0.1',
  udpPort: false,
  builtins: true,
  cluster: { nats, name, heartbeatMs: Number(heartbeatMs), publishTimeoutMs: 30_000, ackWaitMs: 2000, subjectPrefix: 'chaos' },
});
const { tcpPort } = await server.listen();
process.stdout.write(`${JSON.stringify({ tcpPort })}\n`);
process.once('SIGTERM', () => void server.close().then(() => process.exit(0)));
