import { createServer } from '../api/server.js';
import type { Peer } from '../api/peer.js';
import type { ServerTlsOptions } from '../transport/tls.js';

export interface ServeOptions {
  host: string;
  tcpPort: number;
  udpPort: number;
  /** TLS (plaintext clients are then refused); none without. */
  tls?: ServerTlsOptions;
}

const UNHANDLED_SHOWN = 5;

function line(event: Record<string, unknown>): void {
  process.stdout.write(`${JSON.stringify(event)}\n`);
}

/**
 * Chat relay server: prints one JSON line per event; the first is {"event":"listening",...}. It
 * answers all four built-in types, stats and broadcast included (a library server answers only
 * ping and echo unless told otherwise): it is a tool to try hybridwire with, which `connect`'s
 * /stats and /broadcast use.
 */
export async function serve(options: ServeOptions): Promise<number> {
  const server = createServer({ host: options.host, tcpPort: options.tcpPort, udpPort: options.udpPort, builtins: true, ...(options.tls ? { tls: options.tls } : {}) });
  server.handle<{ text?: unknown }>('chat', (message, peer, info) => {
    const text = typeof message?.text === 'string' ? message.text : JSON.stringify(message);
    line({ event: 'chat', peer: peer.id, transport: info.transport, text });
    server.broadcast('chat', { from: peer.id.slice(0, 8), text }, { except: peer });
    if (info.transport === 'tcp') peer.send('chat_response', { text: `echo: ${text}` });
  });
  // Unhandled messages are shown, but only the first few of each type: a flood of them must not
  // turn the server into a logger bound by its stdout.
  const shown = new Map<string, number>();
  server.on('message', (type, payload, peer, info) => {
    const count = (shown.get(type) ?? 0) + 1;
    if (count > UNHANDLED_SHOWN + 1 || shown.size > 1000) return;
    shown.set(type, count);
    if (count > UNHANDLED_SHOWN) {
      line({ event: 'message', type, note: `more '${type}' messages are not shown; /stats counts them` });
      return;
    }
    line({ event: 'message', peer: peer.id, type, transport: info.transport, payload: payload instanceof Uint8Array ? `<${payload.length} bytes>` : payload });
  });
  server.on('connection', (peer: Peer) =>
    line({
      event: 'connection',
      peer: peer.id,
      address: peer.tcpAddress.address,
      port: peer.tcpAddress.port,
      ...(peer.encrypted ? { tls: true } : {}),
      ...(peer.certificate ? { certificate: { subject: peer.certificate.subject, fingerprint: peer.certificate.fingerprint } } : {}),
    }),
  );
  server.on('disconnect', (peer: Peer, error) => line({ event: 'disconnect', peer: peer.id, ...(error ? { code: (error as { code?: string }).code, reason: error.message } : {}) }));
  server.on('peerError', (peer, error) => line({ event: 'peerError', peer: peer?.id, code: (error as { code?: string }).code, reason: error.message }));
  // Signal handlers go in before the listening line: whoever reads that line may signal at once.
  let stop!: (signal: NodeJS.Signals) => void;
  const stopped = new Promise<NodeJS.Signals>((resolve) => (stop = resolve));
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  const { tcpPort, udpPort } = await server.listen();
  line({ event: 'listening', tcpPort, udpPort });
  line({ event: 'shutdown', signal: await stopped });
  await server.close();
  line({ event: 'closed' });
  return 0;
}
