/** A message's datagram: its prefix, then its body (compressed when agreed), through the session's UDP path. */
import { FrameFlag } from '../codec/frame.js';
import { writeMessagePrefix } from './message.js';
import type { SessionCounters } from './session-stats.js';
import type { SendOptions, UdpPath } from './send-options.js';
import type { SessionCompression } from '../compression/session-compression.js';

/**
 * Sends one message over `path`, its prefix written into `prefix` (the type named inline when
 * `alias` says so). A reliable message of at least `compressFrom` bytes (0: never) goes compressed
 * when that makes it smaller, as on TCP, once the peer agreed udp-compression (docs/PROTOCOL.md 12).
 * Returns what path.send() does.
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
  compression?: SessionCompression,
  compressFrom = 0,
): boolean {
  const prefixLength = writeMessagePrefix(prefix, alias, encoding, kind, requestId, type);
  const reliable = options.reliable === true;
  const ordered = options.ordered !== false;
  const channel = options.channel ?? 0;
  const compressed = reliable && compressFrom > 0 && body.length >= compressFrom ? compression?.compress(prefix, prefixLength, body) : undefined;
  counters.udp.messagesOut++;
  if (compressed === undefined) {
    counters.udp.bytesOut += prefixLength + body.length;
    return path.send(prefix, prefixLength, body, reliable, ordered, channel);
  }
  counters.compressedOut++;
  counters.udp.bytesOut += compressed.length;
  return path.send(prefix, 0, compressed, true, ordered, channel, FrameFlag.COMPRESSED);
}
