import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { constants } from 'node:buffer';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HybridwireError, lz4Compress, lz4Decompress } from '../../ts/index.js';
import { native } from '../../ts/native/addon.js';

/** The bound of a test that spawns a process per case. */
const SPAWNING_TEST_MS = 180_000;

// ---- Inputs ----

function xorshift(seed: number): () => number {
  let state = seed >>> 0 || 1;
  return () => {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    return state >>> 0;
  };
}

const WORDS = ('the quick brown fox jumps over a lazy dog while message frames stream through ' +
  'reliable ordered channels and datagrams carry positions of players in every game session').split(' ');

function text(size: number, seed: number): Buffer {
  const next = xorshift(seed);
  let out = '';
  while (out.length < size) out += WORDS[next() % WORDS.length] + (next() % 9 === 0 ? '.\n' : ' ');
  return Buffer.from(out.slice(0, size), 'latin1');
}

/** Packed records: a counter, a small id, slowly drifting floats — partly compressible. */
function binary(size: number, seed: number): Buffer {
  const next = xorshift(seed);
  const out = Buffer.alloc(Math.ceil(size / 16) * 16);
  let value = 100;
  for (let offset = 0; offset < out.length; offset += 16) {
    value += ((next() % 200) - 100) / 1000;
    out.writeUInt32LE(offset / 16, offset);
    out.writeUInt16LE(next() % 8, offset + 4);
    out.writeUInt16LE(0, offset + 6);
    out.writeDoubleLE(value, offset + 8);
  }
  return out.subarray(0, size);
}

function random(size: number, seed: number): Buffer {
  const next = xorshift(seed);
  const out = Buffer.alloc(size);
  for (let i = 0; i < size; i++) out[i] = next() & 0xff;
  return out;
}

/** Runs of one byte and short periods: long matches, overlapping copies, offsets 1 to 7. */
function repetitive(size: number, seed: number): Buffer {
  const next = xorshift(seed);
  const out = Buffer.alloc(size);
  let i = 0;
  while (i < size) {
    const period = 1 + (next() % 7);
    const pattern = random(period, next());
    const run = Math.min(size - i, 1 + (next() % 5000));
    for (let j = 0; j < run; j++) out[i + j] = pattern[j % period]!;
    i += run;
  }
  return out;
}

const KINDS = { text, binary, random, repetitive, zeros: (size: number) => Buffer.alloc(size) };

// Around the end-of-block rules (12 and 13 bytes), the 64 KiB window and liblz4's 64 KiB + 11
// switch between hash tables, and up to 4 MiB.
const SIZES = [
  0, 1, 4, 5, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 31, 32, 64, 255, 256, 270, 1000, 4096, 65535, 65536,
  65537, 65546, 65547, 65548, 65536 * 2 + 7, 1 << 20, 4 << 20,
];

const inputs = Object.entries(KINDS).flatMap(([kind, make]) =>
  SIZES.map((size, index) => ({ name: `${kind} ${size} B`, data: make(size, 1 + index * 31) })),
);

function decompressExpectingError(block: Uint8Array, maxOutputSize: number): string {
  try {
    lz4Decompress(block, maxOutputSize);
  } catch (error) {
    expect(error).toBeInstanceOf(HybridwireError);
    return (error as HybridwireError).code;
  }
  return 'no error';
}

// ---- Our codec on its own ----

