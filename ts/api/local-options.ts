/**
 * The `path` and `pathMode` options of servers and clients (local sockets, ../transport/local-socket.ts),
 * checked against the options a local socket has no use for.
 */
import { OptionError } from '../errors.js';
import { checkLocalPath } from '../transport/local-socket.js';
import { integerOption } from './option-ranges.js';

export interface LocalListen {
  path: string;
  /** Permission bits of the socket file. */
  mode: number;
}

interface AddressOptions {
  path?: string;
  pathMode?: number;
  host?: string;
  tcpPort?: number;
  udpPort?: number | false;
  tls?: unknown;
}

/** What a local socket cannot have beside it: named, so that a mistaken configuration is told, not ignored. */
function refuseBeside(options: AddressOptions, server: boolean): void {
  const present = [
    options.host !== undefined && 'host',
    options.tcpPort !== undefined && 'tcpPort',
    options.udpPort !== undefined && options.udpPort !== false && 'udpPort',
    // The file mode is a local socket's access control; TLS over it is not offered.
    options.tls !== undefined && options.tls !== false && 'tls',
  ].filter((name): name is string => name !== false);
  if (present.length > 0) {
    throw new OptionError(`option path (a local socket) cannot go with ${present.join(', ')}: a ${server ? 'server' : 'client'} on a local socket has no TCP address, UDP or TLS`, 'path');
  }
}

/** A server's local socket, or undefined for TCP. */
export function localListenOptions(options: AddressOptions): LocalListen | undefined {
  if (options.path === undefined) {
    if (options.pathMode !== undefined) throw new OptionError('option pathMode needs option path', 'pathMode');
    return undefined;
  }
  const path = checkLocalPath('path', options.path);
  refuseBeside(options, true);
  return { path, mode: integerOption('pathMode', options.pathMode) };
}

/** A client's local socket, or undefined for TCP. */
export function localDialOptions(options: AddressOptions): string | undefined {
  if (options.path === undefined) return undefined;
  const path = checkLocalPath('path', options.path);
  refuseBeside(options, false);
  return path;
}
