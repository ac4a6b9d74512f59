/**
 * What a server tells its `logger`, over real sockets on loopback: a recording logger for the
 * fields, and pino itself to show that a pino logger is taken as it is.
 */
import net from 'node:net';
import { once } from 'node:events';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { connect, createServer, type Client, type Server } from '../../ts/index.js';
import { RecordingLogger } from '../support/recording-logger.js';

const cleanup: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const step of cleanup.splice(0).reverse()) await step().catch(() => {});
});

async function started(options: Parameters<typeof createServer>[0]): Promise<{ server: Server; tcpPort: number }> {
  const server = createServer({ host: '127.0.0.1', tcpPort: 0, udpPort: false, ...options });
  const { tcpPort } = await server.listen();
  cleanup.push(() => server.close());
  return { server, tcpPort };
}

async function client(tcpPort: number): Promise<Client> {
  const c = await connect({ host: '127.0.0.1', tcpPort, udpPort: false });
  cleanup.push(() => c.close());
  return c;
}

describe('server logger', () => {
  it('logs listening, connection and disconnect with the peer id, address and port', async () => {
    const logger = new RecordingLogger();
    const { server, tcpPort } = await started({ logger });
    expect(logger.of('listening')).toEqual([{ level: 'info', message: expect.stringContaining(String(tcpPort)), fields: expect.objectContaining({ event: 'listening', tcpPort, component: 'hybridwire-server' }) }]);
    const c = await client(tcpPort);
    const connection = await logger.waitFor('connection');
    expect(connection.level).toBe('info');
    expect(connection.fields).toMatchObject({ peer: c.sessionId, address: '127.0.0.1', port: expect.any(Number) });
    const gone = once(server, 'disconnect');
    await c.close();
    await gone;
    const disconnect = await logger.waitFor('disconnect');
    expect(disconnect.fields).toMatchObject({ peer: c.sessionId, address: '127.0.0.1' });
    expect(disconnect.fields.code).toBeUndefined();
  });

  it('logs a peer that broke the protocol at warn, with the error code, and its disconnect with the same code', async () => {
    const logger = new RecordingLogger();
    const { tcpPort } = await started({ logger });
    const c = await client(tcpPort);
    await logger.waitFor('connection');
    // A frame of a version nobody speaks, on the session's own socket.
    const socket = (c as unknown as { connection: { socket: net.Socket } }).connection.socket;
    socket.write(Buffer.alloc(32, 0xff));
    const peerError = await logger.waitFor('peerError');
    expect(peerError.level).toBe('warn');
    expect(peerError.fields).toMatchObject({ peer: c.sessionId, address: '127.0.0.1', code: expect.stringMatching(/^HW_ERR_/) });
    const disconnect = await logger.waitFor('disconnect');
    expect(disconnect.fields).toMatchObject({ peer: c.sessionId, code: peerError.fields.code });
  });

  it('logs a refused handshake at warn with the address and HW_ERR_SERVER_FULL', async () => {
    const logger = new RecordingLogger();
    const { tcpPort } = await started({ logger, maxConnections: 1 });
    await client(tcpPort);
    await expect(connect({ host: '127.0.0.1', tcpPort, udpPort: false })).rejects.toMatchObject({ code: 'HW_ERR_SERVER_FULL' });
    const refused = await logger.waitFor('refused');
    expect(refused.level).toBe('warn');
    expect(refused.fields).toMatchObject({ code: 'HW_ERR_SERVER_FULL', address: '127.0.0.1', port: expect.any(Number) });
  });

  it('logs close', async () => {
    const logger = new RecordingLogger();
    const { server } = await started({ logger });
    await server.close();
    expect(logger.of('close')).toHaveLength(1);
  });

  it('takes a pino logger as it is: JSON lines with level, peer id and address', async () => {
    const lines: Array<Record<string, unknown>> = [];
    const sink = new Writable({
      write(chunk: Buffer, _encoding, done) {
        for (const line of chunk.toString('utf8').split('\n')) if (line !== '') lines.push(JSON.parse(line) as Record<string, unknown>);
        done();
      },
    });
    const { server, tcpPort } = await started({ logger: pino({ level: 'debug' }, sink) });
    const c = await client(tcpPort);
    const gone = once(server, 'disconnect');
    await c.close();
    await gone;
    await new Promise((resolve) => setImmediate(resolve));
    expect(lines).toContainEqual(expect.objectContaining({ level: 30, event: 'connection', peer: c.sessionId, address: '127.0.0.1' }));
    expect(lines).toContainEqual(expect.objectContaining({ level: 30, event: 'disconnect', peer: c.sessionId }));
  });

  it('is silent without a logger: no listeners are added, and a logger without the pino methods is refused', () => {
    const server = createServer({ udpPort: false });
    expect(['listening', 'connection', 'disconnect', 'peerError', 'close'].map((event) => server.listenerCount(event as never))).toEqual([0, 0, 0, 0, 0]);
    expect(() => createServer({ logger: { info() {}, warn() {} } as never })).toThrow(/option logger must be a pino-compatible logger .* it has no error, debug, child/);
  });
});
