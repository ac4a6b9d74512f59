import { createServer } from '../api/server.js';
import { connect, type Client } from '../api/client.js';

function say(text: string): void {
  process.stdout.write(`${text}\n`);
}

function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout;
  return Promise.race([
    promise.finally(() => clearTimeout(timer)),
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`demo: ${what} did not arrive within ${ms} ms`)), ms);
    }),
  ]);
}

/** Server and two clients in one process, showing TCP, UDP, request/response and broadcast. */
export async function demo(): Promise<number> {
  const server = createServer({ host: '127.0.0.1', tcpPort: 0, udpPort: 0, builtins: true });
  server.handle<{ text: string }>('chat', (message, peer) => peer.send('chat_response', { text: `echo: ${message.text}` }));
  let resolveUdp!: (value: { x: number; y: number }) => void;
  const udpArrived = new Promise<{ x: number; y: number }>((resolve) => (resolveUdp = resolve));
  server.handle<{ x: number; y: number }>('position', (position, _peer, info) => {
    say(`server: position ${JSON.stringify(position)} over ${info.transport}`);
    resolveUdp(position);
  });
  server.handle<number[]>('sum', (numbers) => numbers.reduce((a, b) => a + b, 0));
  const { tcpPort, udpPort } = await server.listen();
  say(`server: listening on 127.0.0.1, TCP port ${tcpPort}, UDP port ${udpPort}`);
  const clients: Client[] = [];
  try {
    await run(tcpPort, udpPort!, clients, udpArrived);
  } finally {
    // Also on failure: close everything so that the process ends with its error.
    await Promise.all(clients.map((client) => client.close()));
    await server.close();
  }
  say('demo: done, server and clients closed cleanly');
  return 0;
}

async function run(tcpPort: number, udpPort: number, clients: Client[], udpArrived: Promise<unknown>): Promise<void> {
  const client = await connect({ host: '127.0.0.1', tcpPort, udpPort });
  clients.push(client);
  say(`client: connected, session ${client.sessionId}; negotiated features: ${['udp', 'request', 'heartbeat'].filter((f) => client.supportsFeature(f)).join(', ')}`);

  const reply = within(new Promise<{ text: string }>((resolve) => client.handle('chat_response', resolve)), 2000, 'chat_response');
  client.send('chat', { text: 'hello over TCP' });
  say(`client: chat_response ${JSON.stringify(await reply)}`);

  // The server learns the client's UDP address from its first datagram; wait until it has.
  for (let i = 0; i < 100 && !client.udpReady; i++) await new Promise((resolve) => setTimeout(resolve, 10));
  // A datagram can be lost even here: resend until the server has seen one.
  const udpTimer = setInterval(() => client.send('position', { x: 1, y: 2 }, { transport: 'udp' }), 50);
  client.send('position', { x: 1, y: 2 }, { transport: 'udp' });
  await within(udpArrived, 3000, 'the UDP datagram');
  clearInterval(udpTimer);

  say(`client: request sum([1,2,3,4]) -> ${JSON.stringify(await client.request('sum', [1, 2, 3, 4], { timeoutMs: 1000 }))}`);
  say(`client: echo -> ${JSON.stringify(await client.request('echo', 'hello', { timeoutMs: 1000 }))}`);
  say(`client: ping round trip ${(await client.ping()).toFixed(3)} ms`);

  const second = await connect({ host: '127.0.0.1', tcpPort, udpPort });
  clients.push(second);
  const broadcast = within(new Promise((resolve) => second.handle('broadcast', resolve)), 2000, 'the broadcast');
  const recipients = await client.request('broadcast', { text: 'hi everyone' });
  say(`client: broadcast reached ${JSON.stringify(recipients)} other client(s); second client got ${JSON.stringify(await broadcast)}`);

  const stats = (await client.request('stats')) as { connectedClients: number; tcp: unknown; udp: { messagesIn: number; datagramsIn: number } };
  say(`server: stats ${JSON.stringify({ connectedClients: stats.connectedClients, tcp: stats.tcp, udp: { messagesIn: stats.udp.messagesIn, datagramsIn: stats.udp.datagramsIn } })}`);
}
