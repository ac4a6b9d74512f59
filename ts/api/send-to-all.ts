/**
 * The local half of server.broadcast(): one message, encoded once, to every open session of this
 * server (in a cluster, the other nodes' halves run on their own servers).
 */
import { HybridwireError } from '../errors.js';
import { bodyOf, encodingOf, type Payload } from '../session/message.js';
import type { SendOptions } from '../session/send-options.js';
import type { Peer } from './peer.js';

/**
 * Returns how many peers it was sent to. A peer whose queue is full (or without a UDP path, for a
 * UDP broadcast) misses it and is counted by `dropped`; another failure goes to `failed`.
 */
export function sendToAll(peers: Iterable<Peer>, type: string, payload: Payload, options: SendOptions & { except?: Peer }, dropped: () => void, failed: (peer: Peer, error: Error) => void): number {
  const encoding = encodingOf(payload);
  const body = bodyOf(payload, encoding);
  let count = 0;
  for (const peer of peers) {
    const connection = peer.connection;
    if (peer === options.except || connection.state !== 'open') continue;
    try {
      connection.sendEncoded(type, encoding, body, options);
      count++;
    } catch (error) {
      if (error instanceof HybridwireError) dropped();
      else failed(peer, error as Error);
    }
  }
  return count;
}
