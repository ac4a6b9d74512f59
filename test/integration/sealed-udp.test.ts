/**
 * Sealed UDP (docs/PROTOCOL.md 4.4) between a real server and client whose sessions are TLS, with
 * an attacker on the path (test/support/udp-tap.ts) that sees, changes, withholds and resends
 * datagrams: altered datagrams are dropped and counted, replays are delivered once and draw
 * nothing, a captured datagram sent from another address neither is delivered nor moves the
 * path, forged ones draw nothing, and path validation still works.
 */
import { describe, expect, it } from 'vitest';
import { crc32c, type Client, type Peer, type Server } from '../../ts/index.js';
import { DatagramDecoder } from '../../ts/codec/datagram-decoder.js';
import { decodeDatagram } from '../../ts/transport/datagram-rule.js';
import { cleanupAfterEach, client as startClient, startServer, udpAttacker } from '../support/abuse.js';
import { testCredentials } from '../support/tls.js';
import { UdpTap } from '../support/udp-tap.js';
import { waitUntil, within } from '../support/wait.js';
import { datagram } from '../support/wire.js';
import { FrameType } from '../../ts/codec/frame.js';

const defer = cleanupAfterEach();
const TAG = 16;
const SEALED_HEADER = 16;

interface Sealed {
  server: Server;
  client: Client;
  peer: Peer;
  tap: UdpTap;
  udpPort: number;
  /** The 'note' messages the server's handler got, as text. */
  notes: string[];
}

/** A TLS session whose UDP goes through a tap, its path validated; `ciphers` go to the client's TLS. */
async function sealedSession(ciphers?: string): Promise<Sealed> {
  const { key, cert } = await testCredentials();
  const { server, tcpPort, udpPort } = await startServer(defer, { tls: { key, cert } });
  const notes: string[] = [];
  server.handle('note', (payload) => {
    notes.push(payload instanceof Uint8Array ? Buffer.from(payload).toString() : String(payload));
  });
  const tap = await UdpTap.start(udpPort);
  defer(() => tap.close());
  // Datagrams stay at 1200 bytes: no path MTU probes, so each message travels in a datagram of its own.
  const client = await startClient(defer, { tcpPort, udpPort: tap.port, udpMaxMtu: 1200, tls: { ca: cert, ...(ciphers === undefined ? {} : { ciphers }) } });
  await waitUntil(() => client.udpReady, 5000, 'the client\'s UDP path to be validated');
  const peer = [...server.peers.values()][0]!;
  expect(peer.udpAddress?.port).toBe(tap.sourcePort);
  return { server, client, peer, tap, udpPort, notes };
}

/** Sends a reliable note and waits for it: everything the client sent before has been taken in. */
async function settle(s: Sealed, text: string): Promise<void> {
  s.client.send('note', text, { transport: 'udp', reliable: true });
  await waitUntil(() => s.notes.includes(text), 5000, `the note ${text}`);
}

/** Waits until the server has read `count` more datagrams than `before` (it has handled them by then). */
async function serverRead(server: Server, before: number, count: number): Promise<void> {
  await waitUntil(() => server.stats().udp.datagramsIn >= before + count, 5000, `the server to read ${count} datagrams`);
}

/**
 * Changes the byte `at` of a sealed datagram's single MESSAGE frame's payload by `mask`, through
 * the ciphertext, and fixes the frame's CRC32C to match: CTR encryption and CRC32C are both linear,
 * so without the AEAD's tag the receiver would take the changed message for a good one (the WEP
 * attack).
 */
function alterMessage(sealed: Buffer, fromEnd: number, mask: number): Buffer {
  const altered = Buffer.from(sealed);
  const payloadLength = sealed.length - SEALED_HEADER - 16 - TAG;
  const at = payloadLength - fromEnd;
  altered[SEALED_HEADER + 16 + at]! ^= mask;
  // The CRC covers header bytes 0..11 then the payload: its change is crc(delta) ^ crc(zeros).
  const delta = Buffer.alloc(12 + payloadLength);
  delta[12 + at] = mask;
  const change = (crc32c(delta) ^ crc32c(Buffer.alloc(delta.length))) >>> 0;
  const crc = SEALED_HEADER + 12;
  altered.writeUInt32LE((altered.readUInt32LE(crc) ^ change) >>> 0, crc);
  return altered;
}