describe('lz4Compress / lz4Decompress', () => {
  it('round-trips text, binary, random and repetitive data from 0 bytes to 4 MiB', () => {
    for (const { name, data } of inputs) {
      const block = lz4Compress(data);
      expect(block.length, name).toBeLessThanOrEqual(native.lz4CompressBound(data.length));
      expect(lz4Decompress(block, data.length).equals(data), name).toBe(true);
    }
  });

  it('compresses redundant data and expands incompressible data by at most the bound', () => {
    expect(lz4Compress(Buffer.alloc(1 << 20)).length).toBeLessThan(5000);
    expect(lz4Compress(text(65536, 7)).length).toBeLessThan(65536 / 2);
    const noise = random(65536, 3);
    expect(lz4Compress(noise).length).toBe(65536 + Math.floor(65536 / 255) + 1);
  });

  it('stores inputs under 13 bytes as one literal run, as the format requires', () => {
    for (let size = 0; size <= 12; size++) {
      const data = Buffer.alloc(size, 0x61);
      expect(lz4Compress(data)).toEqual(Buffer.concat([Buffer.from([size << 4]), data]));
    }
  });

  it('reads Uint8Array views at any offset, not only whole Buffers', () => {
    const data = text(5000, 11);
    const backing = new Uint8Array(data.length + 10);
    backing.set(data, 7);
    const view = backing.subarray(7, 7 + data.length);
    const block = lz4Compress(view);
    expect(block).toEqual(lz4Compress(data));
    const blockBacking = new Uint8Array(block.length + 3);
    blockBacking.set(block, 3);
    expect(lz4Decompress(blockBacking.subarray(3), data.length).equals(data)).toBe(true);
  });

  it('returns outputs that share no memory with the next call', () => {
    const first = lz4Decompress(lz4Compress(text(300, 1)), 1000);
    const copy = Buffer.from(first);
    lz4Decompress(lz4Compress(text(300, 2)), 1000);
    lz4Compress(random(300, 3));
    expect(first.equals(copy)).toBe(true);
  });

  it('decompresses with a limit far above the output, and outputs above 64 KiB', () => {
    const small = text(1000, 5);
    expect(lz4Decompress(lz4Compress(small), 16 << 20).equals(small)).toBe(true);
    const large = binary(300_000, 6);
    expect(lz4Decompress(lz4Compress(large), 16 << 20).equals(large)).toBe(true);
    expect(lz4Decompress(lz4Compress(large), large.length).equals(large)).toBe(true);
    // A short block that decodes to more than 64 KiB.
    const redundant = repetitive(200_000, 7);
    expect(lz4Compress(redundant).length).toBeLessThan(65536);
    expect(lz4Decompress(lz4Compress(redundant), 16 << 20).equals(redundant)).toBe(true);
    expect(lz4Decompress(lz4Compress(Buffer.alloc(0)), 0).length).toBe(0);
  });

  it('reports HW_ERR_LZ4_OUTPUT_TOO_LARGE when the output exceeds maxOutputSize', () => {
    for (const data of [text(100, 1), repetitive(70_000, 2), random(200_000, 3)]) {
      const block = lz4Compress(data);
      expect(decompressExpectingError(block, data.length - 1)).toBe('HW_ERR_LZ4_OUTPUT_TOO_LARGE');
      expect(decompressExpectingError(block, 0)).toBe('HW_ERR_LZ4_OUTPUT_TOO_LARGE');
      expect(lz4Decompress(block, data.length).length).toBe(data.length);
    }
  });

  it('rejects a maxOutputSize that is not an integer from 0 to buffer.constants.MAX_LENGTH', () => {
    const block = lz4Compress(text(100, 1));
    for (const bad of [-1, 1.5, Number.NaN, Infinity, constants.MAX_LENGTH + 1, '100' as unknown as number]) {
      expect(() => lz4Decompress(block, bad)).toThrow(expect.objectContaining({ code: 'HW_ERR_INVALID_OPTION' }));
    }
  });

  it('rejects inputs that are not Uint8Arrays', () => {
    expect(() => lz4Compress('text' as unknown as Uint8Array)).toThrow(
      expect.objectContaining({ code: 'ERR_INVALID_ARG_TYPE' }),
    );
    expect(() => lz4Decompress([0] as unknown as Uint8Array, 10)).toThrow(
      expect.objectContaining({ code: 'ERR_INVALID_ARG_TYPE' }),
    );
  });
});

