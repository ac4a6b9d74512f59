import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import { crc32c } from '../../ts/index.js';
import { crc32cJs, JS_MAX_LENGTH } from '../../ts/codec/crc32c.js';
import { native } from '../../ts/native/addon.js';
import { pseudoRandomBytes as randomBytes } from '../support/bytes.js';

const nodeRs = createRequire(import.meta.url)('@node-rs/crc32') as {
  crc32c(input: Uint8Array, initialState?: number): number;
};


// RFC 3720 (iSCSI) appendix B.4, plus the customary check value of "123456789".
const iscsiReadPdu = Buffer.from(
  '01c00000000000000000000000000000' + '14000000000004000000001400000018' + '28000000000000000200000000000000',
  'hex',
);
const vectors: [string, Uint8Array, number][] = [
  ['32 bytes of zeros', Buffer.alloc(32, 0x00), 0x8a9136aa],
  ['32 bytes of 0xFF', Buffer.alloc(32, 0xff), 0x62a8ab43],
  ['32 incrementing bytes', Buffer.from(Array.from({ length: 32 }, (_, i) => i)), 0x46dd794e],
  ['32 decrementing bytes', Buffer.from(Array.from({ length: 32 }, (_, i) => 31 - i)), 0x113fdb5c],
  ['the iSCSI SCSI read (10) command PDU', iscsiReadPdu, 0xd9963a56],
  ['"123456789"', Buffer.from('123456789'), 0xe3069283],
  ['no bytes', Buffer.alloc(0), 0],
];

type Path = [name: string, compute: (data: Uint8Array, seed?: number) => number];
const hardware = native.crc32cHardwareAvailable();
const paths: Path[] = [
  ['crc32c', crc32c],
  ['JS path', (data, seed = 0) => crc32cJs(data, seed)],
  ['native software path', native.crc32cSoftware],
];
if (hardware) paths.push(['native hardware path', native.crc32cHardware]);

// Every length to 300 (all tails, the JS cut-over, the 128-byte interleaving threshold), then
// lengths around 8 KiB blocks and their three-stream rounds, then a spread up to 70000.
const lengths = [
  ...Array.from({ length: 301 }, (_, i) => i),
  383, 384, 385, 767, 768, 769, 1023, 1024, 1025, 8191, 8192, 8193, 24575, 24576, 24577, 24600,
  49151, 49152, 49153, 65535, 65536, 65537, 70000,
  ...Array.from({ length: 40 }, (_, i) => 301 + ((i * 7919 * 13) % 69000)),
];
const pool = randomBytes(70_000 + 8, 42);

describe('crc32c', () => {
  it.each(vectors)('matches the published value for %s on every path', (_, data, expected) => {
    for (const [name, compute] of paths) expect([name, compute(data)]).toEqual([name, expected]);
  });

  it('reports whether the CPU has a CRC32C instruction', () => {
    expect(typeof hardware).toBe('boolean');
    // The reference machines (x86-64 with SSE4.2, arm64 with the CRC extension) all have one; a
    // build that silently lost the hardware path would otherwise pass every other test.
    if (process.arch === 'x64' || process.arch === 'arm64') expect(hardware).toBe(true);
  });

  it('chains: a result used as the seed continues over more bytes', () => {
    const data = randomBytes(5000, 7);
    for (const split of [0, 1, 7, 8, 63, 64, 65, 100, 1000, 4999, 5000]) {
      for (const [name, compute] of paths) {
        const chained = compute(data.subarray(split), compute(data.subarray(0, split)));
        expect([name, split, chained]).toEqual([name, split, crc32c(data)]);
      }
    }
    expect(crc32c(Buffer.from('56789'), crc32c(Buffer.from('1234')))).toBe(0xe3069283);
  });

  it('agrees across all paths on random data of many lengths and alignments', () => {
    for (const length of lengths) {
      for (let offset = 0; offset < 8; offset++) {
        const data = pool.subarray(offset, offset + length);
        const seed = (length * 2654435761 + offset) >>> 0;
        const expected = native.crc32cSoftware(data, seed);
        for (const [name, compute] of paths) {
          const actual = compute(data, seed);
          if (actual !== expected) {
            expect.fail(`${name} gave ${actual.toString(16)} for length ${length} offset ${offset}, software ${expected.toString(16)}`);
          }
        }
      }
    }
  });

  it('agrees with @node-rs/crc32 on random data', () => {
    for (const length of lengths) {
      const data = pool.subarray(length % 8, (length % 8) + length);
      expect([length, crc32c(data)]).toEqual([length, nodeRs.crc32c(data)]);
      expect([length, crc32c(data, 0xdeadbeef)]).toEqual([length, nodeRs.crc32c(data, 0xdeadbeef)]);
    }
  });

  it('treats seeds the same on the JS path and in the addon (modulo 2^32)', () => {
    const small = randomBytes(JS_MAX_LENGTH, 3);
    const large = randomBytes(JS_MAX_LENGTH + 1, 3);
    for (const seed of [-1, 0xffffffff, 2 ** 32 + 5, 1.9, Number.NaN, -(2 ** 31)]) {
      expect([seed, crc32c(small, seed)]).toEqual([seed, native.crc32c(small, seed)]);
      expect([seed, crc32c(large, seed)]).toEqual([seed, native.crc32c(large, seed)]);
    }
    expect(crc32c(small, undefined)).toBe(native.crc32c(small));
  });

  it('returns an unsigned 32-bit integer', () => {
    for (const length of [3, JS_MAX_LENGTH + 100]) {
      for (let seed = 0; seed < 50; seed++) {
        const value = crc32c(randomBytes(length, seed + 1), seed);
        expect(Number.isInteger(value) && value >= 0 && value <= 0xffffffff).toBe(true);
      }
    }
    expect(crc32c(Buffer.from('123456789'))).toBe(3808858755); // above 2^31: not negative
  });

  it('reads a view at its own offset, not the start of its ArrayBuffer', () => {
    const whole = randomBytes(4096, 9);
    for (const [start, end] of [[1, 40], [3, 4000]] as const) {
      const view = new Uint8Array(whole.buffer, whole.byteOffset + start, end - start);
      expect(crc32c(view)).toBe(crc32c(Buffer.from(whole.subarray(start, end))));
    }
  });

  it('rejects what is not a Uint8Array, or a seed that is not a number, with ERR_INVALID_ARG_TYPE', () => {
    const typeError = expect.objectContaining({ name: 'TypeError', code: 'ERR_INVALID_ARG_TYPE' });
    for (const bad of ['123456789', [1, 2, 3], new Uint16Array(4), new DataView(new ArrayBuffer(4)), null, undefined]) {
      expect(() => crc32c(bad as unknown as Uint8Array)).toThrow(typeError);
    }
    for (const size of [4, JS_MAX_LENGTH + 1]) {
      expect(() => crc32c(Buffer.alloc(size), '1' as unknown as number)).toThrow(typeError);
      expect(() => crc32c(Buffer.alloc(size), null as unknown as number)).toThrow(typeError);
    }
  });
});
