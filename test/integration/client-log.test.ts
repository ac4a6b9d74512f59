/** What a client tells its `logger`, over real sockets on loopback. */
import { afterEach, describe, expect, it } from 'vitest';
import { connect, createServer, type Server } from '../../ts/index.js';
import { RecordingLogger } from '../support/recording-logger.js';

const cleanup: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const step of cleanup.splice(0).reverse()) await step().catch(() => {});
});

describe('client logger', () => {
  it('logs the session opening and ending (with the code), the reconnection attempts, and the reconnection', async () => {
    const server: Server = createServer({ host: '127.0.0.1', tcpPort: 0, udpPort: false });
    const { tcpPort } = await server.listen();
    cleanup.push(() => server.close());
    const logger = new RecordingLogger();
    const client = await connect({ host: '127.0.0.1', tcpPort, udpPort: false, logger, reconnect: { initialDelayMs: 10, maxAttempts: 50 } });
    cleanup.push(() => client.close());
    const opened = await logger.waitFor('connect');
    expect(opened.fields).toMatchObject({ component: 'hybridwire-client', peer: client.sessionId, address: '127.0.0.1', port: tcpPort });
    const first = client.sessionId;
    // The server drops the session: the client logs it and reconnects.
    [...server.peers.values()][0]!.connection.destroy(Object.assign(new Error('dropped for the test'), { code: 'HW_ERR_SHUTDOWN' }));
    const disconnect = await logger.waitFor('disconnect');
    expect(disconnect.fields).toMatchObject({ peer: first });
    expect(await logger.waitFor('reconnecting')).toMatchObject({ fields: expect.objectContaining({ attempt: 1, delayMs: expect.any(Number) }) });
    const reconnected = await logger.waitFor('reconnect');
    expect(reconnected.fields).toMatchObject({ attempt: expect.any(Number), peer: client.sessionId });
    expect(client.sessionId).not.toBe(first);
  });

  it('refuses a logger without the pino methods', async () => {
    await expect(connect({ tcpPort: 1, logger: { info() {} } as never })).rejects.toThrow(/option logger must be a pino-compatible logger/);
  });
});
