/**
 * A deterministic pseudo-random payload (xorshift32: incompressible, the same in every process
 * for the same size and seed). The micro benchmarks use it too.
 */
export function payloadOf(size, seed = 0x9e3779b9) {
  const out = Buffer.allocUnsafe(size);
  let state = seed >>> 0 || 1;
  for (let i = 0; i < size; i++) {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    out[i] = state & 0xff;
  }
  return out;
}
