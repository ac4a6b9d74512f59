import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import { zstdCodec } from '../../ts/compression/zstd.js';
import { codecOf } from '../../ts/compression/algorithms.js';

describe('zstd', () => {
  it('loads through the optional zstd-napi package, installed here', () => {
    expect(zstdCodec).toBeDefined();
    expect(codecOf('zstd')).toBe(zstdCodec);
  });

  it('zstd refuses a frame whose header states more than the size given, before decompressing', () => {
    const codec = codecOf('zstd')!;
    const frame = codec.compress(Buffer.alloc(1 << 20, 7), 3);
    expect(() => codec.decompress(frame, 1024)).toThrow(expect.objectContaining({ code: 'HW_ERR_DECOMPRESSED_TOO_LARGE' }));
  });

  it('zstd refuses a frame that states no size and decompresses to more than the size given', () => {
    // A frame without its content size, as a streaming compressor writes it: the bound is then the
    // output buffer, of exactly the size given, which libzstd refuses to overrun.
    const binding = createRequire(import.meta.url)('zstd-napi/binding');
    const context = new binding.CCtx();
    context.setParameter(binding.CParameter.contentSizeFlag, 0);
    const out = Buffer.alloc(1024);
    const frame = out.subarray(0, context.compress2(out, Buffer.alloc(1 << 20)));
    expect(binding.getFrameContentSize(frame)).toBe(null);
    expect(() => codecOf('zstd')!.decompress(frame, 1000)).toThrow(expect.objectContaining({ code: 'HW_ERR_DECOMPRESSED_TOO_LARGE' }));
    expect(codecOf('zstd')!.decompress(frame, 1 << 20).equals(Buffer.alloc(1 << 20))).toBe(true);
  });
});
