// Congestion control: NewReno-style AIMD in bytes (RFC 9002 §7 and Appendix B), with two changes:
// what counts as a congestion event, and how far the window falls at one.
//
// Why NewReno: it is what RFC 9002 specifies, its behaviour is well understood and TCP-fair, and
// it needs no pacing or bandwidth model, which suits a sans-IO core driven by an event loop whose
// send times are coarse. Slow start grows the window by the bytes acknowledged (doubling it each
// round trip) from the RFC 9002 initial window; congestion avoidance adds one datagram per window
// acknowledged; a congestion event cuts it (see below), at most once per round;
// persistent congestion (repeated timeouts) collapses it to two datagrams.
//
// The first change: plain NewReno takes every loss as congestion, which caps it at about
// 1.22 / sqrt(p) datagrams per round trip on a path with random loss rate p (about 5 at 5%),
// whatever the capacity. On the lossy links this library serves (Wi-Fi, cellular, games and IoT
// over the internet) much loss is noise. So a round (from a transmission until one sent after it
// is acknowledged or lost, at least kMinRoundFrames frames resolved and kMinRoundDatagrams
// datagrams' worth of bytes (small frames share datagrams, and datagrams are what get lost, so a
// count of frames alone lets one lost datagram of 13 small messages look like 20% loss): one round trip of data,
// or more when the window is small, so that a few unlucky frames are not taken for a high loss
// rate; at 5% random loss, 7 or more of 64 are lost about 2% of the time) is a congestion event
// only when more than kLossThresholdPercent of the bytes it resolved were lost. A sender that overruns a drop-tail
// bottleneck sees its loss rate climb with its overshoot, passes the threshold within a round or
// two and backs off, so the path is not flooded; the price is tolerating up to that much loss (the
// trade BBRv2 makes with its own loss threshold).
//
// Losses found to be spurious (the frame had arrived: the send window reports it when the
// acknowledgement can only be for the transmission that was declared lost) are taken out of the
// round that counted them: out of the open round's lost bytes, or, when they were counted in the
// round whose verdict last reduced the window and that round would not have been congested
// without them, the reduction is undone (window and threshold restored, as Linux does on a
// spurious recovery and RFC 9002 §7.3.2 allows). Persistent congestion is never undone.
//
// The second change: how far the window falls. A congested round that lost a fraction f of its
// bytes keeps 1 - f of the window, at least kMinKeptPercent and at most kMaxKeptPercent. 1 - f is
// what the path let through: a sender overrunning a drop-tail bottleneck at k times its rate loses
// about 1 - 1/k, so keeping 1 - f brings it back to the bottleneck's rate in one step, and a
// sender at twice the rate or more halves, as NewReno does. The ceiling makes every congestion
// event a real cut (at least 15%; NewReno cuts 50%, CUBIC 30%), so that a sender just over the
// threshold drains the queue it built rather than sitting on it. What this buys: near the
// threshold, which a lossy path also crosses by chance, or through reordering that cannot be told
// from loss (a late original that arrives after its retransmission was acknowledged), a fixed
// halving cost more than the one-datagram-per-round-trip increase won back. Through the chaos
// proxy with loss, duplication and reordering (bench/e2e/reliable-udp.mjs, cases gp-*-5) this cut
// keeps a larger window, and more goodput, than halving or CUBIC's 0.7 (bench/RESULTS.md).
#pragma once
#include <cstdint>

namespace hybridwire::reliable {

class Congestion {
 public:
  static constexpr uint64_t kLossThresholdPercent = 10;
  static constexpr uint64_t kMinRoundFrames = 64;
  static constexpr uint64_t kMinRoundDatagrams = 64;
  static constexpr uint64_t kMinKeptPercent = 50;
  static constexpr uint64_t kMaxKeptPercent = 85;
  // Never a round tag: what a frame that was never declared lost carries.
  static constexpr uint8_t kNoRound = 0;

  explicit Congestion(uint32_t max_datagram_size);

  uint64_t window() const { return window_; }
  uint64_t bytes_in_flight() const { return bytes_in_flight_; }
  uint64_t slow_start_threshold() const { return ssthresh_; }
  // Within the window, or anything when nothing is in flight (so that a frame larger than a
  // collapsed window still goes, alone).
  bool can_send(uint64_t bytes) const { return bytes_in_flight_ + bytes <= window_ || bytes_in_flight_ == 0; }

  // The datagram size changed (path MTU discovery): the minimum window follows it (RFC 9002
  // §7.2), and the window is at least that. After a confirmed black hole the owner also calls
  // collapse(): persistent congestion has cut the threshold already, once.
  void set_max_datagram(uint32_t size) {
    max_datagram_ = size;
    minimum_window_ = 2 * uint64_t{size};
    window_ = window_ > minimum_window_ ? window_ : minimum_window_;
  }

  // Whether the sender ran out of data rather than window since the last acknowledgement: the
  // window then does not grow, since acks of an under-used window say nothing about capacity.
  void set_app_limited(bool limited) { app_limited_ = limited; }

  void on_sent(uint64_t bytes) { bytes_in_flight_ += bytes; }
  void on_acked(uint64_t bytes, uint64_t sent_time, uint64_t now);
  // Returns the tag of the round that counted the loss (never kNoRound), for on_spurious_loss.
  uint8_t on_lost(uint64_t bytes, uint64_t sent_time, uint64_t now);
  // `bytes` declared lost in the round tagged `round` had in fact arrived.
  void on_spurious_loss(uint64_t bytes, uint8_t round);
  void on_persistent_congestion(uint64_t now);
  // The window falls to the minimum, the threshold unchanged.
  void collapse() { window_ = minimum_window_; }

 private:
  // Tags name the last 255 rounds; a spurious loss is found within a round trip or two of its
  // declaration, long before a tag comes round again.
  uint8_t tag_of(uint32_t round) const { return static_cast<uint8_t>(round % 255 + 1); }
  bool congested(uint64_t lost, uint64_t acked) const {
    return lost * 100 > kLossThresholdPercent * (lost + acked);
  }
  void remove(uint64_t bytes);
  // Closes the round if the resolved frame was sent after it began; reduces if it was congested.
  void end_round_after(uint64_t sent_time, uint64_t now);
  void reduce(uint64_t now, uint64_t kept_percent);

  uint64_t max_datagram_;
  uint64_t minimum_window_;
  uint64_t window_;
  uint64_t ssthresh_;
  uint64_t bytes_in_flight_ = 0;
  uint64_t acked_in_avoidance_ = 0;
  uint64_t recovery_start_ = 0;
  bool in_recovery_period_ = false;
  bool app_limited_ = true;
  bool round_started_ = false;
  uint32_t round_ = 0;  // rounds closed so far
  uint64_t round_start_ = 0;
  uint64_t round_acked_ = 0;
  uint64_t round_lost_ = 0;
  uint64_t round_frames_ = 0;
  // The last reduction by a round's verdict, while it may still be undone.
  bool can_undo_ = false;
  uint8_t undo_round_ = kNoRound;
  uint64_t undo_lost_ = 0;
  uint64_t undo_acked_ = 0;
  uint64_t undo_window_ = 0;
  uint64_t undo_ssthresh_ = 0;
};

}  // namespace hybridwire::reliable
