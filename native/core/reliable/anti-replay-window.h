// The anti-replay window of sealed datagrams (docs/PROTOCOL.md 4.4): which 64-bit record numbers
// of one direction have been accepted, so that a copy of a sealed datagram resent later (by the
// network or by an attacker) is refused. RFC 6479's design: a ring of kBlocks 64-bit blocks, one
// bit per record number, with no shifting. The window covers the largest record number accepted
// and the kSize - 1 before it; a record number further behind can no longer be told from a replay
// and is refused as too old. Only records that authenticated may be accepted (RFC 6479 section
// 3: check before, update after the integrity check), so a forger cannot move the window.
//
// It starts as if record 0 were the largest, with no bit set: records count from 0, so nothing
// legitimate is ever below the start.
#pragma once
#include <cstdint>

namespace hybridwire::reliable {

class AntiReplayWindow {
 public:
  // 256 blocks: 2 KiB of bits, of which the block holding the largest record is partly ahead of
  // it, so the window proper is 255 blocks (RFC 6479: one redundant block keeps updates cheap).
  static constexpr uint32_t kBlocks = 256;
  static constexpr uint64_t kSize = (kBlocks - 1) * 64;

  enum class Verdict { kNew, kReplayed, kTooOld };

  Verdict check(uint64_t record) const {
    if (record > largest_) return Verdict::kNew;
    if (largest_ - record >= kSize) return Verdict::kTooOld;
    return (blocks_[block_of(record)] >> (record & 63)) & 1 ? Verdict::kReplayed : Verdict::kNew;
  }

  // Records `record`, which check() called new and which has authenticated.
  void accept(uint64_t record) {
    if (record > largest_) {
      const uint64_t current = largest_ >> 6;
      const uint64_t target = record >> 6;
      // The blocks the window slides over hold bits of record numbers kBlocks blocks back: clear
      // them (all of them when it jumps a whole ring or more).
      const uint64_t steps = target - current < kBlocks ? target - current : kBlocks;
      for (uint64_t i = 1; i <= steps; ++i) blocks_[(current + i) % kBlocks] = 0;
      largest_ = record;
    }
    blocks_[block_of(record)] |= uint64_t{1} << (record & 63);
  }

  uint64_t largest() const { return largest_; }

 private:
  static uint32_t block_of(uint64_t record) { return static_cast<uint32_t>((record >> 6) % kBlocks); }

  uint64_t blocks_[kBlocks] = {};
  uint64_t largest_ = 0;
};

}  // namespace hybridwire::reliable
