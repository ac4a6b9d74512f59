// libFuzzer harness for native/core/lz4.cc alone (no N-API). Built with
// -fsanitize=fuzzer,address,undefined, so any read or write outside a buffer aborts.
//
// 1. The input as a compressed block, decompressed into a small and a large output buffer, each
//    allocated at exactly its capacity so that ASan sees the first byte past it. The two results
//    must agree: the same bytes when the output fits both, "too large" for the small one when only
//    the large one holds it. A valid block's size must respect the bounds the TypeScript layer
//    relies on.
// 2. The input as data, and repeated past 64 KiB: compress, then decompress into exactly its size
//    and compare, and into one byte less, which must fail. Compressing into exactly the compressed
//    size must give the same block, and into one byte less must fail rather than truncate.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>

#include "core/lz4.h"

namespace {

using hybridwire::kLz4Corrupt;
using hybridwire::kLz4OutputTooLarge;

constexpr size_t kLargeCapacity = 1 << 18;
constexpr size_t kLargeInputSize = 65536 + 11;

void check(bool condition, const char* what) {
  if (!condition) {
    std::fprintf(stderr, "lz4-fuzzer: %s\n", what);
    std::abort();
  }
}

void check_decompress_result(int64_t result, size_t capacity) {
  check(result == kLz4Corrupt || result == kLz4OutputTooLarge ||
            (result >= 0 && static_cast<size_t>(result) <= capacity),
        "decompress returned an unknown error or more than its capacity");
}

void decompress_arbitrary(const uint8_t* data, size_t size) {
  // The small capacity varies with the input, so that output limits fall everywhere in a block.
  const size_t small_capacity = size == 0 ? 0 : data[size - 1] % 64;
  std::unique_ptr<uint8_t[]> small(new uint8_t[small_capacity]);
  std::unique_ptr<uint8_t[]> large(new uint8_t[kLargeCapacity]);

  const int64_t large_result = hybridwire::lz4_decompress(data, size, large.get(), kLargeCapacity);
  check_decompress_result(large_result, kLargeCapacity);
  const int64_t small_result = hybridwire::lz4_decompress(data, size, small.get(), small_capacity);
  check_decompress_result(small_result, small_capacity);

  if (large_result >= 0) {
    // ts/codec/lz4.ts sizes its buffers on these: no block expands more than 255 times, nor is
    // longer than the compress bound of its output.
    const size_t output_size = static_cast<size_t>(large_result);
    check(output_size < 255 * size, "a block decoded to 255 or more bytes per byte");
    check(size <= hybridwire::lz4_compress_bound(output_size), "a block is longer than the bound of its output");
    if (output_size <= small_capacity) {
      check(small_result == large_result, "a block that fits decoded differently into a smaller buffer");
      check(std::memcmp(small.get(), large.get(), output_size) == 0,
            "the same block decoded to different bytes");
    } else {
      check(small_result == kLz4OutputTooLarge, "output larger than the capacity was not reported as such");
    }
  }
}

void round_trip(const uint8_t* data, size_t size) {
  const size_t bound = hybridwire::lz4_compress_bound(size);
  std::unique_ptr<uint8_t[]> compressed(new uint8_t[bound]);
  const int64_t compressed_size = hybridwire::lz4_compress(data, size, compressed.get(), bound);
  check(compressed_size > 0 && static_cast<size_t>(compressed_size) <= bound, "compress failed within the bound");

  std::unique_ptr<uint8_t[]> output(new uint8_t[size]);
  const int64_t output_size =
      hybridwire::lz4_decompress(compressed.get(), static_cast<size_t>(compressed_size), output.get(), size);
  check(output_size == static_cast<int64_t>(size), "round trip changed the size");
  check(size == 0 || std::memcmp(output.get(), data, size) == 0, "round trip changed the bytes");
  if (size > 0) {
    std::unique_ptr<uint8_t[]> too_small(new uint8_t[size - 1]);
    check(hybridwire::lz4_decompress(compressed.get(), static_cast<size_t>(compressed_size), too_small.get(),
                                     size - 1) == kLz4OutputTooLarge,
          "a valid block one byte larger than the output buffer was not reported as too large");
  }

  const size_t exact = static_cast<size_t>(compressed_size);
  std::unique_ptr<uint8_t[]> tight(new uint8_t[exact]);
  check(hybridwire::lz4_compress(data, size, tight.get(), exact) == compressed_size &&
            std::memcmp(tight.get(), compressed.get(), exact) == 0,
        "compressing into exactly the compressed size gave another result");
  std::unique_ptr<uint8_t[]> short_by_one(new uint8_t[exact - 1]);
  check(hybridwire::lz4_compress(data, size, short_by_one.get(), exact - 1) == kLz4OutputTooLarge,
        "compressing into one byte less than needed did not fail");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  decompress_arbitrary(data, size);
  round_trip(data, size);
  // Fuzz inputs are short, and the matcher switches to its other hash table from 64 KiB + 11
  // bytes on: round-trip the input repeated past that too. Only for one input in 16 (by its first
  // byte), as it costs twenty times the rest.
  if (size > 0 && data[0] < 16) {
    const size_t tiled_size = kLargeInputSize + size % 4096;
    std::unique_ptr<uint8_t[]> tiled(new uint8_t[tiled_size]);
    for (size_t i = 0; i < tiled_size; i++) tiled[i] = data[i % size];
    round_trip(tiled.get(), tiled_size);
  }
  return 0;
}
