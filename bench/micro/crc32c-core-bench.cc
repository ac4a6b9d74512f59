// Times native/core/crc32c.cc directly, without N-API, against the limit of the CPU's CRC32
// instruction: one instruction (8 bytes) per cycle. The clock is measured rather than read from
// /proc (a VM's nominal frequency says little): a chain of dependent CRC32 instructions runs at
// one per 3 cycles, its latency on every x86-64 core since Nehalem.
//   c++ -std=c++17 -O3 -Inative bench/micro/crc32c-core-bench.cc native/core/crc32c.cc -o crc32c-core-bench
//   ./crc32c-core-bench
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <vector>

#include "core/crc32c.h"

#if defined(__x86_64__) || defined(_M_X64)
#include <nmmintrin.h>
#endif

namespace {

using Clock = std::chrono::steady_clock;

volatile uint64_t sink;  // results are stored here so that no computation is optimised away

double Seconds(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

#if defined(__x86_64__) || defined(_M_X64)
// Cycles per second, from a chain of dependent CRC32 instructions (3 cycles each).
__attribute__((target("sse4.2"))) double MeasureClock() {
  double best = 0;
  // Many short rounds, keeping the fastest: on a shared machine, some run undisturbed.
  for (int round = 0; round < 40; ++round) {
    const uint64_t steps = 5'000'000;
    uint64_t crc = round;
    Clock::time_point start = Clock::now();
    for (uint64_t i = 0; i < steps; ++i) crc = _mm_crc32_u64(crc, i);
    double elapsed = Seconds(start);
    sink = crc;
    best = std::max(best, 3.0 * steps / elapsed);
  }
  return best;
}
#endif

}  // namespace

int main() {
  if (!hybridwire::crc32c_hardware_available()) {
    std::puts("no CRC32C instruction on this CPU");
    return 1;
  }
#if defined(__x86_64__) || defined(_M_X64)
  const double hz = MeasureClock();
  std::printf("clock from CRC32 latency: %.2f GHz; instruction limit %.1f GB/s (8 bytes/cycle)\n",
              hz / 1e9, 8 * hz / 1e9);
#else
  const double hz = 0;
#endif
  std::vector<uint8_t> buffer(65536);
  for (size_t i = 0; i < buffer.size(); ++i) buffer[i] = static_cast<uint8_t>(i * 131 + 7);
  std::printf("%8s %10s %10s %12s\n", "size", "ns/call", "GB/s", "bytes/cycle");
  uint32_t crc = 0;
  for (size_t size : {64, 256, 1024, 4096, 16384, 65536}) {
    // Best of several rounds: the machines are shared, and the fastest round is the least disturbed.
    double best = 1e30;
    const size_t calls = std::max<size_t>(1000, (64u << 20) / size);
    for (int round = 0; round < 7; ++round) {
      Clock::time_point start = Clock::now();
      // Each call is seeded with the previous result, as a frame's payload CRC continues its
      // header's, so calls cannot overlap.
      for (size_t i = 0; i < calls; ++i) crc = hybridwire::crc32c_hardware(crc, buffer.data(), size);
      best = std::min(best, Seconds(start) / calls);
    }
    std::printf("%8zu %10.1f %10.1f", size, best * 1e9, size / best / 1e9);
    if (hz > 0) std::printf(" %12.2f", size / best / hz);
    std::printf("\n");
  }
  sink = crc;
  return 0;
}
