/**
 * Reproducible pseudo-random bytes for tests (xorshift32): the same (length, seed) always gives
 * the same bytes, so a receiver can check contents without being sent the expected data.
 */
export function pseudoRandomBytes(length: number, seed: number): Buffer {
  const out = Buffer.allocUnsafe(length);
  // Spread small consecutive seeds apart; xorshift needs a non-zero state.
  let state = (seed * 2654435761) >>> 0 || 1;
  for (let i = 0; i < length; i++) {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    out[i] = state & 0xff;
  }
  return out;
}
