// CRC32C (Castagnoli, reflected polynomial 0x82F63B78), as used by iSCSI, ext4 and SCTP.
#pragma once
#include <cstddef>
#include <cstdint>

namespace hybridwire {

// Extends `crc` (the value returned by a previous call, or 0 to start) over `data`.
// The pre- and post-inversion are done inside, so calls chain: crc32c(crc32c(0, a), b) == crc32c(0, ab).
uint32_t crc32c(uint32_t crc, const uint8_t* data, size_t length);

// The portable table-driven path, always available; exposed so tests can compare it with the
// hardware path on the same input.
uint32_t crc32c_software(uint32_t crc, const uint8_t* data, size_t length);

// The hardware path (SSE4.2 on x86-64, the CRC extension on arm64; inputs of 128 bytes and more
// also use the carry-less multiply, PCLMULQDQ or PMULL, when the CPU has it). Only call when
// crc32c_hardware_available() is true.
uint32_t crc32c_hardware(uint32_t crc, const uint8_t* data, size_t length);
bool crc32c_hardware_available();

}  // namespace hybridwire
