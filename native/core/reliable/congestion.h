// Congestion control: NewReno in bytes (RFC 9002 §7 and Appendix B, after RFC 6582/5681).
//
// Why NewReno: it is the algorithm RFC 9002 specifies, its behaviour on loss is well understood
// and TCP-fair, and it needs no pacing or bandwidth model, which suits a sans-IO core driven by
// an event loop whose send times are coarse. Slow start doubles the window each round trip from
// the RFC 9002 initial window; a loss of data sent after the current recovery period began halves
// it (at most once per round trip); congestion avoidance then adds one datagram per window
// acknowledged. Persistent congestion (repeated timeouts) collapses it to the minimum.
#pragma once
#include <cstdint>

namespace hybridwire::reliable {

class Congestion {
 public:
  explicit Congestion(uint32_t max_datagram_size);

  uint64_t window() const { return window_; }
  uint64_t bytes_in_flight() const { return bytes_in_flight_; }
  uint64_t slow_start_threshold() const { return ssthresh_; }
  bool can_send(uint64_t bytes) const { return bytes_in_flight_ + bytes <= window_; }

  // Whether the sender ran out of data rather than window since the last acknowledgement: the
  // window then does not grow, since acks of an under-used window say nothing about capacity.
  void set_app_limited(bool limited) { app_limited_ = limited; }

  void on_sent(uint64_t bytes) { bytes_in_flight_ += bytes; }
  void on_acked(uint64_t bytes, uint64_t sent_time);
  void on_lost(uint64_t bytes, uint64_t sent_time, uint64_t now);
  // Bytes that leave the flight without telling anything about the path.
  void on_discarded(uint64_t bytes);
  void on_persistent_congestion(uint64_t now);

 private:
  void remove(uint64_t bytes);

  uint64_t max_datagram_;
  uint64_t minimum_window_;
  uint64_t window_;
  uint64_t ssthresh_;
  uint64_t bytes_in_flight_ = 0;
  uint64_t acked_in_avoidance_ = 0;
  uint64_t recovery_start_ = 0;
  bool in_recovery_period_ = false;
  bool app_limited_ = true;
};

}  // namespace hybridwire::reliable
