/**
 * Message types a server answers unless the application handles them itself (docs/PROTOCOL.md,
 * section 9): `ping` (replies 'pong'), `echo` (replies with its payload), `stats` (the server's
 * counters) and `broadcast` (relays the payload to every other peer and replies with the count).
 * `stats` tells any client about the server and `broadcast` makes it send to every peer, so only
 * `ping` and `echo` are on unless the `builtins` option says otherwise.
 */
import { OptionError } from '../errors.js';
import type { Handler } from '../session/connection.js';
import type { Payload } from '../session/message.js';
import type { Peer } from './peer.js';

export const BUILTIN_NAMES = ['ping', 'echo', 'stats', 'broadcast'] as const;
export type BuiltinName = (typeof BUILTIN_NAMES)[number];

/** The `builtins` option: all four, none, or the ones named. */
export type BuiltinsOption = boolean | readonly BuiltinName[];

export const DEFAULT_BUILTINS: readonly BuiltinName[] = ['ping', 'echo'];

export interface BuiltinHost {
  broadcast(type: string, payload: Payload, options?: { except?: Peer }): number;
  stats(): unknown;
}

/** The built-ins the option enables; anything but true, false or a list of their names throws HW_ERR_INVALID_OPTION. */
export function resolveBuiltins(option: unknown): ReadonlySet<BuiltinName> {
  if (option === true) return new Set(BUILTIN_NAMES);
  if (option === false) return new Set();
  if (Array.isArray(option) && option.every((name) => (BUILTIN_NAMES as readonly unknown[]).includes(name))) {
    return new Set(option as BuiltinName[]);
  }
  throw new OptionError(`option builtins must be true, false or a list of names from ${BUILTIN_NAMES.map((name) => `'${name}'`).join(', ')}; got ${describe(option)}`);
}

/** The handlers of the enabled built-ins. */
export function builtinHandlers(server: BuiltinHost, enabled: ReadonlySet<BuiltinName>): Map<string, Handler<Peer>> {
  const all: Record<BuiltinName, Handler<Peer>> = {
    ping: () => 'pong',
    echo: (payload: Payload) => payload,
    stats: () => server.stats(),
    broadcast: (payload: Payload, peer: Peer) => server.broadcast('broadcast', relayed(payload, peer.id), { except: peer }),
  };
  return new Map(BUILTIN_NAMES.filter((name) => enabled.has(name)).map((name) => [name, all[name]]));
}

/**
 * What a broadcast relays: always with its sender's session id, so that no peer can pass its
 * words off as another's. JSON (and empty) payloads as `{ from, payload }`; bytes stay bytes,
 * prefixed by the id: u8 length, the id's UTF-8 bytes, then the payload.
 */
export function relayed(payload: Payload, from: string): Payload {
  if (!(payload instanceof Uint8Array)) return { from, payload: payload ?? null };
  const idLength = Buffer.byteLength(from);
  const body = Buffer.allocUnsafe(1 + idLength + payload.length);
  body[0] = idLength;
  body.write(from, 1, 'utf8');
  body.set(payload, 1 + idLength);
  return body;
}

function describe(value: unknown): string {
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}
