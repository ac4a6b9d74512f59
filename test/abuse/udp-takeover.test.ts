/**
 * Issue 11, point 2: session takeover. The token travels in clear in every datagram, so an
 * on-path observer has it. A datagram with it from another address must not be delivered as the
 * victim's, must not move the session's UDP path (the server's next messages still go to the
 * victim) and must not move any sequence state; the path moves only for a client that answers a
 * PATH_CHALLENGE over its TCP connection, as a real client behind a rebinding NAT does.
 */
import { describe, expect, it } from 'vitest';
import { FrameFlag, FrameType, type Client, type Peer, type Server } from '../../ts/index.js';
import { cleanupAfterEach, client, sniffingRelay, startServer, udpAttacker, udpCounters } from '../support/abuse.js';
import type { SniffingRelay, UdpAttacker } from '../support/udp-attacker.js';
import { waitUntil, within } from '../support/wait.js';
import { Encoding, INLINE, Kind, PATH_CHALLENGE, PATH_RESPONSE, datagram, message } from '../support/wire.js';

const defer = cleanupAfterEach();

interface Note {
  text: string;
  peer: string;
}

interface Scene {
  server: Server;
  udpPort: number;
  notes: Note[];
  victim: Client;
  victimPeer: Peer;
  relay: SniffingRelay;
  token: Buffer;
  attacker: UdpAttacker;
}

/** A server that records 'note' messages, a victim whose UDP path is up through a sniffing relay, and an attacker. */
async function scene(): Promise<Scene> {
  const { server, tcpPort, udpPort } = await startServer(defer);
  const notes: Note[] = [];
  server.handle('note', (payload, peer) => {
    notes.push({ text: String(payload), peer: peer.id });
  });
  const relay = await sniffingRelay(defer, udpPort);
  const victim = await client(defer, { tcpPort, udpPort: relay.port });
  await waitUntil(() => victim.udpReady, 5000, "the victim's UDP path");
  const token = await within(relay.tokenSeen, 1000, "the victim's first datagram");
  const victimPeer = server.peers.get(victim.sessionId!)!;
  const attacker = await udpAttacker(defer);
  return { server, udpPort, notes, victim, victimPeer, relay, token, attacker };
}

function forgedNote(text: string, flags = 0, sequence = 0) {
  return { type: FrameType.MESSAGE, flags, sequence, payload: message({ alias: INLINE, encoding: Encoding.JSON, kind: Kind.MESSAGE, inlineName: 'note', body: JSON.stringify(text) }) };
}

/** Sends from the attacker and waits until the server has taken the datagram in. */
async function inject(s: Scene, frames: Parameters<typeof datagram>[1]): Promise<void> {
  const before = s.server.stats().udpSocket!.datagramsReceived;
  await s.attacker.send(datagram(s.token, frames), s.udpPort);
  await waitUntil(() => s.server.stats().udpSocket!.datagramsReceived > before, 2000, 'the server to receive the injected datagram');
}

/** A reliable UDP message from the server to the victim arrives at the victim, and nothing of it at the attacker. */
async function serverStillReachesVictim(s: Scene, text: string): Promise<void> {
  const arrived = new Promise<unknown>((resolve) => s.victim.handle('news', (payload) => resolve(payload)));
  s.victimPeer.send('news', text, { transport: 'udp', reliable: true });
  expect(await within(arrived, 3000, `the server's UDP message '${text}' at the victim`)).toBe(text);
  expect(s.attacker.framesOfType(FrameType.MESSAGE), 'messages the server sent to the attacker').toEqual([]);
}

describe('a sniffed token used from another address', () => {
  it('is not delivered as the victim\'s message, unreliable or reliable, and does not suppress the victim\'s own', async () => {
    const s = await scene();
    // The reliable copy takes the sequence the victim's first reliable message will use.
    await inject(s, [forgedNote('forged'), forgedNote('forged reliable', FrameFlag.RELIABLE, 0)]);
    s.victim.send('note', 'after', { transport: 'udp', reliable: true });
    await waitUntil(() => s.notes.some((note) => note.text === 'after'), 3000, () => `the victim's own message (handler saw ${JSON.stringify(s.notes)})`);
    expect(s.notes).toEqual([{ text: 'after', peer: s.victimPeer.id }]);
    expect(udpCounters(s.server).droppedUnvalidated, 'server.stats().udp.droppedUnvalidated').toBeGreaterThanOrEqual(1);
  });

  it("does not move the session's UDP path: the server's next messages still reach the victim", async () => {
    const s = await scene();
    await inject(s, [{ type: FrameType.PING, sequence: 1, payload: Buffer.alloc(8) }, forgedNote('forged')]);
    await serverStillReachesVictim(s, 'for the victim');
    expect(s.victimPeer.udpAddress?.port).toBe(s.relay.sourcePort);
  });

  it('a challenge echoed back over UDP (PATH_RESPONSE is TCP-only) does not move the path either', async () => {
    const s = await scene();
    await inject(s, [{ type: FrameType.PING, sequence: 1, payload: Buffer.alloc(8) }]);
    // Whatever challenge comes to the attacker's address, it answers on the only channel it has.
    await s.attacker.quiet(300, 2000);
    for (const challenge of s.attacker.framesOfType(PATH_CHALLENGE)) {
      await inject(s, [{ type: PATH_RESPONSE, payload: Buffer.from(challenge.payload) }]);
    }
    await inject(s, [forgedNote('forged')]);
    await serverStillReachesVictim(s, 'still for the victim');
    expect(s.notes).toEqual([]);
  });

  it("a frame with sequence 0x7FFFFFF0 does not make the victim's next unreliable messages drop as stale", async () => {
    const s = await scene();
    await inject(s, [forgedNote('far ahead', 0, 0x7ffffff0)]);
    const texts = ['u0', 'u1', 'u2', 'u3', 'u4'];
    for (const text of texts) s.victim.send('note', text, { transport: 'udp' });
    // A reliable message sent after them marks the point by which they have been processed.
    s.victim.send('note', 'sentinel', { transport: 'udp', reliable: true });
    await waitUntil(() => s.notes.some((note) => note.text === 'sentinel'), 3000, 'the sentinel');
    expect(s.notes.map((note) => note.text).filter((text) => texts.includes(text))).toEqual(texts);
  });
});

describe('the legitimate path', () => {
  it('a real client whose source port changes (NAT rebinding) answers the challenge over TCP and its UDP traffic resumes both ways', async () => {
    const s = await scene();
    await s.relay.rebind();
    s.victim.send('note', 'after rebinding', { transport: 'udp', reliable: true });
    await waitUntil(() => s.notes.some((note) => note.text === 'after rebinding'), 5000, () => `the message sent after rebinding (handler saw ${JSON.stringify(s.notes)})`);
    expect(s.notes).toEqual([{ text: 'after rebinding', peer: s.victimPeer.id }]);
    expect(s.victimPeer.udpAddress?.port).toBe(s.relay.sourcePort);
    await serverStillReachesVictim(s, 'to the new port');
  });
});
