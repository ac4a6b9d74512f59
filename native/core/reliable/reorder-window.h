// How long the sender waits before taking a missing frame for lost: RFC 9002 §6.1's thresholds,
// widened once reordering has been proven (RFC 8985 §6.2, RACK's adaptive reordering window).
//
// Until a loss turns out to be spurious, a frame counts as lost once a datagram sent
// SendWindow::kPacketThreshold datagrams after it is acknowledged, or 9/8 of the RTT after it was
// sent when a later one has been acknowledged. A spurious loss (send-window.h says which are
// recognised) proves that the path reorders beyond that. From then on the packet threshold is off,
// as RACK drops its duplicate threshold (on a reordering path a count of datagrams says little:
// a few milliseconds of delay are hundreds of datagrams at loopback rates), and the time threshold
// grows by a quarter of the minimum RTT for each round trip that finds a spurious loss, up to one
// smoothed RTT more (RACK's cap: a real loss still costs at most about two round trips to find).
// The widening lasts until kPersistRounds congestion rounds that declared losses have found no
// spurious one; then the thresholds return to RFC 9002's.
#pragma once
#include <algorithm>
#include <cstdint>
#include <limits>

#include "core/reliable/rtt-estimator.h"
#include "core/reliable/send-window.h"

namespace hybridwire::reliable {

class ReorderWindow {
 public:
  static constexpr uint32_t kPersistRounds = 16;
  static constexpr uint32_t kMaxSteps = 255;

  bool widened() const { return steps_ > 0; }

  uint64_t packet_threshold() const {
    return steps_ == 0 ? SendWindow::kPacketThreshold : std::numeric_limits<uint64_t>::max();
  }

  uint64_t loss_delay(const RttEstimator& rtt) const {
    const uint64_t base = rtt.loss_delay();
    if (steps_ == 0) return base;
    return base + std::min(steps_ * (rtt.minimum() / 4), rtt.smoothed());
  }

  void on_spurious_loss(uint64_t now, uint64_t smoothed_rtt) {
    quiet_rounds_ = 0;
    if (steps_ != 0 && now - widened_at_ < smoothed_rtt) return;  // once per round trip
    if (steps_ < kMaxSteps) ++steps_;
    widened_at_ = now;
  }

  // A loss was declared and counted in the congestion round tagged `round`.
  void on_loss(uint8_t round) {
    if (steps_ == 0 || round == last_loss_round_) return;
    last_loss_round_ = round;
    if (++quiet_rounds_ >= kPersistRounds) {
      steps_ = 0;
      quiet_rounds_ = 0;
    }
  }

 private:
  uint64_t steps_ = 0;
  uint64_t widened_at_ = 0;
  uint32_t quiet_rounds_ = 0;
  uint8_t last_loss_round_ = 0;
};

}  // namespace hybridwire::reliable
