/**
 * Which frames a UDP datagram may hold (docs/PROTOCOL.md, sections 2 and 4): a datagram is used
 * whole or not at all, and one frame that fails to decode or breaks this rule makes it malformed.
 * The reliable endpoint applies the same rule natively (native/core/reliable/datagram-rule.h) to
 * the datagrams it is fed; this copy judges those that never reach an endpoint.
 */
import type { DatagramDecoder } from '../codec/datagram-decoder.js';
import { FIRST_IGNORABLE_TYPE, FrameFlag, FrameType, MAX_PING_PAYLOAD } from '../codec/frame.js';
import { CHALLENGE_SIZE } from './path-validation.js';


/** Whether a frame that decoded may travel in a datagram. */
export function allowedInDatagram(type: number, flags: number, length: number): boolean {
  switch (type) {
    case FrameType.MESSAGE:
      // BATCH describes TCP messages only; COMPRESSED travels in RELIABLE messages only (section 12).
      return (flags & FrameFlag.BATCH) === 0 && ((flags & FrameFlag.COMPRESSED) === 0 || (flags & FrameFlag.RELIABLE) !== 0);
    case FrameType.ACK:
      return true;
    case FrameType.PING:
    case FrameType.PONG:
      return length <= MAX_PING_PAYLOAD;
    case FrameType.PATH_CHALLENGE:
      return length === CHALLENGE_SIZE;
    default:
      // Unknown critical types, and those carried on TCP only (HELLO ... TYPE_DEF, PATH_RESPONSE).
      return type >= FIRST_IGNORABLE_TYPE;
  }
}

/**
 * Decodes `frames` (a datagram past its token) with `decoder`: its frame count when the datagram
 * may be used, or -1 when it is malformed. The decoder's rows describe the frames until its next use.
 */
export function decodeDatagram(decoder: DatagramDecoder, frames: Uint8Array): number {
  const count = decoder.decode(frames);
  if (count <= 0) return -1;
  for (let i = 0; i < count; i++) {
    if (!allowedInDatagram(decoder.type(i), decoder.flags(i), decoder.payloadLength(i))) return -1;
  }
  return count;
}
