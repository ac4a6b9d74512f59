/** A message's datagram: its prefix, then its body, through the session's UDP path. */
import { writeMessagePrefix } from './message.js';
import type { SessionCounters } from './session-stats.js';
import type { SendOptions, UdpPath } from './send-options.js';

/**
 * Sends one message over `path`, its prefix written into `prefix` (the type named inline when
 * `alias` says so); returns what path.send() does.
 */
export function sendDatagram(
  path: UdpPath,
  prefix: Buffer,
  alias: number,
  type: string,
  encoding: number,
  kind: number,
  requestId: number,
  body: Uint8Array | string,
  options: SendOptions,
  counters: SessionCounters,
): boolean {
  const prefixLength = writeMessagePrefix(prefix, alias, encoding, kind, requestId, type);
  const accepted = path.send(prefix, prefixLength, body, options.reliable === true, options.ordered !== false, options.channel ?? 0);
  counters.udp.messagesOut++;
  counters.udp.bytesOut += prefixLength + body.length;
  return accepted;
}
