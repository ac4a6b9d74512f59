/**
 * Servers and clients for tests over 127.0.0.1 on port 0, closed after each test: call
 * `closeAfterEach()` once in a test file, then start them with `startServer()` and `startClient()`.
 */
import { afterEach } from 'vitest';
import { connect, createServer, type Client, type Server } from '../../ts/index.js';

const cleanup: Array<() => Promise<void>> = [];

export function closeAfterEach(): void {
  afterEach(async () => {
    for (const step of cleanup.splice(0).reverse()) await step().catch(() => {});
  });
}

export async function startServer(options: Parameters<typeof createServer>[0] = {}): Promise<{ server: Server; tcpPort: number; udpPort: number }> {
  const server = createServer({ host: '127.0.0.1', ...options });
  const { tcpPort, udpPort } = await server.listen();
  cleanup.push(() => server.close());
  return { server, tcpPort, udpPort: udpPort ?? 0 };
}

export async function startClient(options: Parameters<typeof connect>[0]): Promise<Client> {
  const client = await connect({ host: '127.0.0.1', ...options });
  cleanup.push(() => client.close());
  return client;
}

/** Polls `check` until it holds; rejects naming `what` after `timeoutMs`. */
export function waitUntil(check: () => boolean, what: string, timeoutMs = 5000): Promise<void> {
  return new Promise((resolve, reject) => {
    const started = Date.now();
    const poll = () => {
      if (check()) return resolve();
      if (Date.now() - started > timeoutMs) return reject(new Error(`timed out waiting for ${what}`));
      setTimeout(poll, 5);
    };
    poll();
  });
}
