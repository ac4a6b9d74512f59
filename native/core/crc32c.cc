// CRC32C with a run-time choice between the CPU's CRC instruction and slicing-by-8 tables.
//
// The CRC instruction takes three cycles to produce its result but can start one per cycle, so a
// single stream of them runs at a third of the possible speed. The hardware path therefore splits
// the input into three equal blocks, runs one stream over each, and joins the three results: a CRC
// register is carried past the `n` bytes that follow it by multiplying it by x^(8n) modulo the
// polynomial, which one carry-less multiply (PCLMULQDQ on x86-64, PMULL on arm64) and one more CRC
// instruction do. Because the join works for any block length, each call ends with a round sized
// to what is left, leaving fewer than 24 bytes for a single stream. A CPU with the CRC instruction
// but no carry-less multiply runs a single stream.
#include "core/crc32c.h"

#include <algorithm>
#include <array>
#include <cstring>

#if defined(__x86_64__) || defined(_M_X64)
#define HYBRIDWIRE_CRC_X86 1
#if defined(_MSC_VER)
#include <intrin.h>
#define HYBRIDWIRE_TARGET_CRC
#else
#include <cpuid.h>
#include <nmmintrin.h>
#include <wmmintrin.h>
#define HYBRIDWIRE_TARGET_CRC __attribute__((target("sse4.2,pclmul")))
#endif
#elif defined(__aarch64__) && !defined(_MSC_VER)
#define HYBRIDWIRE_CRC_ARM 1
#include <arm_acle.h>
#include <arm_neon.h>
#if defined(__linux__)
#include <sys/auxv.h>
#ifndef HWCAP_PMULL
#define HWCAP_PMULL (1 << 4)
#endif
#ifndef HWCAP_CRC32
#define HWCAP_CRC32 (1 << 7)
#endif
#endif
#if defined(__clang__)
#define HYBRIDWIRE_TARGET_CRC __attribute__((target("crc,aes")))
#else
#define HYBRIDWIRE_TARGET_CRC __attribute__((target("+crc+crypto")))
#endif
#endif

