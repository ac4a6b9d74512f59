// Times liblz4 itself (LZ4_compress_default / LZ4_decompress_safe) in-process on the corpus files
// given as arguments, with the same method as lz4-core-bench.cc, and prints one JSON line each.
//   cc -O3 bench/micro/lz4-reference-bench.c -llz4 -o lz4-reference-bench
//   ./lz4-reference-bench corpus/*.bin
#include <lz4.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

enum { kRounds = 7 };
static const double kRoundSeconds = 0.04;

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static const char* g_src;
static char* g_dst;
static int g_size, g_capacity;
static volatile long long g_sink;  // keeps the timed calls observable

static void run_compress(long iterations) {
  for (long i = 0; i < iterations; i++) g_sink += LZ4_compress_default(g_src, g_dst, g_size, g_capacity);
}
static void run_decompress(long iterations) {
  for (long i = 0; i < iterations; i++) g_sink += LZ4_decompress_safe(g_src, g_dst, g_size, g_capacity);
}

// The best of kRounds rounds of calls per second, each lasting about kRoundSeconds: on a shared
// machine the fastest round is the one least disturbed by other processes.
static double calls_per_second(void (*run)(long)) {
  long iterations = 1;
  for (;;) {
    double start = now();
    run(iterations);
    if (now() - start >= kRoundSeconds / 4) break;
    iterations *= 2;
  }
  double start = now();
  run(iterations);
  iterations = (long)((double)iterations * kRoundSeconds / (now() - start)) + 1;
  double best = 0;
  for (int r = 0; r < kRounds; r++) {
    start = now();
    run(iterations);
    double rate = (double)iterations / (now() - start);
    if (rate > best) best = rate;
  }
  return best;
}

// FNV-1a of the compressed block, printed so that blocks from different drivers can be compared.
static unsigned long long fnv1a(const char* data, int size) {
  unsigned long long hash = 14695981039346656037ull;
  for (int i = 0; i < size; i++) hash = (hash ^ (unsigned char)data[i]) * 1099511628211ull;
  return hash;
}

static char* read_file(const char* path, long* size) {
  FILE* file = fopen(path, "rb");
  if (!file) return NULL;
  fseek(file, 0, SEEK_END);
  *size = ftell(file);
  fseek(file, 0, SEEK_SET);
  char* data = malloc(*size > 0 ? (size_t)*size : 1);
  if (fread(data, 1, (size_t)*size, file) != (size_t)*size) {
    free(data);
    data = NULL;
  }
  fclose(file);
  return data;
}

int main(int argc, char** argv) {
  for (int i = 1; i < argc; i++) {
    long size = 0;
    char* input = read_file(argv[i], &size);
    if (!input) {
      fprintf(stderr, "cannot read %s\n", argv[i]);
      return 1;
    }
    int bound = LZ4_compressBound((int)size);
    char* compressed = malloc((size_t)bound);
    char* output = malloc((size_t)size + 1);
    int compressed_size = LZ4_compress_default(input, compressed, (int)size, bound);
    if (LZ4_decompress_safe(compressed, output, compressed_size, (int)size) != size ||
        memcmp(input, output, (size_t)size) != 0) {
      fprintf(stderr, "round trip failed for %s\n", argv[i]);
      return 1;
    }
    g_src = input, g_dst = compressed, g_size = (int)size, g_capacity = bound;
    double compress_rate = calls_per_second(run_compress);
    g_src = compressed, g_dst = output, g_size = compressed_size, g_capacity = (int)size;
    double decompress_rate = calls_per_second(run_decompress);

    const char* name = strrchr(argv[i], '/') ? strrchr(argv[i], '/') + 1 : argv[i];
    printf("{\"impl\":\"liblz4\",\"version\":\"%s\",\"name\":\"%.*s\",\"size\":%ld,\"compressed\":%d,"
           "\"blockHash\":\"%016llx\",\"compressMBps\":%.1f,\"decompressMBps\":%.1f}\n",
           LZ4_versionString(), (int)(strlen(name) - 4), name, size, compressed_size,
           fnv1a(compressed, compressed_size), compress_rate * (double)size / 1e6,
           decompress_rate * (double)size / 1e6);
    free(input);
    free(compressed);
    free(output);
  }
  return 0;
}
