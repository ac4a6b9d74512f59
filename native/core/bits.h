// Bit tricks shared by the core's codecs.
#pragma once
#include <cstdint>

#if defined(_MSC_VER) && !defined(__clang__)
#include <intrin.h>
#endif

namespace hybridwire {

// The index of the lowest set bit of `v`, which must not be 0.
inline unsigned count_trailing_zeros(uint64_t v) {
#if defined(_MSC_VER) && !defined(__clang__)
  unsigned long index;
  _BitScanForward64(&index, v);
  return static_cast<unsigned>(index);
#else
  return static_cast<unsigned>(__builtin_ctzll(v));
#endif
}

}  // namespace hybridwire
