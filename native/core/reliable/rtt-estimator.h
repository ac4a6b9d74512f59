// Round-trip time estimation and the retransmission timeout.
//
// The smoothing is RFC 6298's (SRTT, RTTVAR with gains 1/8 and 1/4). Following RFC 9002 §5, the
// peer's reported ack delay (capped at max_ack_delay) is subtracted from a sample when that does
// not take it below the minimum RTT seen, and the timeout includes max_ack_delay, since a peer may
// hold an ack that long. Karn's rule (no samples from retransmitted data) is the caller's: only
// ask for a sample when the largest newly acknowledged sequence was transmitted once.
#pragma once
#include <cstdint>

namespace hybridwire::reliable {

class RttEstimator {
 public:
  // RFC 9002 §6.2.2: before any sample, assume 333 ms.
  static constexpr uint64_t kInitialRttUs = 333000;
  // Timer granularity: the floor of the variance term (RFC 9002 kGranularity).
  static constexpr uint64_t kGranularityUs = 1000;

  RttEstimator(uint64_t min_rto_us, uint64_t max_rto_us, uint64_t max_ack_delay_us);

  void on_sample(uint64_t latest_rtt_us, uint64_t ack_delay_us);

  bool has_sample() const { return has_sample_; }
  uint64_t smoothed() const { return smoothed_; }
  uint64_t variance() const { return variance_; }
  uint64_t minimum() const { return minimum_; }
  uint64_t latest() const { return latest_; }

  // srtt + max(4 * rttvar, granularity) + max_ack_delay, clamped to [min_rto, max_rto].
  uint64_t rto() const;
  // The timeout after `timeouts` consecutive expiries. The first is a tail-loss probe (RFC 8985
  // §7.2): once there is a sample, min(2 srtt, rto), plus max_ack_delay when a single frame is in
  // flight (the peer may hold its ack that long; with more, it acks at once). A probe declares
  // nothing lost and costs one frame if it was not needed. Then the RTO, doubled each time, up to
  // max_rto.
  uint64_t timeout(uint32_t timeouts, bool single_frame_in_flight) const;
  // RFC 9002 §6.1.2: how long before an unacknowledged frame sent before an acknowledged one is
  // declared lost: 9/8 max(srtt, latest_rtt), at least the timer granularity.
  uint64_t loss_delay() const;

 private:
  uint64_t min_rto_;
  uint64_t max_rto_;
  uint64_t max_ack_delay_;
  bool has_sample_ = false;
  uint64_t smoothed_ = kInitialRttUs;
  uint64_t variance_ = kInitialRttUs / 2;
  uint64_t minimum_ = 0;
  uint64_t latest_ = 0;
};

}  // namespace hybridwire::reliable
