/**
 * A child process for test/integration/pubsub-sessions.test.ts: connects to the server named by its
 * arguments (port, will topic) with a last will through the built dist/index.js, prints `ready`,
 * and waits to be killed.
 */
import { connect } from '../../dist/index.js';

const [port, willTopic] = process.argv.slice(2);
const client = await connect({ host: '127.0.0.1', tcpPort: Number(port), udpPort: false, clientId: 'will-child', will: { topic: willTopic, payload: { gone: 'will-child' }, qos: 1 } });
client.on('error', () => {});
process.stdout.write('ready\n');
setInterval(() => {}, 1000);