namespace hybridwire {
namespace {

constexpr uint32_t kPolynomial = 0x82F63B78u;  // reflected Castagnoli polynomial

using SliceTables = std::array<std::array<uint32_t, 256>, 8>;

SliceTables MakeSliceTables() {
  SliceTables tables{};
  for (uint32_t byte = 0; byte < 256; ++byte) {
    uint32_t crc = byte;
    for (int bit = 0; bit < 8; ++bit) crc = (crc >> 1) ^ (kPolynomial & (0u - (crc & 1u)));
    tables[0][byte] = crc;
  }
  for (uint32_t byte = 0; byte < 256; ++byte) {
    for (int slice = 1; slice < 8; ++slice) {
      uint32_t previous = tables[slice - 1][byte];
      tables[slice][byte] = (previous >> 8) ^ tables[0][previous & 0xFF];
    }
  }
  return tables;
}

const SliceTables& Slices() {
  static const SliceTables tables = MakeSliceTables();
  return tables;
}

// Unaligned little-endian loads through memcpy: one instruction on x86-64 and arm64, and safe on
// targets that fault on unaligned access.
inline uint64_t LoadLittle64(const uint8_t* p) {
  uint64_t value;
  std::memcpy(&value, p, sizeof(value));
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
  value = __builtin_bswap64(value);
#endif
  return value;
}

#if defined(HYBRIDWIRE_CRC_X86) || defined(HYBRIDWIRE_CRC_ARM)

inline uint32_t LoadLittle32(const uint8_t* p) {
  uint32_t value;
  std::memcpy(&value, p, sizeof(value));
  return value;
}

inline uint16_t LoadLittle16(const uint8_t* p) {
  uint16_t value;
  std::memcpy(&value, p, sizeof(value));
  return value;
}

// Multiplies a and b modulo the polynomial, both in reflected bit order (bit 31 is x^0).
uint32_t MultiplyModP(uint32_t a, uint32_t b) {
  uint32_t product = 0;
  for (uint32_t bit = 0x80000000u; bit != 0; bit >>= 1) {
    if (a & bit) product ^= b;
    b = (b & 1u) ? (b >> 1) ^ kPolynomial : b >> 1;
  }
  return product;
}

// Longest block of one three-stream round: a round ends with two joins, a fixed cost that long
// blocks make negligible, while the table of join constants grows with this.
constexpr size_t kMaxBlock = 8192;
// Below this the two joins cost more than the three streams save (the break-even is measured by
// bench/micro/crc32c-core-bench.cc).
constexpr size_t kMinInterleaved = 128;

// join[i] carries a CRC register past a block of 8 * (i + 1) bytes; see Join() for the exponent.
using JoinConstants = std::array<uint32_t, kMaxBlock / 8>;

JoinConstants MakeJoinConstants() {
  JoinConstants join{};
  // x^32 mod P is the polynomial without its x^32 term, so x^64 mod P is that squared.
  const uint32_t x64 = MultiplyModP(kPolynomial, kPolynomial);
  join[0] = 1u;  // x^(8 * 8 - 33) = x^31, the lowest bit in reflected order
  for (size_t i = 1; i < join.size(); ++i) join[i] = MultiplyModP(join[i - 1], x64);
  return join;
}

bool CarrylessMultiplyAvailable() {
#if defined(HYBRIDWIRE_CRC_X86) && defined(_MSC_VER)
  int info[4];
  __cpuid(info, 1);
  return (info[2] & (1 << 1)) != 0;
#elif defined(HYBRIDWIRE_CRC_X86)
  unsigned eax = 0, ebx = 0, ecx = 0, edx = 0;
  if (!__get_cpuid(1, &eax, &ebx, &ecx, &edx)) return false;
  return (ecx & bit_PCLMUL) != 0;
#elif defined(__APPLE__)
  return true;  // every Apple arm64 CPU has the crypto extension
#elif defined(__linux__)
  return (getauxval(AT_HWCAP) & HWCAP_PMULL) != 0;
#else
  return false;
#endif
}

// Null when the CPU has no carry-less multiply: the hardware path then runs one stream.
const uint32_t* Joins() {
  static const JoinConstants join = MakeJoinConstants();
  static const uint32_t* const available = CarrylessMultiplyAvailable() ? join.data() : nullptr;
  return available;
}

#if defined(HYBRIDWIRE_CRC_X86)
HYBRIDWIRE_TARGET_CRC inline uint64_t Step64(uint64_t crc, uint64_t word) {
  return _mm_crc32_u64(crc, word);
}
HYBRIDWIRE_TARGET_CRC inline uint32_t Step32(uint32_t crc, uint32_t word) {
  return _mm_crc32_u32(crc, word);
}
HYBRIDWIRE_TARGET_CRC inline uint32_t Step16(uint32_t crc, uint16_t word) {
  return _mm_crc32_u16(crc, word);
}
HYBRIDWIRE_TARGET_CRC inline uint32_t Step8(uint32_t crc, uint8_t byte) {
  return _mm_crc32_u8(crc, byte);
}
HYBRIDWIRE_TARGET_CRC inline uint64_t CarrylessMultiply(uint32_t a, uint32_t b) {
  __m128i product = _mm_clmulepi64_si128(_mm_cvtsi32_si128(static_cast<int>(a)),
                                         _mm_cvtsi32_si128(static_cast<int>(b)), 0);
  return static_cast<uint64_t>(_mm_cvtsi128_si64(product));
}
#else
// Clang's arm_acle.h (before 16) declares the __crc32c* intrinsics only when the whole file is
// built with +crc, so call the builtins they wrap; GCC's header works under a target attribute.
#if defined(__clang__)
#define HYBRIDWIRE_CRC32CD __builtin_arm_crc32cd
#define HYBRIDWIRE_CRC32CW __builtin_arm_crc32cw
#define HYBRIDWIRE_CRC32CH __builtin_arm_crc32ch
#define HYBRIDWIRE_CRC32CB __builtin_arm_crc32cb
#else
#define HYBRIDWIRE_CRC32CD __crc32cd
#define HYBRIDWIRE_CRC32CW __crc32cw
#define HYBRIDWIRE_CRC32CH __crc32ch
#define HYBRIDWIRE_CRC32CB __crc32cb
#endif
HYBRIDWIRE_TARGET_CRC inline uint64_t Step64(uint64_t crc, uint64_t word) {
  return HYBRIDWIRE_CRC32CD(static_cast<uint32_t>(crc), word);
}
HYBRIDWIRE_TARGET_CRC inline uint32_t Step32(uint32_t crc, uint32_t word) {
  return HYBRIDWIRE_CRC32CW(crc, word);
}
HYBRIDWIRE_TARGET_CRC inline uint32_t Step16(uint32_t crc, uint16_t word) {
  return HYBRIDWIRE_CRC32CH(crc, word);
}
HYBRIDWIRE_TARGET_CRC inline uint32_t Step8(uint32_t crc, uint8_t byte) {
  return HYBRIDWIRE_CRC32CB(crc, byte);
}
HYBRIDWIRE_TARGET_CRC inline uint64_t CarrylessMultiply(uint32_t a, uint32_t b) {
  return vgetq_lane_u64(vreinterpretq_u64_p128(vmull_p64(a, b)), 0);
}
#endif

// Carries the register `crc` past `constant`'s block. The carry-less product of two reflected
// 32-bit values is their 63-bit product one bit short of a reflected 64-bit word, so feeding it
// to the CRC instruction (which multiplies a 64-bit word by x^32 and reduces) yields
// crc * constant * x^33 mod P: the constant for n bytes is x^(8n - 33).
HYBRIDWIRE_TARGET_CRC inline uint64_t Join(uint64_t crc, uint32_t constant) {
  return Step64(0, CarrylessMultiply(static_cast<uint32_t>(crc), constant));
}

// One round: three streams over three adjacent blocks of `block` bytes (a multiple of 8).
HYBRIDWIRE_TARGET_CRC inline uint64_t ThreeStreams(uint64_t crc0, const uint8_t* p, size_t block,
                                                   uint32_t constant) {
  uint64_t crc1 = 0;
  uint64_t crc2 = 0;
  const uint8_t* end = p + block;
  do {
    crc0 = Step64(crc0, LoadLittle64(p));
    crc1 = Step64(crc1, LoadLittle64(p + block));
    crc2 = Step64(crc2, LoadLittle64(p + 2 * block));
    p += 8;
  } while (p < end);
  crc0 = Join(crc0, constant) ^ crc1;
  return Join(crc0, constant) ^ crc2;
}

#endif

}  // namespace

uint32_t crc32c_software(uint32_t crc, const uint8_t* data, size_t length) {
  const SliceTables& t = Slices();
  uint32_t c = ~crc;
  while (length >= 8) {
    uint64_t word = LoadLittle64(data) ^ c;
    c = t[7][word & 0xFF] ^ t[6][(word >> 8) & 0xFF] ^ t[5][(word >> 16) & 0xFF] ^
        t[4][(word >> 24) & 0xFF] ^ t[3][(word >> 32) & 0xFF] ^ t[2][(word >> 40) & 0xFF] ^
        t[1][(word >> 48) & 0xFF] ^ t[0][word >> 56];
    data += 8;
    length -= 8;
  }
  while (length != 0) {
    c = (c >> 8) ^ t[0][(c ^ *data++) & 0xFF];
    --length;
  }
  return ~c;
}

#if defined(HYBRIDWIRE_CRC_X86) || defined(HYBRIDWIRE_CRC_ARM)

HYBRIDWIRE_TARGET_CRC uint32_t crc32c_hardware(uint32_t crc, const uint8_t* data, size_t length) {
  uint64_t c = static_cast<uint32_t>(~crc);
  if (length >= kMinInterleaved) {
    if (const uint32_t* joins = Joins()) {
      // Full-size rounds, then one round sized to the rest, which leaves under 24 bytes.
      while (length >= kMinInterleaved) {
        size_t block = std::min(length / 24 * 8, kMaxBlock);
        c = ThreeStreams(c, data, block, joins[block / 8 - 1]);
        data += 3 * block;
        length -= 3 * block;
      }
    }
  }
  while (length >= 8) {
    c = Step64(c, LoadLittle64(data));
    data += 8;
    length -= 8;
  }
  uint32_t c32 = static_cast<uint32_t>(c);
  if (length & 4) {
    c32 = Step32(c32, LoadLittle32(data));
    data += 4;
  }
  if (length & 2) {
    c32 = Step16(c32, LoadLittle16(data));
    data += 2;
  }
  if (length & 1) c32 = Step8(c32, *data);
  return ~c32;
}

bool crc32c_hardware_available() {
#if defined(HYBRIDWIRE_CRC_X86) && defined(_MSC_VER)
  int info[4];
  __cpuid(info, 1);
  return (info[2] & (1 << 20)) != 0;
#elif defined(HYBRIDWIRE_CRC_X86)
  unsigned eax = 0, ebx = 0, ecx = 0, edx = 0;
  if (!__get_cpuid(1, &eax, &ebx, &ecx, &edx)) return false;
  return (ecx & bit_SSE4_2) != 0;
#elif defined(__APPLE__)
  return true;  // every Apple arm64 CPU has the CRC extension
#elif defined(__linux__)
  return (getauxval(AT_HWCAP) & HWCAP_CRC32) != 0;
#else
  return false;
#endif
}

#else

uint32_t crc32c_hardware(uint32_t crc, const uint8_t* data, size_t length) {
  return crc32c_software(crc, data, length);
}
bool crc32c_hardware_available() { return false; }

#endif

uint32_t crc32c(uint32_t crc, const uint8_t* data, size_t length) {
  static const bool hardware = crc32c_hardware_available();
  return hardware ? crc32c_hardware(crc, data, length) : crc32c_software(crc, data, length);
}

}  // namespace hybridwire
