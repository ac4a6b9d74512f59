// Times our native/core/lz4.cc directly, without N-API, with the same method and output as
// lz4-reference-bench.c, so that the two compare like with like.
//   c++ -std=c++17 -O3 -Inative bench/micro/lz4-core-bench.cc native/core/lz4.cc -o lz4-core-bench
//   ./lz4-core-bench corpus/*.bin
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "core/lz4.h"

namespace {

constexpr int kRounds = 7;
constexpr double kRoundSeconds = 0.04;

const uint8_t* g_src;
uint8_t* g_dst;
size_t g_size, g_capacity;
volatile int64_t g_sink;  // keeps the timed calls observable

void run_compress(long iterations) {
  for (long i = 0; i < iterations; i++) g_sink += hybridwire::lz4_compress(g_src, g_size, g_dst, g_capacity);
}
void run_decompress(long iterations) {
  for (long i = 0; i < iterations; i++) g_sink += hybridwire::lz4_decompress(g_src, g_size, g_dst, g_capacity);
}

// FNV-1a of the compressed block, printed so that blocks from different drivers can be compared.
unsigned long long fnv1a(const uint8_t* data, size_t size) {
  unsigned long long hash = 14695981039346656037ull;
  for (size_t i = 0; i < size; i++) hash = (hash ^ data[i]) * 1099511628211ull;
  return hash;
}

double now() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

// The best of kRounds rounds of calls per second, each lasting about kRoundSeconds: on a shared
// machine the fastest round is the one least disturbed by other processes.
double calls_per_second(void (*run)(long)) {
  long iterations = 1;
  for (;;) {
    double start = now();
    run(iterations);
    if (now() - start >= kRoundSeconds / 4) break;
    iterations *= 2;
  }
  double start = now();
  run(iterations);
  iterations = static_cast<long>(iterations * kRoundSeconds / (now() - start)) + 1;
  double best = 0;
  for (int round = 0; round < kRounds; round++) {
    start = now();
    run(iterations);
    best = std::max(best, iterations / (now() - start));
  }
  return best;
}

}  // namespace

int main(int argc, char** argv) {
  for (int i = 1; i < argc; i++) {
    std::ifstream file(argv[i], std::ios::binary);
    if (!file) {
      std::fprintf(stderr, "cannot read %s\n", argv[i]);
      return 1;
    }
    std::vector<uint8_t> input((std::istreambuf_iterator<char>(file)), std::istreambuf_iterator<char>());
    std::vector<uint8_t> compressed(hybridwire::lz4_compress_bound(input.size()));
    std::vector<uint8_t> output(input.size() + 1);
    const int64_t compressed_size =
        hybridwire::lz4_compress(input.data(), input.size(), compressed.data(), compressed.size());
    if (compressed_size < 0 ||
        hybridwire::lz4_decompress(compressed.data(), compressed_size, output.data(), input.size()) !=
            static_cast<int64_t>(input.size()) ||
        !std::equal(input.begin(), input.end(), output.begin())) {
      std::fprintf(stderr, "round trip failed for %s\n", argv[i]);
      return 1;
    }
    g_src = input.data(), g_dst = compressed.data(), g_size = input.size(), g_capacity = compressed.size();
    const double compress_rate = calls_per_second(run_compress);
    g_src = compressed.data(), g_dst = output.data(), g_size = compressed_size, g_capacity = input.size();
    const double decompress_rate = calls_per_second(run_decompress);

    std::string name = argv[i];
    name = name.substr(name.find_last_of('/') + 1);
    name = name.substr(0, name.size() - 4);
    std::printf(
        "{\"impl\":\"core\",\"name\":\"%s\",\"size\":%zu,\"compressed\":%lld,\"blockHash\":\"%016llx\","
        "\"compressMBps\":%.1f,\"decompressMBps\":%.1f}\n",
        name.c_str(), input.size(), static_cast<long long>(compressed_size),
        fnv1a(compressed.data(), static_cast<size_t>(compressed_size)), compress_rate * input.size() / 1e6,
        decompress_rate * input.size() / 1e6);
  }
  return 0;
}
