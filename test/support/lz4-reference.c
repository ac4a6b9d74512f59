// The reference liblz4, driven from the LZ4 tests: reads stdin, writes stdout.
//   lz4-reference c              stdin compressed with LZ4_compress_default into one block
//   lz4-reference d <capacity>   the block on stdin decompressed with LZ4_decompress_safe into
//                                at most <capacity> bytes; exit status 1 if liblz4 rejects it
// Build: cc test/support/lz4-reference.c -llz4 -o lz4-reference
#include <lz4.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char* read_all(FILE* file, size_t* size) {
  size_t capacity = 1 << 16;
  char* data = malloc(capacity);
  *size = 0;
  for (;;) {
    if (!data) return NULL;
    *size += fread(data + *size, 1, capacity - *size, file);
    if (*size < capacity) return data;
    capacity *= 2;
    data = realloc(data, capacity);
  }
}

int main(int argc, char** argv) {
  size_t size = 0;
  char* input = read_all(stdin, &size);
  if (!input || size > LZ4_MAX_INPUT_SIZE) {
    fprintf(stderr, "cannot read stdin\n");
    return 2;
  }
  if (argc == 2 && strcmp(argv[1], "c") == 0) {
    int bound = LZ4_compressBound((int)size);
    char* output = malloc((size_t)bound);
    int written = LZ4_compress_default(input, output, (int)size, bound);
    if (written <= 0) {
      fprintf(stderr, "LZ4_compress_default failed\n");
      return 1;
    }
    fwrite(output, 1, (size_t)written, stdout);
    return 0;
  }
  if (argc == 3 && strcmp(argv[1], "d") == 0) {
    int capacity = atoi(argv[2]);
    char* output = malloc((size_t)capacity + 1);
    int written = LZ4_decompress_safe(input, output, (int)size, capacity);
    if (written < 0) {
      fprintf(stderr, "LZ4_decompress_safe rejected the block (%d)\n", written);
      return 1;
    }
    fwrite(output, 1, (size_t)written, stdout);
    return 0;
  }
  fprintf(stderr, "usage: lz4-reference c | lz4-reference d <capacity>\n");
  return 2;
}
