/**
 * The rule of docs/PROTOCOL.md section 4 for what a datagram may hold, in its TypeScript copy
 * (ts/transport/datagram-rule.ts, for datagrams that never reach an endpoint) and in the reliable
 * endpoint's native one (native/core/reliable/datagram-rule.h): both must judge every case alike.
 */
import { describe, expect, it } from 'vitest';
import { FrameEncoder, FrameFlag, FrameType, ReliableEndpoint, type FrameSpec } from '../../ts/index.js';
import { DatagramDecoder } from '../../ts/codec/datagram-decoder.js';
import { allowedInDatagram, decodeDatagram } from '../../ts/transport/datagram-rule.js';

const encoder = new FrameEncoder({ maxFrameSize: 1 << 20 });
const GOOD: FrameSpec[] = [
  { type: FrameType.MESSAGE, payload: Buffer.from('message') },
  { type: FrameType.PING, payload: Buffer.alloc(64) },
];

function corrupt(bytes: Buffer, at: number): Buffer {
  const copy = Buffer.from(bytes);
  copy[at]! ^= 0xff;
  return copy;
}

const whole = encoder.encodeToBuffer(GOOD);
/** [what, the datagram past its token, whether it may be used]. */
const CASES: Array<[string, Buffer, boolean]> = [
  ['a message and a PING of 64 bytes', whole, true],
  // (An ACK is allowed too, but a fresh endpoint refuses the frame itself, for a space it never sent in.)
  ['PONG, a PATH_CHALLENGE of 8 bytes, MTU_PROBE, MTU_ACK and an unknown ignorable type', encoder.encodeToBuffer([
    { type: FrameType.PONG },
    { type: FrameType.PATH_CHALLENGE, payload: Buffer.alloc(8) },
    { type: FrameType.MTU_PROBE, payload: Buffer.alloc(10) },
    { type: FrameType.MTU_ACK, payload: Buffer.alloc(4) },
    { type: 0xfe, payload: Buffer.from('skip me') },
  ]), true],
  ['PRIORITY on a message', encoder.encodeToBuffer([{ type: FrameType.MESSAGE, flags: FrameFlag.PRIORITY, payload: Buffer.from('m') }]), true],
  ['no frame at all', Buffer.alloc(0), false],
  ['a bad checksum in the last frame', corrupt(whole, whole.length - 1), false],
  ['a bad version in the last frame', corrupt(whole, whole.length - 80), false],
  ['a truncated last frame', whole.subarray(0, whole.length - 1), false],
  ['bytes after the last frame', Buffer.concat([whole, Buffer.from([1, 2, 3])]), false],
  ...[FrameType.HELLO, FrameType.HELLO_ACK, FrameType.HELLO_DONE, FrameType.CLOSE, FrameType.ERROR, FrameType.TYPE_DEF, FrameType.PATH_RESPONSE].map(
    (type): [string, Buffer, boolean] => [`the TCP-only type 0x${type.toString(16)}`, encoder.encodeToBuffer([...GOOD, { type, payload: Buffer.alloc(8) }]), false],
  ),
  ['an unknown critical type', encoder.encodeToBuffer([...GOOD, { type: 0x7f }]), false],
  ['a COMPRESSED message', encoder.encodeToBuffer([...GOOD, { type: FrameType.MESSAGE, flags: FrameFlag.COMPRESSED, payload: Buffer.alloc(8) }]), false],
  ['a COMPRESSED reliable message (docs/PROTOCOL.md 12)', encoder.encodeToBuffer([...GOOD, { type: FrameType.MESSAGE, flags: FrameFlag.COMPRESSED | FrameFlag.RELIABLE, payload: Buffer.alloc(8) }]), true],
  ['a COMPRESSED reliable BATCH message', encoder.encodeToBuffer([...GOOD, { type: FrameType.MESSAGE, flags: FrameFlag.COMPRESSED | FrameFlag.RELIABLE | FrameFlag.BATCH, payload: Buffer.alloc(8) }]), false],
  ['a BATCH message', encoder.encodeToBuffer([...GOOD, { type: FrameType.MESSAGE, flags: FrameFlag.BATCH, payload: Buffer.alloc(0) }]), false],
  ['a PING of 65 bytes', encoder.encodeToBuffer([...GOOD, { type: FrameType.PING, payload: Buffer.alloc(65) }]), false],
  ['a PONG of 65 bytes', encoder.encodeToBuffer([...GOOD, { type: FrameType.PONG, payload: Buffer.alloc(65) }]), false],
  ['a PATH_CHALLENGE of 9 bytes', encoder.encodeToBuffer([...GOOD, { type: FrameType.PATH_CHALLENGE, payload: Buffer.alloc(9) }]), false],
  ['a bad frame after 200 good ones', encoder.encodeToBuffer([...Array.from({ length: 200 }, () => GOOD[1]!), { type: FrameType.CLOSE }]), false],
];

describe('the datagram rule', () => {
  for (const [what, frames, usable] of CASES) {
    it(`${usable ? 'uses' : 'drops whole'} a datagram with ${what}, in both copies of the rule`, () => {
      expect(decodeDatagram(new DatagramDecoder(), frames) >= 0).toBe(usable);
      const endpoint = new ReliableEndpoint({ token: Buffer.alloc(8), onDatagram: () => {} });
      try {
        let used = 0;
        endpoint.on('message', () => used++);
        endpoint.on('frame', () => used++);
        endpoint.receive(frames);
        const drops = endpoint.stats().drops;
        expect(drops.badChecksum + drops.malformed).toBe(usable ? 0 : 1);
        if (!usable) expect(used).toBe(0);
        else expect(used).toBeGreaterThan(0);
      } finally {
        endpoint.close();
      }
    });
  }

  it('allows each frame type the way section 2 says', () => {
    const allowed: number[] = [];
    for (let type = 0; type < 0x80; type++) if (allowedInDatagram(type, 0, 8)) allowed.push(type);
    expect(allowed).toEqual([FrameType.MESSAGE, FrameType.ACK, FrameType.PING, FrameType.PONG, FrameType.PATH_CHALLENGE]);
    for (let type = 0x80; type <= 0xff; type++) expect(allowedInDatagram(type, 0, 100)).toBe(true);
  });
});
