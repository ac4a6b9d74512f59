/**
 * The reliable endpoint's size rules (docs/PROTOCOL.md 7.3.1, 7.5): what each held message is
 * charged, the datagram bytes around a whole message and around a fragment, and the fragments an
 * unreliable message may have.
 */
const MESSAGE_OVERHEAD = 64;
const SINGLE_FRAME_OVERHEAD = 8 + 16 + 32;
const FRAGMENT_OVERHEAD = SINGLE_FRAME_OVERHEAD + 12;
const MAX_UNRELIABLE_FRAGMENTS = 1024;

/**
 * Whether an endpoint with datagrams of `mtu` bytes and these buffers will take a message of
 * `size` bytes, so that one it would refuse is refused at once rather than after waiting for the path.
 */
export function endpointTakes(size: number, reliable: boolean, mtu: number, sendBufferBytes: number, reassemblyBytes: number): boolean {
  const charge = size + MESSAGE_OVERHEAD;
  const fragmented = size > mtu - SINGLE_FRAME_OVERHEAD;
  if (charge > sendBufferBytes || ((reliable || fragmented) && charge > reassemblyBytes)) return false;
  return reliable || !fragmented || Math.ceil(size / (mtu - FRAGMENT_OVERHEAD)) <= MAX_UNRELIABLE_FRAGMENTS;
}

/** The largest message (prefix and body) that goes in one datagram of `mtu` bytes unfragmented. */
export function singleDatagramPayload(mtu: number): number {
  return mtu - SINGLE_FRAME_OVERHEAD;
}
