// LZ4 block format (doc/lz4_Block_format.md in the lz4 project), written from the specification.
//
// Output is interchangeable with the reference liblz4 in both directions: lz4_compress() uses the
// same greedy matcher as LZ4_compress_default (64 KiB window, 4-byte minimum match, hash table of
// 16 KiB, acceleration 1), so it produces the same blocks; lz4_decompress() accepts every block
// that LZ4_decompress_safe accepts.
//
// Sans-IO and stateless: no allocation, no globals, no exceptions. Callers own both buffers.
#pragma once
#include <cstddef>
#include <cstdint>

namespace hybridwire {

// Negative results of lz4_compress() and lz4_decompress().
enum Lz4Error : int64_t {
  // The compressed input is not a valid block (truncated, an offset of 0 or reaching before the
  // start of the output, a length running past the input, or no final literals-only sequence).
  kLz4Corrupt = -1,
  // The output does not fit in `capacity` bytes. Nothing was written past dst + capacity.
  kLz4OutputTooLarge = -2,
  // lz4_compress() only: `size` is above kLz4MaxInputSize.
  kLz4InputTooLarge = -3,
};

// The largest input lz4_compress() takes; the same limit as liblz4 (LZ4_MAX_INPUT_SIZE), so that
// every block we write can be read by any liblz4.
constexpr size_t kLz4MaxInputSize = 0x7E000000;

// Upper bound of the compressed size of `size` bytes (incompressible data grows by 1/255 plus a
// few bytes of headers), or 0 if `size` exceeds kLz4MaxInputSize. Same formula as liblz4.
constexpr size_t lz4_compress_bound(size_t size) {
  return size > kLz4MaxInputSize ? 0 : size + size / 255 + 16;
}

// Compresses `size` bytes of `src` into one LZ4 block at `dst`. Returns the number of bytes
// written, kLz4OutputTooLarge if they would not fit in `capacity` (never the case when capacity is
// at least lz4_compress_bound(size)), or kLz4InputTooLarge. `src` and `dst` must not overlap.
int64_t lz4_compress(const uint8_t* src, size_t size, uint8_t* dst, size_t capacity);

// Decompresses the LZ4 block of exactly `size` bytes at `src` into `dst`. Returns the number of
// bytes written, kLz4Corrupt, or kLz4OutputTooLarge when the block holds more than `capacity`
// bytes. Safe for any input: never reads outside [src, src + size) nor writes outside
// [dst, dst + capacity); bytes of dst past the returned length may have been overwritten.
// `src` and `dst` must not overlap.
int64_t lz4_decompress(const uint8_t* src, size_t size, uint8_t* dst, size_t capacity);

}  // namespace hybridwire
