/** ts/streams/stream-options.ts: defaults, ranges, and the chunk bound below the frame size. */
import { describe, expect, it } from 'vitest';
import { STREAM_RANGES } from '../../ts/api/option-ranges.js';
import { resolveStreamOptions } from '../../ts/streams/stream-options.js';

describe('stream options', () => {
  it('default to the range table', () => {
    expect(resolveStreamOptions({}, 16 * 1024 * 1024)).toEqual({
      maxStreams: STREAM_RANGES.maxStreams.default,
      streamWindowBytes: STREAM_RANGES.streamWindowBytes.default,
      maxStreamChunkBytes: STREAM_RANGES.maxStreamChunkBytes.default,
    });
  });

  it('refuse values out of range, naming the option and its range', () => {
    expect(() => resolveStreamOptions({ maxStreams: 0 }, 65536)).toThrow(/maxStreams must be an integer from 1 to 1000000/);
    expect(() => resolveStreamOptions({ streamWindowBytes: 2 ** 31 }, 65536)).toThrow(/streamWindowBytes must be an integer from 1024/);
    expect(() => resolveStreamOptions({ maxStreamChunkBytes: 1.5 }, 65536)).toThrow(expect.objectContaining({ code: 'HW_ERR_INVALID_OPTION', option: 'maxStreamChunkBytes' }));
  });

  it('keep a data message within the frame size', () => {
    expect(resolveStreamOptions({ maxStreamChunkBytes: 65536 }, 4096).maxStreamChunkBytes).toBe(4096 - 64);
  });
});
