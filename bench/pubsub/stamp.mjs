// The 64-byte payload: the publish time on CLOCK_MONOTONIC (process.hrtime.bigint(), the same
// clock in every process of the machine) in the first 8 bytes, so that a subscriber measures
// publish-to-delivery latency; the rest is filler.
export const SIZE = 64;

export function stamped(size = SIZE) {
  const payload = Buffer.alloc(size, 0x61);
  payload.writeBigInt64LE(process.hrtime.bigint(), 0);
  return payload;
}

/** Nanoseconds since the payload was stamped. */
export function ageNs(payload, now) {
  const view = Buffer.isBuffer(payload) ? payload : Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength);
  return Number(now - view.readBigInt64LE(0));
}
