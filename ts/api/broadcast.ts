/** server.broadcast(): one message to every open session, encoded once. */
import type { Peer } from './peer.js';
import { bodyOf, checkTypeName, encodingOf, type Payload } from '../session/message.js';
import type { SendOptions } from '../session/send-options.js';
import { sendEncodedAuto } from '../selection/auto-send.js';

/**
 * Sends to each of `peers` with an open session but `options.except`; returns how many it was
 * sent to. A type name or payload that cannot be sent throws before anything is sent; a failure
 * for one peer goes to `failed` and the others get the message all the same.
 */
export function broadcastTo(peers: Iterable<Peer>, type: string, payload: Payload, options: SendOptions & { except?: Peer }, failed: (peer: Peer, error: unknown) => void): number {
  checkTypeName(type);
  const encoding = encodingOf(payload);
  const body = bodyOf(payload, encoding);
  let count = 0;
  for (const peer of peers) {
    const connection = peer.connection;
    if (peer === options.except || connection.state !== 'open') continue;
    try {
      // With 'auto', each session chooses for itself.
      if (options.transport === 'auto') sendEncodedAuto(connection, type, encoding, body, options);
      else connection.sendEncoded(type, encoding, body, options);
      count++;
    } catch (error) {
      failed(peer, error);
    }
  }
  return count;
}
