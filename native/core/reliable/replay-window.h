// Duplicate and stale filter for the unreliable sequence space (the anti-replay window of
// RFC 4303 §3.4.3): the largest sequence seen and a bitmap of the kReplaySpan before it. Unreliable
// messages are delivered on arrival, in any order, but never twice; a sequence kReplaySpan or more
// behind the largest is stale and refused, since it can no longer be told from a duplicate.
#pragma once
#include <cstdint>

#include "core/reliable/sequence.h"

namespace hybridwire::reliable {

class ReplayWindow {
 public:
  enum class Verdict { kNew, kDuplicate, kStale };

  Verdict check(uint32_t seq) const {
    if (!has_largest_) return Verdict::kNew;
    int32_t ahead = seq_diff(seq, largest_);
    if (ahead > 0) return Verdict::kNew;
    uint32_t behind = static_cast<uint32_t>(-static_cast<int64_t>(ahead));
    if (behind >= kReplaySpan) return Verdict::kStale;
    return bit(seq) ? Verdict::kDuplicate : Verdict::kNew;
  }

  // Records a sequence that check() called new.
  void mark(uint32_t seq) {
    if (!has_largest_) {
      has_largest_ = true;
      largest_ = seq;
    } else if (seq_diff(seq, largest_) > 0) {
      uint32_t shift = static_cast<uint32_t>(seq_diff(seq, largest_));
      // Clear the bits of the sequences the window slides over (they were never seen).
      if (shift >= kReplaySpan) {
        for (uint64_t& word : bits_) word = 0;
      } else {
        for (uint32_t s = largest_ + 1; s != seq; ++s) clear(s);
      }
      largest_ = seq;
    }
    bits_[(seq & kReplayMask) / 64] |= uint64_t{1} << (seq % 64);
  }

 private:
  bool bit(uint32_t seq) const { return (bits_[(seq & kReplayMask) / 64] >> (seq % 64)) & 1; }
  void clear(uint32_t seq) { bits_[(seq & kReplayMask) / 64] &= ~(uint64_t{1} << (seq % 64)); }

  uint64_t bits_[kReplaySpan / 64] = {};
  bool has_largest_ = false;
  uint32_t largest_ = 0;
};

}  // namespace hybridwire::reliable
