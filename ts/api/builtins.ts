/**
 * Message types every server answers unless the application handles them itself:
 * `ping` (replies 'pong'), `echo` (replies with its payload), `broadcast` (relays the payload to
 * every other peer as a 'broadcast' message and replies with the count), and `stats`.
 */
import type { Handler } from '../session/connection.js';
import type { Payload } from '../session/message.js';
import type { Peer } from './peer.js';

export interface BuiltinHost {
  broadcast(type: string, payload: Payload, options?: { except?: Peer }): number;
  stats(): unknown;
}

export function builtinHandlers(server: BuiltinHost): Map<string, Handler<Peer>> {
  return new Map<string, Handler<Peer>>([
    ['ping', () => 'pong'],
    ['echo', (payload: Payload) => payload],
    [
      'broadcast',
      (payload: Payload, peer: Peer) =>
        // Bytes are relayed as they are; JSON values are wrapped with the sender's session id.
        server.broadcast('broadcast', payload instanceof Uint8Array ? payload : { from: peer.id, payload: payload ?? null }, { except: peer }),
    ],
    ['stats', () => server.stats()],
  ]);
}
