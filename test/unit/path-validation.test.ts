import { describe, expect, it } from 'vitest';
import {
  AMPLIFICATION_FACTOR,
  CHALLENGE_SIZE,
  Heard,
  MAX_CANDIDATES,
  MAX_RECHALLENGE_MS,
  PathValidator,
  RECHALLENGE_MS,
} from '../../ts/transport/path-validation.js';

/** The size of a challenge datagram: token, header, 8 bytes. */
const CHALLENGE_BYTES = 32;
const A = { address: '192.0.2.1', port: 4000 };
const B = { address: '192.0.2.1', port: 4001 };

/** Challenges numbered 1, 2, 3 ... in their first byte, so that tests can tell them apart. */
function counting(): (size: number) => Buffer {
  let next = 0;
  return (size) => {
    const bytes = Buffer.alloc(size);
    bytes[0] = ++next;
    return bytes;
  };
}

describe('PathValidator', () => {
  it('challenges a new address with 8 fresh CSPRNG bytes, and validates it on the matching answer only', () => {
    const validator = new PathValidator(CHALLENGE_BYTES);
    expect(validator.heard(A, 100, 0, true)).toBe(Heard.CHALLENGE);
    const challenge = Buffer.from(validator.challenge);
    expect(challenge.length).toBe(CHALLENGE_SIZE);
    expect(validator.heard(B, 100, 0, true)).toBe(Heard.CHALLENGE);
    expect(validator.challenge.equals(challenge)).toBe(false);
    const wrong = Buffer.from(challenge);
    wrong[7]! ^= 1;
    expect(validator.responded(wrong)).toBeUndefined();
    expect(validator.responded(challenge.subarray(0, 7))).toBeUndefined();
    expect(validator.responded(challenge)).toEqual(A);
    // Validated: no longer a candidate, and the same answer matches nothing now.
    expect(validator.size).toBe(1);
    expect(validator.responded(challenge)).toBeUndefined();
  });

  it('keeps one outstanding challenge per address: a re-challenge supersedes the previous one', () => {
    const validator = new PathValidator(CHALLENGE_BYTES, counting());
    validator.heard(A, 100, 0, true);
    const first = Buffer.from(validator.challenge);
    expect(validator.heard(A, 100, RECHALLENGE_MS, true)).toBe(Heard.CHALLENGE);
    const second = Buffer.from(validator.challenge);
    expect(validator.responded(first)).toBeUndefined();
    expect(validator.responded(second)).toEqual(A);
  });

  it('re-challenges an address at most once per interval: 250 ms after the first, doubling up to 8 s', () => {
    const validator = new PathValidator(CHALLENGE_BYTES);
    const sentAt: number[] = [];
    // A datagram every 10 ms for 40 s, each large enough that the budget never binds.
    for (let now = 0; now <= 40_000; now += 10) {
      if (validator.heard(A, 1000, now, true) === Heard.CHALLENGE) sentAt.push(now);
    }
    const gaps = sentAt.slice(1).map((at, i) => at - sentAt[i]!);
    expect(gaps.slice(0, 7)).toEqual([250, 500, 1000, 2000, 4000, 8000, 8000]);
    expect(Math.max(...gaps)).toBe(MAX_RECHALLENGE_MS);
    expect(validator.heard(A, 1000, sentAt.at(-1)! + 1, true)).toBe(Heard.WAIT);
  });

  it('sends an address at most 3x the bytes received from it', () => {
    const validator = new PathValidator(CHALLENGE_BYTES);
    // 10 bytes allow 30: not one 32-byte challenge.
    expect(validator.heard(A, 10, 0, true)).toBe(Heard.OVER_BUDGET);
    // 11 bytes in all allow 33: one.
    expect(validator.heard(A, 1, 1, true)).toBe(Heard.CHALLENGE);
    // Past the interval, 11 more bytes allow 66 in all: the second makes 64.
    expect(validator.heard(A, 11, 1000, true)).toBe(Heard.CHALLENGE);
    // A third would make 96: 31 bytes received allow 93, 32 allow it.
    expect(validator.heard(A, 9, 5000, true)).toBe(Heard.OVER_BUDGET);
    expect(validator.heard(A, 1, 5001, true)).toBe(Heard.CHALLENGE);
  });

  it('the bound holds over a long run of small datagrams: challenge bytes never exceed 3x the bytes received', () => {
    const validator = new PathValidator(CHALLENGE_BYTES);
    let received = 0;
    let sent = 0;
    let overruns = 0;
    let seed = 7;
    // Datagrams of 9 to 12 bytes, one in five malformed, about ten a second: the budget binds.
    for (let now = 0; now < 600_000; now += 97) {
      seed = (seed * 1103515245 + 12345) >>> 0;
      const bytes = 9 + (seed % 4);
      received += bytes;
      if (validator.heard(A, bytes, now, seed % 5 !== 0) === Heard.CHALLENGE) sent += CHALLENGE_BYTES;
      if (sent > AMPLIFICATION_FACTOR * received) overruns++;
    }
    expect(overruns).toBe(0);
    expect(sent).toBeGreaterThan(0);
  });

  it('counts malformed datagrams towards the budget of an address it is validating, and challenges nothing for them', () => {
    const validator = new PathValidator(CHALLENGE_BYTES);
    // From an address it does not know, a malformed datagram creates nothing.
    expect(validator.heard(A, 1000, 0, false)).toBe(Heard.MALFORMED);
    expect(validator.size).toBe(0);
    // 10 bytes: over budget; 100 malformed bytes then make room, but draw nothing themselves.
    expect(validator.heard(A, 10, 1, true)).toBe(Heard.OVER_BUDGET);
    expect(validator.heard(A, 100, 2, false)).toBe(Heard.MALFORMED);
    expect(validator.heard(A, 1, 3, true)).toBe(Heard.CHALLENGE);
  });

  it('keeps at most 4 candidates: a fifth makes it forget the one heard from least recently, with its challenge', () => {
    const validator = new PathValidator(CHALLENGE_BYTES, counting());
    const challenges = new Map<number, Buffer>();
    for (let port = 1; port <= MAX_CANDIDATES; port++) {
      validator.heard({ address: '::1', port }, 100, port, true);
      challenges.set(port, Buffer.from(validator.challenge));
    }
    // Port 1 is heard again: port 2 is now the least recently heard.
    validator.heard({ address: '::1', port: 1 }, 100, 10, true);
    validator.heard({ address: '::1', port: 99 }, 100, 11, true);
    expect(validator.size).toBe(MAX_CANDIDATES);
    expect(validator.responded(challenges.get(2)!)).toBeUndefined();
    expect(validator.responded(challenges.get(1)!)).toEqual({ address: '::1', port: 1 });
    expect(validator.responded(challenges.get(3)!)).toEqual({ address: '::1', port: 3 });
  });

  it('tells addresses apart by IP address and port', () => {
    const validator = new PathValidator(CHALLENGE_BYTES, counting());
    validator.heard({ address: '192.0.2.1', port: 4000 }, 100, 0, true);
    expect(validator.heard({ address: '192.0.2.2', port: 4000 }, 100, 0, true)).toBe(Heard.CHALLENGE);
    expect(validator.heard({ address: '192.0.2.1', port: 4001 }, 100, 0, true)).toBe(Heard.CHALLENGE);
    expect(validator.heard({ address: '192.0.2.1', port: 4000 }, 100, 0, true)).toBe(Heard.WAIT);
    expect(validator.size).toBe(3);
  });
});
