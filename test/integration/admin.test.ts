/** The admin request over a real session on loopback. */
import { afterEach, describe, expect, it } from 'vitest';
import { connect, createServer } from '../../ts/index.js';
import { ADMIN_TYPE, type AdminReply } from '../../ts/features/admin/admin.js';

const cleanup: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const step of cleanup.splice(0).reverse()) await step().catch(() => {});
});

describe('admin request', () => {
  it('is answered from loopback without a token: the figures and the sessions, busiest first', async () => {
    const server = createServer({ host: '127.0.0.1', tcpPort: 0, udpPort: false, adminToken: 'a token nobody sends' });
    const { tcpPort } = await server.listen();
    cleanup.push(() => server.close());
    const busy = await connect({ host: '127.0.0.1', tcpPort, udpPort: false });
    const admin = await connect({ host: '127.0.0.1', tcpPort, udpPort: false });
    cleanup.push(() => busy.close(), () => admin.close());
    for (let i = 0; i < 10; i++) await busy.request('ping');
    const reply = (await admin.protocolRequest(ADMIN_TYPE, undefined)) as unknown as AdminReply;
    expect(reply.sessionCount).toBe(2);
    expect(reply.peers.map((peer) => peer.id)).toEqual([busy.sessionId, admin.sessionId]);
    expect(reply.peers[0]).toMatchObject({ address: '127.0.0.1', messagesIn: 10, messagesOut: 10 });
    expect(reply.figures.sessions).toBe(2);
    // The ten pings, and the admin request itself once it is counted (a batch counts after its handlers).
    expect([10, 11]).toContain(reply.figures.tcp.messagesIn);
    // The request turned metrics on: handled types are counted from then.
    await busy.request('ping');
    const again = (await admin.protocolRequest(ADMIN_TYPE, undefined)) as unknown as AdminReply;
    expect(again.figures.types.find((entry) => entry.type === 'ping')?.messages).toBe(1);
    expect(again.figures.types.find((entry) => entry.type === ADMIN_TYPE)?.messages).toBe(1);
  });
});