describe('lz4Decompress on corrupt blocks', () => {
  // Hand-made blocks; a token's high nibble counts literals, its low nibble is match length - 4.
  const corrupt: Record<string, number[]> = {
    'an empty block (even empty data has a token)': [],
    'literals running past the end': [0x50, 0x61, 0x62, 0x63],
    'a literal length whose extension is missing': [0xf0],
    'a literal length extension cut after a 255': [0xf0, 0xff],
    'a literal length extension far beyond the input': [0xf0, ...Array<number>(1000).fill(0xff), 0x00, 0x61],
    'an offset cut in half': [0x10, 0x61, 0x01],
    'offset 0': [0x10, 0x61, 0x00, 0x00, 0x50, 0x61, 0x61, 0x61, 0x61, 0x61],
    'an offset reaching before the start of the output': [0x10, 0x61, 0x02, 0x00, 0x50, 0x61, 0x61, 0x61, 0x61, 0x61],
    'an offset of 65535 in a short block': [0x40, 0x61, 0x62, 0x63, 0x64, 0xff, 0xff, 0x00],
    'a match length whose extension is missing': [0x1f, 0x61, 0x01, 0x00],
    'a block ending after a match instead of literals': [0x10, 0x61, 0x01, 0x00],
  };
  for (const [what, bytes] of Object.entries(corrupt)) {
    it(`rejects ${what} with HW_ERR_LZ4_CORRUPT`, () => {
      expect(decompressExpectingError(Buffer.from(bytes), 1 << 20)).toBe('HW_ERR_LZ4_CORRUPT');
    });
  }

  it('treats a match length too long for maxOutputSize as output too large', () => {
    // "a", then a match of 4 + 15 + 255 * 100 bytes from offset 1, then five literals.
    const block = Buffer.from([0x1f, 0x61, 0x01, 0x00, ...Array<number>(100).fill(0xff), 0x00, 0x50, 1, 2, 3, 4, 5]);
    expect(decompressExpectingError(block, 1000)).toBe('HW_ERR_LZ4_OUTPUT_TOO_LARGE');
    expect(lz4Decompress(block, 1 << 20).length).toBe(1 + 19 + 25500 + 5);
  });

  it('decodes every truncation of a block to an error or to a prefix of the data', () => {
    const data = Buffer.concat([text(3000, 9), repetitive(2000, 4), binary(3000, 8)]);
    const block = lz4Compress(data);
    let rejected = 0;
    for (let length = 0; length < block.length; length++) {
      try {
        const output = lz4Decompress(block.subarray(0, length), data.length);
        // Cut right after a run of literals, a block is still valid: it must then be a prefix.
        expect(output.length).toBeLessThan(data.length);
        expect(output.equals(data.subarray(0, output.length)), `cut at ${length}`).toBe(true);
      } catch (error) {
        expect((error as HybridwireError).code, `cut at ${length}`).toBe('HW_ERR_LZ4_CORRUPT');
        rejected++;
      }
    }
    expect(rejected).toBeGreaterThan(block.length / 2);
  });

  it('never crashes or writes past maxOutputSize on random and mutated blocks', () => {
    const next = xorshift(12345);
    const valid = lz4Compress(Buffer.concat([text(2000, 1), repetitive(2000, 2)]));
    for (let round = 0; round < 3000; round++) {
      let block: Buffer;
      if (round % 2 === 0) {
        block = random(1 + (next() % 300), next());
      } else {
        block = Buffer.from(valid);
        for (let flips = 1 + (next() % 4); flips > 0; flips--) block[next() % block.length] = next() & 0xff;
      }
      const limit = next() % 5000;
      try {
        expect(lz4Decompress(block, limit).length).toBeLessThanOrEqual(limit);
      } catch (error) {
        expect(['HW_ERR_LZ4_CORRUPT', 'HW_ERR_LZ4_OUTPUT_TOO_LARGE']).toContain((error as HybridwireError).code);
      }
    }
  });
});

describe('native lz4 binding on caller-owned buffers', () => {
  const data = Buffer.concat([text(5000, 3), repetitive(5000, 5)]);
  const block = lz4Compress(data);

  it('leaves every byte past the destination untouched when the output is too large', () => {
    for (const capacity of [0, 1, 17, 100, 4999, data.length - 1]) {
      const backing = Buffer.alloc(data.length + 64, 0xa5);
      expect(() => native.lz4Decompress(block, backing.subarray(0, capacity))).toThrow(
        expect.objectContaining({ code: 'HW_ERR_LZ4_OUTPUT_TOO_LARGE' }),
      );
      expect(backing.subarray(capacity).every((byte) => byte === 0xa5), `capacity ${capacity}`).toBe(true);
    }
  });

  it('compresses into exactly the block size, and refuses one byte less without writing past it', () => {
    const exact = Buffer.alloc(block.length);
    expect(native.lz4Compress(data, exact)).toBe(block.length);
    expect(exact.equals(block)).toBe(true);
    const backing = Buffer.alloc(block.length + 64, 0xa5);
    expect(() => native.lz4Compress(data, backing.subarray(0, block.length - 1))).toThrow(
      expect.objectContaining({ code: 'HW_ERR_LZ4_OUTPUT_TOO_LARGE' }),
    );
    expect(backing.subarray(block.length - 1).every((byte) => byte === 0xa5)).toBe(true);
  });

  it('computes the compress bound as liblz4 does', () => {
    expect(native.lz4CompressBound(0)).toBe(16);
    expect(native.lz4CompressBound(65536)).toBe(65536 + 257 + 16);
    expect(native.lz4CompressBound(0x7e000000)).toBe(0x7e000000 + Math.floor(0x7e000000 / 255) + 16);
    expect(native.lz4CompressBound(0x7e000001)).toBe(0);
    expect(() => native.lz4CompressBound(-1)).toThrow(expect.objectContaining({ code: 'ERR_OUT_OF_RANGE' }));
  });
});

