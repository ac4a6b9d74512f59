// LZ4 block compression and decompression; see lz4.h for the contract.
//
// A block is a series of sequences: a token byte (high nibble: literal count, low nibble: match
// length - 4; 15 in either means "more length bytes follow, each added, 255 meaning another one"),
// the literals, a 2-byte little-endian offset back into the output, then the match length bytes.
// The last sequence has literals only and the block ends right after them.
#include "core/lz4.h"

#include "core/bits.h"

#include <cstring>

namespace hybridwire {
namespace {

constexpr size_t kMinMatch = 4;
// The format's end-of-block rules, which let decoders over-copy without checking every byte:
// the last 5 bytes are literals, and the last match starts at least 12 bytes before the end.
constexpr size_t kLastLiterals = 5;
constexpr size_t kMatchFindLimit = 12;
// An independent block shorter than this cannot hold a match at all.
constexpr size_t kMinCompressibleSize = kMatchFindLimit + 1;
constexpr size_t kMaxOffset = 65535;
constexpr unsigned kLengthMask = 15;
// After 2^kSkipTrigger failed probes the matcher starts skipping bytes, one more byte per
// 2^kSkipTrigger further failures, so incompressible data is crossed quickly (liblz4's
// acceleration 1).
constexpr unsigned kSkipTrigger = 6;

// ---- Unaligned little-endian access. memcpy compiles to a single load or store. ----

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
inline uint16_t from_little_endian(uint16_t v) { return static_cast<uint16_t>((v >> 8) | (v << 8)); }
inline uint32_t from_little_endian(uint32_t v) { return __builtin_bswap32(v); }
inline uint64_t from_little_endian(uint64_t v) { return __builtin_bswap64(v); }
#else
template <typename T>
inline T from_little_endian(T v) {
  return v;
}
#endif

template <typename T>
inline T load(const uint8_t* p) {
  T v;
  std::memcpy(&v, p, sizeof v);
  return from_little_endian(v);
}

inline uint16_t load16(const uint8_t* p) { return load<uint16_t>(p); }
inline uint32_t load32(const uint8_t* p) { return load<uint32_t>(p); }
inline uint64_t load64(const uint8_t* p) { return load<uint64_t>(p); }

inline void store16(uint8_t* p, uint16_t v) {
  p[0] = static_cast<uint8_t>(v);
  p[1] = static_cast<uint8_t>(v >> 8);
}

// Raw copies for over-copying: they may move bytes beyond the logical end, into room the caller
// has checked exists.
inline void copy8(uint8_t* dst, const uint8_t* src) { std::memcpy(dst, src, 8); }
inline void copy16(uint8_t* dst, const uint8_t* src) { std::memcpy(dst, src, 16); }


inline size_t room(const uint8_t* from, const uint8_t* end) { return static_cast<size_t>(end - from); }

// ---- Compression ----

// Hash tables of the matcher: each slot holds the last position (relative to the start of the
// input) whose leading bytes hashed there. Both kinds fill the same 16 KiB, and their hashes and
// sizes are liblz4's, so the matcher picks the same matches and writes the same blocks.
//
// Inputs shorter than 64 KiB + 11 bytes: every position fits 16 bits, so 8192 slots fit, and every
// earlier position at which a match may start is within 65535 bytes of the current one.
struct SmallInputTable {
  static constexpr size_t kSizeLimit = 65536 + kMatchFindLimit - 1;
  static constexpr bool kMayBeOutOfReach = false;
  uint16_t* slots;

  static uint32_t hash(const uint8_t* p) { return (load32(p) * 2654435761u) >> (32 - 13); }
  uint32_t get(uint32_t h) const { return slots[h]; }
  void put(uint32_t h, size_t position) { slots[h] = static_cast<uint16_t>(position); }
};

// Larger inputs: 4096 32-bit slots, hashed on 5 bytes, which spreads long inputs better than 4.
struct LargeInputTable {
  static constexpr bool kMayBeOutOfReach = true;
  uint32_t* slots;