describe('sealed UDP between a TLS server and client', () => {
  it('is sealed on the wire both ways: no frame or message byte in the clear, record numbers from 0, AES-256-GCM by default', async () => {
    const s = await sealedSession();
    s.client.send('note', 'a secret note', { transport: 'udp' });
    const echoed = await s.client.request('echo', 'a secret echo', { transport: 'udp', reliable: true, timeoutMs: 3000 });
    expect(echoed).toBe('a secret echo');
    await waitUntil(() => s.notes.includes('a secret note'), 3000, 'the note');
    for (const [direction, sent] of [['client', s.tap.toServer], ['server', s.tap.toClient]] as const) {
      expect(sent.length, direction).toBeGreaterThan(1);
      // Record numbers count from 0, one per datagram, in the order sent (loopback keeps it).
      expect(sent.map((d) => Number(d.readBigUInt64LE(8))), direction).toEqual(sent.map((_, i) => i));
      for (const d of sent) {
        expect(d.includes('secret'), direction).toBe(false);
        expect(decodeDatagram(new DatagramDecoder(), d.subarray(8)), direction).toBeLessThan(0);
      }
    }
    expect(s.peer.udpStats()!.sealing).toMatchObject({ algorithm: 'aes-256-gcm', sealed: s.tap.toClient.length, unopened: 0, replayed: 0 });
    expect(s.client.udpStats()!.sealing).toMatchObject({ algorithm: 'aes-256-gcm', sealed: s.tap.toServer.length, opened: s.tap.toClient.length });
  });

  it('seals with ChaCha20-Poly1305 when the TLS suite is ChaCha20-Poly1305', async () => {
    const s = await sealedSession('TLS_CHACHA20_POLY1305_SHA256');
    await settle(s, 'over chacha');
    expect(s.peer.udpStats()!.sealing!.algorithm).toBe('chacha20-poly1305');
    expect(s.client.udpStats()!.sealing!.algorithm).toBe('chacha20-poly1305');
  });

  it('keeps sealed datagrams within the datagram size: a 5,000-byte message leaves in fragments of at most 1,200 bytes', async () => {
    const s = await sealedSession();
    const text = 'x'.repeat(5000);
    await settle(s, text);
    const fragments = s.tap.toServer.filter((d) => d.length > 1000);
    expect(fragments.length).toBeGreaterThanOrEqual(4);
    expect(Math.max(...s.tap.toServer.map((d) => d.length))).toBeLessThanOrEqual(1200);
  });
});

describe('flipped ciphertext bits', () => {
  it('a message altered in flight (bits flipped, checksum fixed up) is dropped and counted, never delivered; the session goes on', async () => {
    const s = await sealedSession();
    await settle(s, 'ready');
    // 'pay 100' becomes 'pay 900' (0x31 ^ 0x08 = 0x39) in the first transmission of each message.
    let altered = 0;
    s.tap.onToServer = (d) => {
      if (d.length > 200 || altered >= 2) return d;
      altered++;
      return alterMessage(d, 3, 0x08);
    };
    s.client.send('note', Buffer.from('pay 100'), { transport: 'udp' });
    // Flushed at the end of this turn, before the next message: a datagram of its own.
    await new Promise((resolve) => setImmediate(resolve));
    s.client.send('note', Buffer.from('pay 100'), { transport: 'udp', reliable: true });
    // The reliable one is sent again, sealed anew with the next record number, and arrives as sent.
    await waitUntil(() => s.notes.length >= 2, 5000, 'the retransmitted note');
    expect(altered).toBe(2);
    await settle(s, 'after');
    expect(s.notes).toEqual(['ready', 'pay 100', 'after']);
    expect(s.server.stats().udp.droppedUnopened).toBe(2);
    expect(s.peer.udpStats()!.sealing!.unopened).toBe(2);
    expect(s.peer.udpStats()!.drops.badChecksum + s.peer.udpStats()!.drops.malformed).toBe(0);
  });

  it('the client drops and counts a datagram from the server with a bit flipped', async () => {
    const s = await sealedSession();
    let flipped = false;
    s.tap.onToClient = (d) => {
      if (flipped || d.length > 200) return d;
      flipped = true;
      const copy = Buffer.from(d);
      copy[copy.length - 20]! ^= 0x01;
      return copy;
    };
    const reply = await s.client.request('echo', 'once', { transport: 'udp', reliable: true, timeoutMs: 5000 });
    expect(reply).toBe('once');
    expect(flipped).toBe(true);
    expect(s.client.udpStats()!.sealing!.unopened).toBe(1);
  });
});