// ---- Against the reference liblz4 ----

const referenceSource = fileURLToPath(new URL('../support/lz4-reference.c', import.meta.url));

/** Why the reference driver cannot be built here, or undefined if it can. */
function referenceUnavailable(): string | undefined {
  const header = spawnSync('cc', ['-E', '-x', 'c', '-', '-o', '/dev/null'], { input: '#include <lz4.h>\n' });
  if (header.error) return `no C compiler (cc: ${header.error.message})`;
  if (header.status !== 0) return 'the liblz4 headers are missing (lz4.h not found)';
  return undefined;
}

const unavailable = referenceUnavailable();
if (unavailable) {
  console.warn(
    `SKIPPING the liblz4 compatibility tests: ${unavailable}. ` +
      'Install a C compiler and liblz4-dev (apt install liblz4-dev) to run them.',
  );
}

describe.skipIf(unavailable !== undefined)('compatibility with liblz4 (LZ4_compress_default / LZ4_decompress_safe)', () => {
  let directory: string;
  let driver: string;

  beforeAll(() => {
    directory = mkdtempSync(path.join(tmpdir(), 'hybridwire-lz4-'));
    driver = path.join(directory, 'lz4-reference');
    const build = spawnSync('cc', ['-O2', referenceSource, '-llz4', '-o', driver], { encoding: 'utf8' });
    if (build.status !== 0) throw new Error(`cannot build ${referenceSource}: ${build.stderr}`);
  });

  afterAll(() => rmSync(directory, { recursive: true, force: true }));

  function reference(args: string[], input: Uint8Array): Buffer {
    const run = spawnSync(driver, args, { input, maxBuffer: 64 << 20 });
    if (run.status !== 0) throw new Error(`liblz4 ${args.join(' ')} failed: ${run.stderr.toString()}`);
    return run.stdout;
  }

  it('liblz4 decompresses every block we write', () => {
    for (const { name, data } of inputs) {
      const output = reference(['d', String(data.length)], lz4Compress(data));
      expect(output.equals(data), name).toBe(true);
    }
  });

  it('we decompress every block liblz4 writes', () => {
    for (const { name, data } of inputs) {
      expect(lz4Decompress(reference(['c'], data), data.length).equals(data), name).toBe(true);
    }
  });

  it('compresses to within 2% of the size liblz4 does', () => {
    for (const { name, data } of inputs) {
      const ours = lz4Compress(data).length;
      const theirs = reference(['c'], data).length;
      expect(Math.abs(ours - theirs), `${name}: ${ours} bytes against liblz4's ${theirs}`).toBeLessThanOrEqual(
        theirs * 0.02,
      );
    }
  });

  // It runs the reference driver once per block, some 500 processes: under the sanitizer build on
  // a loaded machine that took longer than the default 30 s.
  it('decodes every truncated or mutated block that liblz4 accepts to the same bytes', () => {
    // liblz4 rejects more than we do (long lengths within the last bytes of the input, a match
    // ending in the last 5 bytes of the capacity it is given), so only blocks it accepts are
    // compared: every truncation of a block, and blocks with one byte changed.
    const next = xorshift(777);
    const data = Buffer.concat([text(300, 2), repetitive(200, 3), binary(100, 4)]);
    const valid = lz4Compress(data);
    const blocks = Array.from({ length: valid.length }, (_, length) => valid.subarray(0, length + 1));
    for (let round = 0; round < 100; round++) {
      const block = Buffer.from(valid);
      block[next() % block.length] = next() & 0xff;
      blocks.push(block);
    }
    let accepted = 0;
    for (const block of blocks) {
      const run = spawnSync(driver, ['d', String(data.length)], { input: block });
      if (run.status !== 0) continue;
      accepted++;
      expect(lz4Decompress(block, data.length)).toEqual(run.stdout);
    }
    expect(accepted).toBeGreaterThan(30);
  }, SPAWNING_TEST_MS);
});
