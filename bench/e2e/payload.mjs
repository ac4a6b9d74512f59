/** A deterministic pseudo-random payload (incompressible, the same in every process). */
export function payloadOf(size) {
  const out = Buffer.allocUnsafe(size);
  let state = 0x9e3779b9;
  for (let i = 0; i < size; i++) {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    out[i] = state & 0xff;
  }
  return out;
}
