#include "core/reliable/rtt-estimator.h"

#include <algorithm>

namespace hybridwire::reliable {

RttEstimator::RttEstimator(uint64_t min_rto_us, uint64_t max_rto_us, uint64_t max_ack_delay_us)
    : min_rto_(min_rto_us),
      max_rto_(std::max(min_rto_us, max_rto_us)),
      max_ack_delay_(max_ack_delay_us) {}

void RttEstimator::on_sample(uint64_t latest_rtt_us, uint64_t ack_delay_us) {
  latest_ = latest_rtt_us;
  if (!has_sample_) {
    has_sample_ = true;
    minimum_ = latest_rtt_us;
    smoothed_ = latest_rtt_us;
    variance_ = latest_rtt_us / 2;
    return;
  }
  minimum_ = std::min(minimum_, latest_rtt_us);
  uint64_t ack_delay = std::min(ack_delay_us, max_ack_delay_);
  uint64_t adjusted = latest_rtt_us;
  if (latest_rtt_us >= minimum_ + ack_delay) adjusted = latest_rtt_us - ack_delay;
  uint64_t deviation = smoothed_ > adjusted ? smoothed_ - adjusted : adjusted - smoothed_;
  variance_ = (3 * variance_ + deviation) / 4;
  smoothed_ = (7 * smoothed_ + adjusted) / 8;
}

uint64_t RttEstimator::rto() const {
  uint64_t rto = smoothed_ + std::max(4 * variance_, kGranularityUs) + max_ack_delay_;
  return std::clamp(rto, min_rto_, max_rto_);
}

uint64_t RttEstimator::timeout(uint32_t timeouts, bool single_frame_in_flight) const {
  uint64_t timeout = rto();
  if (timeouts == 0) {
    if (!has_sample_) return timeout;
    uint64_t probe = 2 * smoothed_ + kGranularityUs + (single_frame_in_flight ? max_ack_delay_ : 0);
    return std::min(timeout, probe);
  }
  for (uint32_t i = 1; i < timeouts && timeout < max_rto_; ++i) timeout *= 2;
  return std::min(timeout, max_rto_);
}

uint64_t RttEstimator::loss_delay() const {
  uint64_t base = std::max(smoothed_, latest_);
  return std::max(base + base / 8, kGranularityUs);
}

}  // namespace hybridwire::reliable
