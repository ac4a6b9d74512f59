// CRC32C with a run-time choice between the CPU's CRC instruction and slicing-by-8 tables.
//
// The hardware path runs three independent CRC streams over adjacent blocks so that the
// instruction's three-cycle latency is hidden, then joins the streams by "shifting" each partial
// CRC over the bytes that follow it. The shift is a linear map over GF(2); it is precomputed per
// block length as four 256-entry tables, so joining costs eight table lookups.
#include "core/crc32c.h"

#include <array>
#include <cstring>

#if defined(__x86_64__) || defined(_M_X64)
#define HYBRIDWIRE_CRC_X86 1
#if defined(_MSC_VER)
#include <intrin.h>
#include <nmmintrin.h>
#define HYBRIDWIRE_TARGET_CRC
#else
#include <cpuid.h>
#include <nmmintrin.h>
#define HYBRIDWIRE_TARGET_CRC __attribute__((target("sse4.2")))
#endif
#elif defined(__aarch64__) && !defined(_MSC_VER)
#define HYBRIDWIRE_CRC_ARM 1
#include <arm_acle.h>
#if defined(__linux__)
#include <sys/auxv.h>
#ifndef HWCAP_CRC32
#define HWCAP_CRC32 (1 << 7)
#endif
#endif
#if defined(__clang__)
#define HYBRIDWIRE_TARGET_CRC __attribute__((target("crc")))
#else
#define HYBRIDWIRE_TARGET_CRC __attribute__((target("+crc")))
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

inline uint64_t LoadLittle64(const uint8_t* p) {
  uint64_t value;
  std::memcpy(&value, p, sizeof(value));
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
  value = __builtin_bswap64(value);
#endif
  return value;
}

// Multiplies a and b modulo the polynomial, both in reflected bit order.
uint32_t MultiplyModP(uint32_t a, uint32_t b) {
  uint32_t product = 0;
  for (uint32_t bit = 0x80000000u; bit != 0; bit >>= 1) {
    if (a & bit) product ^= b;
    b = (b & 1u) ? (b >> 1) ^ kPolynomial : b >> 1;
  }
  return product;
}

// x^(8 * bytes) modulo the polynomial: the factor that moves a CRC past `bytes` zero bytes.
uint32_t PowerForBytes(size_t bytes) {
  uint32_t result = 0x80000000u;  // x^0
  uint32_t square = 0x40000000u;  // x^1, then x^2, x^4, ...
  uint64_t bits = static_cast<uint64_t>(bytes) * 8;
  while (bits != 0) {
    if (bits & 1u) result = MultiplyModP(result, square);
    square = MultiplyModP(square, square);
    bits >>= 1;
  }
  return result;
}

// Tables applying "shift over `bytes` zero bytes" to a raw (uninverted) CRC register value.
struct ShiftTables {
  std::array<std::array<uint32_t, 256>, 4> table{};
  explicit ShiftTables(size_t bytes) {
    uint32_t factor = PowerForBytes(bytes);
    for (int lane = 0; lane < 4; ++lane) {
      for (uint32_t byte = 0; byte < 256; ++byte) {
        table[lane][byte] = MultiplyModP(byte << (8 * lane), factor);
      }
    }
  }
  uint32_t Apply(uint32_t crc) const {
    return table[0][crc & 0xFF] ^ table[1][(crc >> 8) & 0xFF] ^ table[2][(crc >> 16) & 0xFF] ^
           table[3][crc >> 24];
  }
};

#if defined(HYBRIDWIRE_CRC_X86) || defined(HYBRIDWIRE_CRC_ARM)

constexpr size_t kLongBlock = 8192;
constexpr size_t kShortBlock = 256;

const ShiftTables& LongShift() {
  static const ShiftTables tables(kLongBlock);
  return tables;
}
const ShiftTables& ShortShift() {
  static const ShiftTables tables(kShortBlock);
  return tables;
}

#if defined(HYBRIDWIRE_CRC_X86)
HYBRIDWIRE_TARGET_CRC inline uint64_t Step64(uint64_t crc, uint64_t word) {
  return _mm_crc32_u64(crc, word);
}
HYBRIDWIRE_TARGET_CRC inline uint32_t Step8(uint32_t crc, uint8_t byte) {
  return _mm_crc32_u8(crc, byte);
}
#else
HYBRIDWIRE_TARGET_CRC inline uint64_t Step64(uint64_t crc, uint64_t word) {
  return __crc32cd(static_cast<uint32_t>(crc), word);
}
HYBRIDWIRE_TARGET_CRC inline uint32_t Step8(uint32_t crc, uint8_t byte) {
  return __crc32cb(crc, byte);
}
#endif

// Runs three streams over blocks of `block` bytes while at least 3 * block bytes remain.
HYBRIDWIRE_TARGET_CRC inline uint64_t ThreeWay(uint64_t crc0, const uint8_t*& p, size_t& length,
                                               size_t block, const ShiftTables& shift) {
  while (length >= 3 * block) {
    uint64_t crc1 = 0;
    uint64_t crc2 = 0;
    const uint8_t* end = p + block;
    do {
      crc0 = Step64(crc0, LoadLittle64(p));
      crc1 = Step64(crc1, LoadLittle64(p + block));
      crc2 = Step64(crc2, LoadLittle64(p + 2 * block));
      p += 8;
    } while (p < end);
    crc0 = shift.Apply(static_cast<uint32_t>(crc0)) ^ crc1;
    crc0 = shift.Apply(static_cast<uint32_t>(crc0)) ^ crc2;
    p += 2 * block;
    length -= 3 * block;
  }
  return crc0;
}

#endif

}  // namespace

uint32_t crc32c_software(uint32_t crc, const uint8_t* data, size_t length) {
  const SliceTables& t = Slices();
  uint32_t c = ~crc;
  while (length != 0 && (reinterpret_cast<uintptr_t>(data) & 7u) != 0) {
    c = (c >> 8) ^ t[0][(c ^ *data++) & 0xFF];
    --length;
  }
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
  while (length != 0 && (reinterpret_cast<uintptr_t>(data) & 7u) != 0) {
    c = Step8(static_cast<uint32_t>(c), *data++);
    --length;
  }
  c = ThreeWay(c, data, length, kLongBlock, LongShift());
  c = ThreeWay(c, data, length, kShortBlock, ShortShift());
  while (length >= 8) {
    c = Step64(c, LoadLittle64(data));
    data += 8;
    length -= 8;
  }
  while (length != 0) {
    c = Step8(static_cast<uint32_t>(c), *data++);
    --length;
  }
  return ~static_cast<uint32_t>(c);
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
