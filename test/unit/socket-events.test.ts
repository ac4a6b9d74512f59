import net, { type AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { listenToSocket, type SocketSession } from '../../ts/session/socket-events.js';
import { nextEvent } from '../support/raw-peer.js';

const open: Array<{ close(): void }> = [];
afterEach(() => {
  for (const item of open.splice(0)) item.close();
});

class Recorder implements SocketSession {
  readonly events: string[] = [];
  closed: Promise<void>;
  private onClosed: () => void = () => {};
  constructor() {
    this.closed = new Promise((resolve) => (this.onClosed = resolve));
  }
  socketData(chunk: Buffer): void {
    this.events.push(`data ${chunk.toString()}`);
  }
  socketDrain(): void {
    this.events.push('drain');
  }
  socketEnd(): void {
    this.events.push('end');
  }
  socketClosed(error: Error | undefined): void {
    this.events.push(error ? `error ${(error as NodeJS.ErrnoException).code}` : 'close');
    if (!error) this.onClosed();
  }
}

/** Two ends of a loopback TCP connection. */
async function pair(): Promise<[net.Socket, net.Socket]> {
  const listener = net.createServer({ allowHalfOpen: true });
  await new Promise<void>((resolve) => listener.listen(0, '127.0.0.1', resolve));
  open.push(listener);
  const accepted = nextEvent<[net.Socket]>(listener, 'connection');
  const client = net.connect((listener.address() as AddressInfo).port, '127.0.0.1');
  const [server] = await accepted;
  open.push({ close: () => client.destroy() }, { close: () => server.destroy() });
  return [server, client];
}

describe('listenToSocket', () => {
  it("hands each socket's events to its own session", async () => {
    const [firstServer, firstClient] = await pair();
    const [secondServer, secondClient] = await pair();
    const first = new Recorder();
    const second = new Recorder();
    listenToSocket(firstServer, first);
    listenToSocket(secondServer, second);
    const ended = nextEvent(firstServer, 'end');
    const read = nextEvent(secondServer, 'data');
    firstClient.end('one');
    secondClient.write('two');
    await Promise.all([ended, read]);
    firstServer.end();
    await first.closed;
    expect(first.events).toEqual(['data one', 'end', 'close']);
    expect(second.events).toEqual(['data two']);
  });

  it('passes on a socket error, then the close', async () => {
    const [server, client] = await pair();
    const session = new Recorder();
    listenToSocket(server, session);
    client.resetAndDestroy();
    await session.closed;
    expect(session.events).toEqual(['error ECONNRESET', 'close']);
  });
});
