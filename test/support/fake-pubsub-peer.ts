/**
 * A stand-in for a connected Peer in unit tests of the broker: records what the broker sends it
 * (type, bytes, options) instead of writing to a socket.
 */
import type { Peer } from '../../ts/api/peer.js';

export interface Sent {
  type: string;
  body: Uint8Array;
  options: unknown;
}

export function fakePeer(udp = false): { peer: Peer; sent: Sent[] } {
  const sent: Sent[] = [];
  const connection = {
    state: 'open',
    udpPath: udp ? {} : undefined,
    sendEncoded(type: string, _encoding: number, body: Uint8Array, options?: unknown) {
      sent.push({ type, body, options });
      return true;
    },
  };
  const peer = { connection, udpAddress: udp ? { address: '127.0.0.1', port: 1, family: 'IPv4' } : undefined } as unknown as Peer;
  return { peer, sent };
}
