// Which frames a UDP datagram may hold (docs/PROTOCOL.md, sections 2 and 4). A datagram is used
// whole or not at all: one frame that fails this rule, or fails to decode, makes it malformed and
// none of its frames is used. ts/transport/datagram-rule.ts states the same rule for the datagrams
// that never reach an endpoint (those from an address a server has not validated).
#pragma once
#include <cstddef>
#include <cstdint>

#include "core/frame-codec.h"

namespace hybridwire::reliable::datagram_rule {

constexpr uint8_t kTypeMessage = 0x04;
constexpr uint8_t kTypeAck = 0x05;
constexpr uint8_t kTypePing = 0x06;
constexpr uint8_t kTypePong = 0x07;
constexpr uint8_t kTypePathChallenge = 0x0b;
// Types from here up are ignorable: a receiver skips those it does not know.
constexpr uint8_t kFirstIgnorable = 0x80;
// BATCH describes TCP messages only; COMPRESSED travels in RELIABLE messages only (section 12).
constexpr uint8_t kFlagCompressed = 0x01;
constexpr uint8_t kFlagReliable = 0x08;
constexpr uint8_t kFlagBatch = 0x10;
constexpr uint32_t kMaxPingPayload = 64;
constexpr uint32_t kPathChallengeSize = 8;

// Whether a frame that decoded (version, length and checksum good) may travel in a datagram.
inline bool allowed(uint8_t type, uint8_t flags, uint32_t length) {
  switch (type) {
    case kTypeMessage:
      return (flags & kFlagBatch) == 0 && ((flags & kFlagCompressed) == 0 || (flags & kFlagReliable) != 0);
    case kTypeAck:
      return true;
    case kTypePing:
    case kTypePong:
      return length <= kMaxPingPayload;
    case kTypePathChallenge:
      return length == kPathChallengeSize;
    default:
      // Unknown critical types, and those carried on TCP only (HELLO ... TYPE_DEF, PATH_RESPONSE).
      return type >= kFirstIgnorable;
  }
}

enum class Verdict { kUsable, kBadChecksum, kMalformed };

// docs/PROTOCOL.md section 4: a datagram is used whole or not at all, so all of it is decoded and
// checked before any frame is used. Decodes `max_rows` frames at a time into `rows`; `first` gets
// the decode of the first ones, which are still in `rows` when it covers the whole datagram (the
// common case: such a datagram is decoded, and its checksums computed, once).
inline Verdict check(const uint8_t* data, size_t size, uint32_t max_payload, uint32_t* rows,
                    size_t max_rows, frame::DecodeResult* first) {
  size_t position = 0;
  for (bool at_start = true;; at_start = false) {
    const frame::DecodeResult result = frame::decode_stream(data, size, position, max_payload, rows, max_rows);
    if (at_start) *first = result;
    if (result.error == frame::DecodeError::kBadChecksum) return Verdict::kBadChecksum;
    // An incomplete frame at the end (`needed`), or no frame at all, is malformed too.
    if (result.error != frame::DecodeError::kNone || result.needed != 0 || result.frames == 0) return Verdict::kMalformed;
    for (size_t i = 0; i < result.frames; ++i) {
      const uint32_t* row = rows + i * frame::kRowWidth;
      if (!allowed(static_cast<uint8_t>(row[2]), static_cast<uint8_t>(row[3]), row[1])) return Verdict::kMalformed;
    }
    position = result.consumed;
    if (position >= size) return Verdict::kUsable;
  }
}

}  // namespace hybridwire::reliable::datagram_rule
