/**
 * Issue 11, point 3: the shared reassembly budget (udpReassemblyTotalBytes) held hostage. One
 * datagram per session, the first fragment of a 4 MiB reliable message that never continues,
 * makes the server set aside 4 MiB: 16 such sessions fill the default 64 MiB. No session may hold
 * more than a fair share while others are refused, and a closed session's charges come back at
 * once, not when garbage collection finalizes its endpoint.
 */
import { describe, expect, it } from 'vitest';
import { FrameType, type Server } from '../../ts/index.js';
import { pseudoRandomBytes } from '../support/bytes.js';
import { cleanupAfterEach, client, rawSession, startServer, udpAttacker } from '../support/abuse.js';
import { validateUdpPath, type UdpAttacker } from '../support/udp-attacker.js';
import { waitUntil, within } from '../support/wait.js';
import { datagram, firstReliableFragment } from '../support/wire.js';

const defer = cleanupAfterEach();

const MIB = 1024 * 1024;
const MTU = 1200;
/** The largest message a 4 MiB reassembly budget takes: each held message costs its length + 64. */
const HOSTAGE_LENGTH = 4 * MIB - 64;
const HELLO_UDP = { mtu: MTU, window: 64, reassemblyBytes: 4 * MIB, span: 16384, maxMtu: MTU };

interface Hostage {
  udp: UdpAttacker;
  destroy(): void;
}

/** A session that sends the first fragment of a 4 MiB reliable message from its validated address, and nothing more. */
async function takeHostage(server: Server, tcpPort: number, udpPort: number): Promise<Hostage> {
  const { peer, token } = await rawSession(defer, tcpPort, { udp: HELLO_UDP });
  const udp = await udpAttacker(defer);
  await validateUdpPath(peer, udp, token, udpPort);
  const before = server.stats().udpSocket!.datagramsReceived;
  await udp.send(datagram(token, [firstReliableFragment(HOSTAGE_LENGTH, MTU)]), udpPort);
  await waitUntil(() => server.stats().udpSocket!.datagramsReceived > before, 2000, 'the server to receive the first fragment');
  return { udp, destroy: () => peer.destroy() };
}

/** A well-behaved client sends a 1 MiB reliable UDP message; resolves when the server's handler has it whole. */
async function goodClientDelivers(server: Server, tcpPort: number, timeoutMs: number): Promise<void> {
  const body = pseudoRandomBytes(MIB, 7);
  const arrived = new Promise<Uint8Array>((resolve) => server.handle('big', (payload: Uint8Array) => resolve(payload)));
  const good = await client(defer, { tcpPort });
  await waitUntil(() => good.udpReady, 5000, "the good client's UDP path");
  good.send('big', body, { transport: 'udp', reliable: true });
  const payload = await within(arrived, timeoutMs, "the good client's 1 MiB reliable UDP message");
  expect(Buffer.from(payload).equals(body)).toBe(true);
}

describe('the shared reassembly budget', () => {
  it("20 sessions each holding the first fragment of a 4 MiB message do not keep a good client's fragmented reliable UDP out", async () => {
    // Defaults: 64 MiB shared, 4 MiB per session.
    const { server, tcpPort, udpPort } = await startServer(defer);
    const hostages: Hostage[] = [];
    for (let i = 0; i < 20; i++) hostages.push(await takeHostage(server, tcpPort, udpPort));
    // Within the reassembly timeout (5 s by default): fair shares, not eviction, must let it in.
    await goodClientDelivers(server, tcpPort, 4000);
  });

  it('a closed session returns its charges at once: the budget is free when its disconnect is reported', async () => {
    // A session alone may hold half the shared total (its fair share), so 8 MiB lets it hold 4 MiB.
    const { server, tcpPort, udpPort } = await startServer(defer, { udpReassemblyTotalBytes: 8 * MIB + 4096 });
    const hostage = await takeHostage(server, tcpPort, udpPort);
    // Acknowledged: the server holds the fragment, and so the whole 4 MiB.
    await hostage.udp.waitForFrame(FrameType.ACK, 2000);
    expect(server.stats().udpReassembly.usedBytes).toBeGreaterThanOrEqual(HOSTAGE_LENGTH);
    expect(server.stats().udpReassembly.holders).toBe(1);
    const released = new Promise<number>((resolve) => server.once('disconnect', () => resolve(server.stats().udpReassembly.usedBytes)));
    hostage.destroy();
    // Read in the disconnect event itself: no garbage collection can have run in between.
    expect(await within(released, 3000, "the hostage's disconnect")).toBe(0);
    expect(server.stats().udpReassembly.holders).toBe(0);
    await goodClientDelivers(server, tcpPort, 2000);
  });
});
