import { describe, expect, it } from 'vitest';
import { endpointTakes, singleDatagramPayload } from '../../ts/transport/udp-sizes.js';

describe('the endpoint size rules', () => {
  it('gives the largest unfragmented message of a datagram size', () => {
    expect(singleDatagramPayload(1200)).toBe(1144);
  });

  it('takes what its buffers and the fragment bound allow, and nothing more', () => {
    // Charged size + 64 against the send buffer.
    expect(endpointTakes(1024 - 64, true, 1200, 1024, 1 << 20)).toBe(true);
    expect(endpointTakes(1024 - 63, true, 1200, 1024, 1 << 20)).toBe(false);
    // Reliable or fragmented messages also count against the peer's reassembly budget.
    expect(endpointTakes(2000, true, 1200, 1 << 20, 2000)).toBe(false);
    expect(endpointTakes(1000, false, 1200, 1 << 20, 500)).toBe(true);
    // At most 1024 fragments for an unreliable message; a reliable one has no such bound.
    const perFragment = 1200 - 68;
    expect(endpointTakes(perFragment * 1024, false, 1200, 1 << 30, 1 << 30)).toBe(true);
    expect(endpointTakes(perFragment * 1024 + 1, false, 1200, 1 << 30, 1 << 30)).toBe(false);
    expect(endpointTakes(perFragment * 1024 + 1, true, 1200, 1 << 30, 1 << 30)).toBe(true);
  });
});
