// Byte layouts of the two payloads this layer defines: the fragment prefix of a MESSAGE frame
// with the FRAGMENT flag, and the ACK frame payload. Integers are little-endian.
//
// Fragment prefix (12 bytes, first in the payload):
//   0 message_length u32   bytes of the whole message
//   4 index          u32   0-based fragment number; the message's first sequence is seq - index
//   8 count          u32   fragments in the message (>= 2)
// Every fragment but the last carries the same number of bytes F at offset index * F; the last
// carries the rest, at message_length - its size.
//
// ACK payload (header: type ACK, flags RELIABLE [| UNORDERED] naming the space, channel, and
// sequence = the cumulative point: every sequence below it has been received):
//   0 ack_delay    u32   microseconds since the largest acknowledged sequence was received;
//                        0xFFFFFFFF when omitted: the ack leaves out ranges, or repeats a
//                        largest sequence that an earlier ack reported (no RTT sample then)
//   4 range_count  u16
//   6 ranges       range_count x { gap u16, length u16 }: each range starts `gap` (>= 1)
//                  sequences after the end of the previous range (the first after the
//                  cumulative point) and covers `length` (>= 1) received sequences.
#pragma once
#include <cstddef>
#include <cstdint>

#include "core/reliable/sequence.h"

namespace hybridwire::reliable::wire {

inline uint16_t load16(const uint8_t* p) {
  return static_cast<uint16_t>(p[0] | (p[1] << 8));
}
inline uint32_t load32(const uint8_t* p) {
  return static_cast<uint32_t>(p[0]) | (static_cast<uint32_t>(p[1]) << 8) |
         (static_cast<uint32_t>(p[2]) << 16) | (static_cast<uint32_t>(p[3]) << 24);
}
inline void store16(uint8_t* p, uint32_t value) {
  p[0] = static_cast<uint8_t>(value);
  p[1] = static_cast<uint8_t>(value >> 8);
}
inline void store32(uint8_t* p, uint32_t value) {
  p[0] = static_cast<uint8_t>(value);
  p[1] = static_cast<uint8_t>(value >> 8);
  p[2] = static_cast<uint8_t>(value >> 16);
  p[3] = static_cast<uint8_t>(value >> 24);
}

constexpr size_t kFragmentPrefixSize = 12;

struct FragmentPrefix {
  uint32_t message_length = 0;
  uint32_t index = 0;
  uint32_t count = 0;
};

void write_fragment_prefix(uint8_t* out, const FragmentPrefix& prefix);

// False if `length` is shorter than a prefix or the prefix is impossible on its own (count < 2,
// index >= count, or fewer bytes than fragments).
bool read_fragment_prefix(const uint8_t* data, size_t length, FragmentPrefix* prefix);

constexpr size_t kAckFixedSize = 6;
constexpr size_t kAckRangeSize = 4;
constexpr uint32_t kAckDelayOmitted = 0xFFFFFFFF;
constexpr size_t kMaxAckRanges = 32;

struct AckRange {
  uint32_t first;  // inclusive
  uint32_t last;   // inclusive
};

struct Ack {
  uint32_t cumulative = 0;
  uint32_t ack_delay_us = 0;
  size_t range_count = 0;
  AckRange ranges[kMaxAckRanges];
  // The largest sequence this ack covers: the end of the last range, or cumulative - 1.
  uint32_t largest() const { return range_count > 0 ? ranges[range_count - 1].last : cumulative - 1; }
};

// Parses an ACK payload. False if malformed: wrong length, a zero gap or length, more than
// kMaxAckRanges ranges, or ranges reaching `span` or more past the cumulative point.
bool read_ack(const uint8_t* payload, size_t length, uint32_t cumulative, uint32_t span, Ack* ack);

}  // namespace hybridwire::reliable::wire
