// One process of soak clients: opens `clients` sessions and keeps each busy (TCP messages and
// requests, unreliable and reliable UDP, a fragmented reliable message now and then) until told
// to close them gracefully, or until the driver kills the process.
import { serveParent, notifyParent } from '../../bench/e2e/harness.mjs';
import { connect } from '../../dist/index.js';

const clients = [];
let running = true;
const large = Buffer.alloc(20 * 1024, 7);

async function busy(client, index) {
  let round = 0;
  while (running && client.state === 'connected') {
    round++;
    try {
      client.send('note', { index, round });
      client.send('note', { index, round }, { transport: 'udp' });
      client.send('note', Buffer.alloc(64, round & 0xff), { transport: 'udp', reliable: true });
      if (round % 10 === 0) client.send('note', large, { transport: 'udp', reliable: true });
      await client.request('work', { index, round }, { timeoutMs: 5000 });
    } catch {
      // A request cut short by a close or a full queue ends this client's loop; the driver counts sessions.
      return;
    }
  }
}

serveParent({
  async open({ host, tcpPort, udpPort, count, heartbeatIntervalMs, heartbeatTimeoutMs }) {
    for (let i = 0; i < count; i++) {
      const client = await connect({ host, tcpPort, udpPort, heartbeatIntervalMs, heartbeatTimeoutMs, connectTimeoutMs: 5000 });
      client.on('error', () => {});
      clients.push(client);
      void busy(client, i);
    }
    notifyParent('opened', { count });
    return { count };
  },
  async close() {
    running = false;
    await Promise.all(clients.map((client) => client.close()));
    return { closed: clients.length };
  },
  async stop() {
    return {};
  },
});