describe('replayed datagrams', () => {
  it('exact copies of every datagram the client sent, resent later from its address, are delivered once and counted', async () => {
    const s = await sealedSession();
    const first = s.tap.toServer.length;
    for (let i = 0; i < 4; i++) {
      s.client.send('note', `unreliable ${i}`, { transport: 'udp' });
      await settle(s, `reliable ${i}`);
    }
    const captured = s.tap.toServer.slice(first);
    expect(captured.length).toBeGreaterThanOrEqual(4);
    const before = s.server.stats().udp.datagramsIn;
    for (const copy of captured) await s.tap.resendToServer(copy);
    await serverRead(s.server, before, captured.length);
    await settle(s, 'after the replays');
    expect(s.notes.filter((note) => note !== 'after the replays').sort()).toEqual([0, 1, 2, 3].flatMap((i) => [`reliable ${i}`, `unreliable ${i}`]).sort());
    expect(s.server.stats().udp.droppedReplayed).toBe(captured.length);
    expect(s.peer.udpStats()!.sealing!.replayed).toBe(captured.length);
  });

  it('a PING resent five times draws one PONG: processed once, then refused as a replay, drawing nothing', async () => {
    const s = await sealedSession();
    // The first announcement came before the address was validated: the server only judged it,
    // and did not count its record number as seen (docs/PROTOCOL.md 4.4, step 6).
    const ping = s.tap.toServer[0]!;
    const sent = s.server.stats().udpSocket!.datagramsSent;
    const before = s.server.stats().udp.datagramsIn;
    for (let i = 0; i < 5; i++) await s.tap.resendToServer(ping);
    await serverRead(s.server, before, 5);
    expect(s.server.stats().udpSocket!.datagramsSent).toBe(sent + 1);
    expect(s.server.stats().udp.droppedReplayed).toBe(4);
  });

  it('the client delivers a reply once when the server\'s datagrams are resent to it', async () => {
    const s = await sealedSession();
    const replies: string[] = [];
    s.client.on('message', (type, payload) => {
      if (type === 'note-back') replies.push(String(payload));
    });
    s.peer.send('note-back', 'from the server', { transport: 'udp', reliable: true });
    await waitUntil(() => replies.length === 1, 5000, 'the server\'s note');
    const copies = s.tap.toClient.slice();
    for (const copy of copies) await s.tap.resendToClient(copy);
    await waitUntil(() => s.client.udpStats()!.sealing!.replayed === copies.length, 5000, 'the client to refuse the copies');
    await settle(s, 'after');
    expect(replies).toEqual(['from the server']);
  });
});

