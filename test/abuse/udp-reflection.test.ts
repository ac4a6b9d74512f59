/**
 * Issue 11, point 1: reflection and amplification. A datagram that carries a valid token but comes
 * from an address the session has not validated (on loopback another source port stands in for a
 * spoofed victim) may draw at most 3× its bytes back (RFC 9000 §8.1), and never a path MTU probe;
 * one datagram of PINGs draws at most one PONG.
 */
import { describe, expect, it } from 'vitest';
import { FrameFlag, FrameType } from '../../ts/index.js';
import { cleanupAfterEach, rawSession, startServer, udpAttacker } from '../support/abuse.js';
import { validateUdpPath } from '../support/udp-attacker.js';
import { Encoding, INLINE, Kind, datagram, message } from '../support/wire.js';

const defer = cleanupAfterEach();

/** The server is taken to have finished answering once it has sent nothing for this long. */
const IDLE_MS = 500;
/** The longest a test watches what comes back. */
const WATCH_MS = 8000;

/** UDP settings offered in the attacker's HELLO: path MTU discovery allowed up to 65507. */
const DISCOVERY = { mtu: 1200, window: 64, reassemblyBytes: 1 << 20, span: 16384, maxMtu: 65_507 };
const NO_DISCOVERY = { ...DISCOVERY, maxMtu: 1200 };

describe('a valid token from an unvalidated address', () => {
  it('one small datagram draws at most 3× its bytes back, and no path MTU probe', async () => {
    const { udpPort, tcpPort } = await startServer(defer);
    const { token } = await rawSession(defer, tcpPort, { udp: DISCOVERY });
    const victim = await udpAttacker(defer);
    const sent = datagram(token, [
      { type: FrameType.MESSAGE, payload: message({ alias: INLINE, encoding: Encoding.BINARY, kind: Kind.MESSAGE, inlineName: 'noise', body: 'x' }) },
    ]);
    await victim.send(sent, udpPort);
    await victim.quiet(IDLE_MS, WATCH_MS);
    expect.soft(victim.bytesReceived, `${victim.arrivals.length} datagrams, ${victim.bytesReceived} bytes came back for ${sent.length}`).toBeLessThanOrEqual(3 * sent.length);
    expect.soft(victim.framesOfType(FrameType.MTU_PROBE).length, 'path MTU probes sent to an unvalidated address').toBe(0);
  });

  it('an unacknowledged reliable echo request is not answered or retransmitted past 3× the bytes received', async () => {
    // Retransmission timeouts capped at 200 ms, so that a server that retransmits shows it within
    // the watch (the first timeout is otherwise 1 s, then 2 s, 4 s ...).
    const { udpPort, tcpPort } = await startServer(defer, { udpMinRtoMs: 50, udpMaxRtoMs: 200 });
    const { token } = await rawSession(defer, tcpPort, { udp: NO_DISCOVERY });
    const victim = await udpAttacker(defer);
    const request = message({ alias: INLINE, encoding: Encoding.BINARY, kind: Kind.REQUEST, requestId: 1, inlineName: 'echo', body: Buffer.alloc(1024, 0x41) });
    const sent = datagram(token, [{ type: FrameType.MESSAGE, flags: FrameFlag.RELIABLE, payload: request }]);
    await victim.send(sent, udpPort);
    await victim.quiet(IDLE_MS, 3000);
    expect(victim.bytesReceived, `${victim.arrivals.length} datagrams, ${victim.bytesReceived} bytes came back for ${sent.length}`).toBeLessThanOrEqual(3 * sent.length);
  });
});

describe('PINGs', () => {
  it('4,000 PINGs in one datagram from the validated address draw at most one PONG', async () => {
    const { udpPort, tcpPort } = await startServer(defer);
    const { peer, token } = await rawSession(defer, tcpPort, { udp: NO_DISCOVERY });
    const own = await udpAttacker(defer);
    await validateUdpPath(peer, own, token, udpPort);
    const from = own.arrivals.length;
    const pings = Array.from({ length: 4000 }, (_, i) => ({ type: FrameType.PING, sequence: 1000 + i }));
    const sent = datagram(token, pings);
    expect(sent.length).toBeLessThanOrEqual(65_507);
    await own.send(sent, udpPort);
    await own.quiet(IDLE_MS, WATCH_MS);
    const pongs = own.arrivals.slice(from).flatMap((arrival) => arrival.frames).filter((frame) => frame.type === FrameType.PONG);
    expect(pongs.length, `${pongs.length} PONGs for one datagram`).toBeLessThanOrEqual(1);
  });
});