  static uint32_t hash(const uint8_t* p) {
    return static_cast<uint32_t>(((load64(p) << 24) * 889523592379ull) >> (64 - 12));
  }
  uint32_t get(uint32_t h) const { return slots[h]; }
  void put(uint32_t h, size_t position) { slots[h] = static_cast<uint32_t>(position); }
};

constexpr size_t kTableBytes = 16384;

// How many bytes after `a` equal those after `b`, reading `a` no further than `a_end`.
inline size_t count_matching(const uint8_t* a, const uint8_t* b, const uint8_t* a_end) {
  const uint8_t* const start = a;
  while (room(a, a_end) >= 8) {
    const uint64_t difference = load64(a) ^ load64(b);
    if (difference != 0) return static_cast<size_t>(a - start) + count_trailing_zeros(difference) / 8;
    a += 8;
    b += 8;
  }
  if (room(a, a_end) >= 4 && load32(a) == load32(b)) {
    a += 4;
    b += 4;
  }
  if (room(a, a_end) >= 2 && load16(a) == load16(b)) {
    a += 2;
    b += 2;
  }
  if (a < a_end && *a == *b) ++a;
  return static_cast<size_t>(a - start);
}

// Bytes that follow the token to extend a length of at least 15 in its 4-bit field.
inline size_t length_extension_size(size_t length) {
  return length < kLengthMask ? 0 : (length - kLengthMask) / 255 + 1;
}

// Writes those bytes for `rest` = length - 15: as many 255s as fit, then the remainder.
inline uint8_t* write_length_extension(uint8_t* op, size_t rest) {
  const size_t full = rest / 255;
  std::memset(op, 255, full);
  op += full;
  *op++ = static_cast<uint8_t>(rest - full * 255);
  return op;
}

// Sets the literal count of `token` and writes its extension; returns the position after it.
inline uint8_t* write_literal_count(uint8_t* op, uint8_t* token, size_t count) {
  if (count < kLengthMask) {
    *token = static_cast<uint8_t>(count << 4);
    return op;
  }
  *token = static_cast<uint8_t>(kLengthMask << 4);
  return write_length_extension(op, count - kLengthMask);
}

template <typename Table>
int64_t compress_block(const uint8_t* const src, const size_t size, uint8_t* const dst,
                       const size_t capacity, Table table) {
  const uint8_t* const iend = src + size;
  uint8_t* op = dst;
  uint8_t* const oend = dst + capacity;
  const uint8_t* anchor = src;  // first byte not yet emitted

  if (size >= kMinCompressibleSize) {
    // A match may start at most here (kMatchFindLimit bytes before the end) and must end before
    // the final literals.
    const uint8_t* const last_match_start = iend - kMatchFindLimit;
    const uint8_t* const match_end_limit = iend - kLastLiterals;
    const size_t search_limit = size - kMatchFindLimit + 1;  // past the last match start

    const uint8_t* ip = src;
    table.put(Table::hash(ip), 0);
    ++ip;
    uint32_t next_hash = Table::hash(ip);

    for (;;) {
      // Probe positions for a 4-byte match, recording each one. Every miss brings the next
      // probe closer to skipping: `step` grows by one every 2^kSkipTrigger misses.
      const uint8_t* match;
      {
        // Positions rather than pointers: `next` may step past the end before the check.
        size_t next = static_cast<size_t>(ip - src);
        size_t step = 1;
        size_t misses = size_t{1} << kSkipTrigger;
        for (;;) {
          const uint32_t h = next_hash;
          const size_t position = next;
          next += step;
          step = misses++ >> kSkipTrigger;
          if (next > search_limit) goto last_literals;
          const uint32_t candidate = table.get(h);
          next_hash = Table::hash(src + next);
          table.put(h, position);
          if (Table::kMayBeOutOfReach && candidate + kMaxOffset < position) continue;
          if (load32(src + candidate) == load32(src + position)) {
            ip = src + position;
            match = src + candidate;
            break;
          }
        }
      }

      // The bytes just before a match often match too: move its start back over them.
      while (ip > anchor && match > src && ip[-1] == match[-1]) {
        --ip;
        --match;
      }

      // Token, literal count, literals and the offset that follows them.
      const size_t count = static_cast<size_t>(ip - anchor);
      if (1 + length_extension_size(count) + count + 2 > room(op, oend)) return kLz4OutputTooLarge;
      uint8_t* token = op++;
      op = write_literal_count(op, token, count);
      if (room(op, oend) >= count + 8) {
        // Copied 8 bytes at a time, a little past the end: cheaper than an exact memcpy of a few
        // bytes. The input has that room: these literals end before the last kMatchFindLimit.
        for (size_t i = 0; i < count; i += 8) copy8(op + i, anchor + i);
      } else {
        std::memcpy(op, anchor, count);
      }
      op += count;

      // Emit the match, then keep emitting matches for as long as one starts right where the
      // previous one ended (they need no literals).
      for (;;) {
        store16(op, static_cast<uint16_t>(ip - match));
        op += 2;
        const size_t extra = count_matching(ip + kMinMatch, match + kMinMatch, match_end_limit);
        ip += kMinMatch + extra;
        if (extra >= kLengthMask) {
          if (length_extension_size(extra) > room(op, oend)) return kLz4OutputTooLarge;
          *token = static_cast<uint8_t>(*token + kLengthMask);
          op = write_length_extension(op, extra - kLengthMask);
        } else {
          *token = static_cast<uint8_t>(*token + extra);
        }
        anchor = ip;
        if (ip > last_match_start) goto last_literals;

        // Record a position inside the match, as liblz4 does, then probe the next one.
        table.put(Table::hash(ip - 2), static_cast<size_t>(ip - 2 - src));
        const uint32_t h = Table::hash(ip);
        const size_t position = static_cast<size_t>(ip - src);
        const uint32_t candidate = table.get(h);
        table.put(h, position);
        match = src + candidate;
        if (Table::kMayBeOutOfReach && candidate + kMaxOffset < position) break;
        if (load32(match) != load32(ip)) break;
        if (room(op, oend) < 3) return kLz4OutputTooLarge;  // token and offset
        token = op++;
        *token = 0;
      }
      next_hash = Table::hash(++ip);
    }
  }

last_literals:
  const size_t count = static_cast<size_t>(iend - anchor);
  if (1 + length_extension_size(count) + count > room(op, oend)) return kLz4OutputTooLarge;
  uint8_t* const token = op++;
  op = write_literal_count(op, token, count);
  if (count != 0) std::memcpy(op, anchor, count);  // anchor is null for an empty input
  return op + count - dst;
}

// ---- Decompression ----

// Adds the bytes that extend a length field holding 15. Returns false if the input ends first.
// `length` is 64-bit because it grows by up to 255 per input byte, which overflows 32 bits for
// blocks above 16 MiB; 64 bits cannot overflow for any input that fits in memory.
inline bool read_length_extension(const uint8_t*& ip, const uint8_t* iend, uint64_t& length) {
  unsigned byte;
  do {
    if (ip == iend) return false;
    byte = *ip++;
    length += byte;
  } while (byte == 255);
  return true;
}

// Period expansion for overlapping matches: copying from `distance[offset]` bytes back, a multiple
// of the offset that is at least 8, repeats the same pattern, and lets 8-byte copies never read a
// byte they are themselves writing.
constexpr uint8_t kExpandedDistance[8] = {0, 8, 8, 9, 8, 10, 12, 14};

// Copies `count` literals, in 16-byte blocks when both buffers have room for the over-copy: for
// short runs that is much cheaper than an exact memcpy.
inline void copy_literals(uint8_t* op, const uint8_t* oend, const uint8_t* ip, const uint8_t* iend,
                          size_t count) {
  if (room(ip, iend) >= count + 16 && room(op, oend) >= count + 16) {
    for (size_t i = 0; i < count; i += 16) copy16(op + i, ip + i);
  } else if (count != 0) {  // op may be null when count is 0
    std::memcpy(op, ip, count);
  }
}

// Copies a match of `length` bytes from `offset` back (offset <= bytes already written). Returns
// false, having written nothing, if the match does not fit before `oend`.
inline bool copy_match(uint8_t* op, uint8_t* oend, size_t offset, uint64_t length) {
  if (length > room(op, oend)) return false;
  uint8_t* const end = op + static_cast<size_t>(length);
  const uint8_t* match = op - offset;
  // Block copies may write up to 16 bytes past where they stop, so they stop at least that far
  // before oend; the rest is copied exactly.
  uint8_t* const blocks_end = room(end, oend) >= 16 ? end : room(op, oend) >= 16 ? oend - 16 : op;
  if (op < blocks_end) {
    if (offset >= 16) {
      // Each 16-byte copy reads only bytes written before it starts: the source is 16 or more
      // bytes behind.
      do {
        copy16(op, match);
        op += 16;
        match += 16;
      } while (op < blocks_end);
    } else {
      if (offset < 8) {
        // The first 8 bytes one at a time, each reading a byte written just before, then copy
        // from a multiple of the offset that is at least 8 back.
        for (size_t i = 0; i < 8; ++i) op[i] = match[i];
        op += 8;
        match = op - kExpandedDistance[offset];
      }
      for (; op < blocks_end; op += 8, match += 8) copy8(op, match);
    }
  }
  if (op < end && room(match, op) >= room(op, end)) {
    std::memcpy(op, match, room(op, end));
  } else {
    for (; op < end; ++op, ++match) *op = *match;
  }
  return true;
}

// Whether a match offset is valid: not 0, and not reaching before the start of the output.
// (offset - 1 wraps around for 0, so one comparison does both.)
inline bool offset_is_valid(size_t offset, const uint8_t* dst, const uint8_t* op) {
  return offset - 1 < room(dst, op);
}

}  // namespace

int64_t lz4_compress(const uint8_t* src, size_t size, uint8_t* dst, size_t capacity) {
  if (size > kLz4MaxInputSize) return kLz4InputTooLarge;
  // The table lives on the stack and starts zeroed, as liblz4's does: a zero slot points at the
  // first byte, and matching against it is what liblz4 does too.
  if (size < SmallInputTable::kSizeLimit) {
    uint16_t slots[kTableBytes / sizeof(uint16_t)] = {};
    return compress_block(src, size, dst, capacity, SmallInputTable{slots});
  }
  uint32_t slots[kTableBytes / sizeof(uint32_t)] = {};
  return compress_block(src, size, dst, capacity, LargeInputTable{slots});
}

int64_t lz4_decompress(const uint8_t* src, size_t size, uint8_t* dst, size_t capacity) {
  if (size == 0) return kLz4Corrupt;  // even an empty block has its token
  const uint8_t* ip = src;
  const uint8_t* const iend = src + size;
  uint8_t* op = dst;
  uint8_t* const oend = dst + capacity;

  for (;;) {
    // Here ip < iend: every path that continues the loop has checked it.
    const unsigned token = *ip++;

    uint64_t literals = token >> 4;
    if (literals != kLengthMask && room(ip, iend) >= 16 && room(op, oend) >= 16) {
      // Common case: a short run far from both ends, copied as one 16-byte block.
      copy16(op, ip);
    } else {
      if (literals == kLengthMask && !read_length_extension(ip, iend, literals)) return kLz4Corrupt;
      if (literals > room(ip, iend)) return kLz4Corrupt;
      if (literals > room(op, oend)) return kLz4OutputTooLarge;
      copy_literals(op, oend, ip, iend, static_cast<size_t>(literals));
    }
    ip += literals;
    op += literals;
    if (ip == iend) return op - dst;  // the block ends right after the literals of its last sequence

    if (room(ip, iend) < 2) return kLz4Corrupt;
    const size_t offset = load16(ip);
    ip += 2;
    if (!offset_is_valid(offset, dst, op)) return kLz4Corrupt;

    uint64_t length = token & kLengthMask;
    if (length != kLengthMask && offset >= 8 && room(op, oend) >= 24) {
      // Common case: at most 18 bytes from at least 8 back, as three 8-byte copies. Narrow
      // copies also let the CPU forward recently stored bytes to the loads that re-read them.
      const uint8_t* const match = op - offset;
      copy8(op, match);
      copy8(op + 8, match + 8);
      copy8(op + 16, match + 16);
      op += length + kMinMatch;
    } else {
      if (length == kLengthMask && !read_length_extension(ip, iend, length)) return kLz4Corrupt;
      length += kMinMatch;
      if (!copy_match(op, oend, offset, length)) return kLz4OutputTooLarge;
      op += length;
    }
    if (ip == iend) return kLz4Corrupt;  // a block must end with a literals-only sequence
  }
}

}  // namespace hybridwire
