#include "core/reliable/congestion.h"

#include <algorithm>
#include <limits>

namespace hybridwire::reliable {
namespace {

constexpr uint64_t kMaximumWindow = uint64_t{1} << 30;

}  // namespace

Congestion::Congestion(uint32_t max_datagram_size)
    : max_datagram_(max_datagram_size),
      minimum_window_(2 * uint64_t{max_datagram_size}),
      // RFC 9002 §7.2: min(10 * max_datagram_size, max(14720, 2 * max_datagram_size)).
      window_(std::min<uint64_t>(10 * uint64_t{max_datagram_size},
                                 std::max<uint64_t>(14720, 2 * uint64_t{max_datagram_size}))),
      ssthresh_(std::numeric_limits<uint64_t>::max()) {}

void Congestion::remove(uint64_t bytes) {
  bytes_in_flight_ = bytes > bytes_in_flight_ ? 0 : bytes_in_flight_ - bytes;
}

void Congestion::on_acked(uint64_t bytes, uint64_t sent_time, uint64_t now) {
  remove(bytes);
  round_acked_ += bytes;
  end_round_after(sent_time, now);
  if (app_limited_) return;
  if (in_recovery_period_ && sent_time <= recovery_start_) return;
  if (window_ < ssthresh_) {
    window_ = std::min(window_ + bytes, kMaximumWindow);
    return;
  }
  acked_in_avoidance_ += bytes;
  if (acked_in_avoidance_ >= window_) {
    acked_in_avoidance_ -= window_;
    window_ = std::min(window_ + max_datagram_, kMaximumWindow);
  }
}

uint8_t Congestion::on_lost(uint64_t bytes, uint64_t sent_time, uint64_t now) {
  remove(bytes);
  const uint8_t round = tag_of(round_);
  round_lost_ += bytes;
  end_round_after(sent_time, now);
  return round;
}

void Congestion::on_spurious_loss(uint64_t bytes, uint8_t round) {
  if (round == tag_of(round_)) {
    // Still open: the bytes were delivered, not lost.
    bytes = std::min(bytes, round_lost_);
    round_lost_ -= bytes;
    round_acked_ += bytes;
    return;
  }
  if (!can_undo_ || round != undo_round_) return;
  bytes = std::min(bytes, undo_lost_);
  undo_lost_ -= bytes;
  undo_acked_ += bytes;
  if (congested(undo_lost_, undo_acked_)) return;
  // The reduction rested on losses that were not: take it back.
  can_undo_ = false;
  in_recovery_period_ = false;
  window_ = std::max(window_, undo_window_);
  ssthresh_ = std::max(ssthresh_, undo_ssthresh_);
}

void Congestion::end_round_after(uint64_t sent_time, uint64_t now) {
  if (!round_started_) {
    round_started_ = true;
    round_start_ = now;
    return;
  }
  ++round_frames_;
  if (sent_time < round_start_ || round_frames_ < kMinRoundFrames ||
      round_lost_ + round_acked_ < kMinRoundDatagrams * max_datagram_) {
    return;
  }
  const bool was_congested = congested(round_lost_, round_acked_);
  const uint8_t closed = tag_of(round_);
  const uint64_t lost = round_lost_;
  const uint64_t acked = round_acked_;
  ++round_;
  round_acked_ = 0;
  round_lost_ = 0;
  round_frames_ = 0;
  round_start_ = now;
  if (!was_congested) return;
  const uint64_t window = window_;
  const uint64_t ssthresh = ssthresh_;
  // The share that got through (the header says why).
  reduce(now, std::clamp<uint64_t>(100 - lost * 100 / (lost + acked), kMinKeptPercent, kMaxKeptPercent));
  can_undo_ = true;
  undo_round_ = closed;
  undo_lost_ = lost;
  undo_acked_ = acked;
  undo_window_ = window;
  undo_ssthresh_ = ssthresh;
}

void Congestion::reduce(uint64_t now, uint64_t kept_percent) {
  in_recovery_period_ = true;
  recovery_start_ = now;
  ssthresh_ = std::max(window_ / 100 * kept_percent, minimum_window_);
  window_ = ssthresh_;
  acked_in_avoidance_ = 0;
}

void Congestion::on_persistent_congestion(uint64_t now) {
  reduce(now, kMinKeptPercent);
  window_ = minimum_window_;
  can_undo_ = false;
}

}  // namespace hybridwire::reliable