describe('a captured sealed datagram sent from another address', () => {
  it('one already delivered: not delivered again, the path stays, and it draws no challenge', async () => {
    const s = await sealedSession();
    await settle(s, 'captured');
    const attacker = await udpAttacker(defer);
    const copy = s.tap.toServer.at(-1)!;
    const { pathChallenges } = s.server.stats().udp;
    const before = s.server.stats().udp.datagramsIn;
    await attacker.send(copy, s.udpPort);
    await serverRead(s.server, before, 1);
    await settle(s, 'after');
    expect(s.notes).toEqual(['captured', 'after']);
    expect(s.peer.udpAddress?.port).toBe(s.tap.sourcePort);
    expect(s.server.stats().udp).toMatchObject({ pathChallenges, droppedReplayed: 1 });
    expect(attacker.bytesReceived).toBe(0);
  });

  it('one withheld from the server: not delivered from there, the path stays, its challenge is sealed; it is delivered once when it comes from the client\'s address', async () => {
    const s = await sealedSession();
    await settle(s, 'ready');
    let withheld: Buffer | undefined;
    s.tap.onToServer = (d) => {
      if (withheld !== undefined) return d;
      withheld = d;
      return undefined;
    };
    s.client.send('note', 'withheld', { transport: 'udp' });
    await waitUntil(() => withheld !== undefined, 3000, 'the tap to withhold the note');
    const attacker = await udpAttacker(defer);
    const before = s.server.stats().udp.datagramsIn;
    await attacker.send(withheld!, s.udpPort);
    await serverRead(s.server, before, 1);
    expect(s.server.stats().udp.droppedUnvalidated).toBeGreaterThanOrEqual(1);
    // The server challenges the attacker's address, sealed: the attacker cannot read it, and could
    // answer only over the session's TLS connection.
    const challenge = await attacker.waitFor(() => attacker.arrivals[0], 3000, 'the server\'s challenge');
    expect(decodeDatagram(new DatagramDecoder(), challenge.datagram.subarray(8))).toBeLessThan(0);
    await settle(s, 'after');
    expect(s.notes).toEqual(['ready', 'after']);
    expect(s.peer.udpAddress?.port).toBe(s.tap.sourcePort);
    // Judged from the other address, not recorded: from the client's address it is delivered, once.
    await s.tap.resendToServer(withheld!);
    await s.tap.resendToServer(withheld!);
    await waitUntil(() => s.notes.includes('withheld'), 3000, 'the withheld note');
    await settle(s, 'last');
    expect(s.notes.filter((note) => note === 'withheld')).toHaveLength(1);
  });

  it('a forged datagram (a well-formed PING on the sniffed token, unsealed) from another address draws nothing and is counted', async () => {
    const s = await sealedSession();
    const token = s.tap.toServer[0]!.subarray(0, 8);
    const attacker = await udpAttacker(defer);
    const { pathChallenges } = s.server.stats().udp;
    const before = s.server.stats().udp.datagramsIn;
    for (let i = 0; i < 3; i++) await attacker.send(datagram(token, [{ type: FrameType.PING, sequence: i, payload: Buffer.alloc(8) }]), s.udpPort);
    await serverRead(s.server, before, 3);
    expect(s.server.stats().udp).toMatchObject({ pathChallenges, droppedUnopened: 3 });
    expect(attacker.bytesReceived).toBe(0);
  });
});

describe('path validation, sealed', () => {
  it('a client whose address changes (a NAT rebinding) is challenged, sealed, answers over TLS and keeps its session', async () => {
    const s = await sealedSession();
    await settle(s, 'before');
    const validations = s.server.stats().udp.pathValidations;
    await s.tap.rebind();
    await settle(s, 'after the rebinding');
    await within(
      waitUntil(() => s.server.stats().udp.pathValidations === validations + 1, 5000, 'the new address to be validated'),
      6000,
      'the validation',
    );
    expect(s.peer.udpAddress?.port).toBe(s.tap.sourcePort);
    const reply = await s.client.request('echo', 'still sealed', { transport: 'udp', reliable: true, timeoutMs: 3000 });
    expect(reply).toBe('still sealed');
    expect(s.peer.udpStats()!.sealing!.unopened).toBe(0);
  });
});
