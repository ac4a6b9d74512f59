// Path MTU discovery for the datagram layer (RFC 8899, DPLPMTUD, a subset): datagrams start at
// the base size (the `mtu` option, 1200 by default, which any IPv6 path and nearly every IPv4 one
// carries) and grow to the largest size a probe has shown the path to carry, up to `max`.
//
// A probe is a datagram of exactly the size being tried, padded, that the peer answers with an
// MTU_ACK naming it (docs/PROTOCOL.md 7.7); only probes leave with the don't-fragment bit. Probes are not messages: a lost one loses nothing,
// is not retransmitted and says nothing about congestion. Sizes are tried from the largest down,
// over plateaus where real paths sit (loopback's 65,535-byte MTU, jumbo frames, Ethernet); a size
// whose probe is lost kMaxProbes times in a row is given up for the next smaller one, and the first
// to be acknowledged becomes the datagram size. A search that ended below `max` starts again after
// kRaiseIntervalUs (RFC 8899's PMTU_RAISE_TIMER), in case the path grew. When datagrams of the
// current size keep being lost (persistent congestion: the owner calls on_black_hole), a probe of
// the current size is sent to confirm it (RFC 8899 §4.3): random loss does not drop the size,
// only kMaxConfirmProbes lost confirmations in a row do; the size then falls back to the base and
// a new search starts after kBlackHoleRetryUs.
//
// Probes must leave unfragmented (IP_PMTUDISC_PROBE for that send, on Linux), or one larger than
// the path could arrive in IP fragments and pass; where that cannot be asked for, the owner sets
// max to the base. Other datagrams keep the socket's setting, so a path that shrinks under a
// transfer still carries (fragmented) frames cut for the larger size.
#pragma once
#include <algorithm>
#include <cstdint>
#include <vector>

namespace hybridwire::reliable {

class PathMtu {
 public:
  static constexpr uint32_t kMaxProbes = 3;
  static constexpr uint32_t kMaxConfirmProbes = 2;
  static constexpr uint64_t kRaiseIntervalUs = 600'000'000;
  static constexpr uint64_t kBlackHoleRetryUs = 1'000'000;
  static constexpr uint64_t kNever = UINT64_MAX;
  // The shortest a probe is waited for. Its answer is immediate, but an event loop busy with
  // other work or a collection pause must not fail a size that works (and a late answer to one of
  // the latest probes still counts).
  static constexpr uint64_t kMinProbeTimeoutUs = 100'000;

  // Sizes are the owner's datagrams; `overhead` is what it adds to each on the wire (sealing), so
  // the plateaus, which are sizes on the wire, are tried less it.
  PathMtu(uint32_t base, uint32_t max, uint32_t overhead = 0)
      : base_(base), max_(std::max(base, max)), current_(base), overhead_(overhead) {
    restart(0);
  }

  uint32_t base() const { return base_; }
  uint32_t max() const { return max_; }
  uint32_t current() const { return current_; }

  // The size of the probe to send now, or 0.
  uint32_t probe_due(uint64_t now) const {
    if (in_flight_ != 0 || next_ >= candidates_.size() || now < search_at_) return 0;
    return candidates_[next_];
  }
  // The largest datagram a probe may need now or soon (so that the owner's buffers can hold it).
  uint32_t largest_probe() const { return next_ < candidates_.size() ? candidates_[next_] : 0; }

  // The probe of probe_due() has been written; it counts as lost at `deadline`. Returns its id.
  uint32_t on_probe_sent(uint64_t deadline) {
    in_flight_ = candidates_[next_];
    deadline_ = deadline;
    ++probes_sent_;
    ++id_;
    recent_[id_ % kRecent] = {id_, in_flight_};
    return id_;
  }

  // An MTU_ACK: true if it answers one of the latest probes (in flight, or counted lost since:
  // answers can come late) with the size that probe had, larger than the current size, which
  // it then becomes.
  bool on_probe_acked(uint32_t id, uint32_t size, uint64_t now) {
    const Probe& probe = recent_[id % kRecent];
    if (id == 0 || probe.id != id || probe.size != size) return false;
    if (confirming_ && size == current_ && id - confirm_from_ < 0x80000000u) {
      // A confirming probe got through: the current size still works, no black hole.
      settle(now);
      return false;
    }
    if (size <= current_) return false;
    current_ = size;
    // Sizes are tried from the largest down: the rest are smaller.
    settle(now);
    return true;
  }

  // When the probe in flight counts as lost, or when the next search starts; kNever if neither.
  uint64_t next_deadline() const {
    if (in_flight_ != 0) return deadline_;
    if (next_ < candidates_.size()) return search_at_;
    return kNever;
  }

  // Returns whether the size changed (a black hole confirmed: back to the base).
  bool on_timeout(uint64_t now) {
    if (in_flight_ == 0 || now < deadline_) return false;
    in_flight_ = 0;
    ++probes_lost_;
    if (confirming_) {
      if (++losses_ < kMaxConfirmProbes) return false;
      confirming_ = false;
      losses_ = 0;
      current_ = base_;
      restart(now + kBlackHoleRetryUs);
      return true;
    }
    if (++losses_ < kMaxProbes) return false;
    losses_ = 0;
    // Nothing larger got through: the search ends.
    if (++next_ >= candidates_.size()) settle(now);
    return false;
  }

  // Datagrams of the current size are lost persistently: confirm the size with probes of it.
  void on_black_hole(uint64_t now) {
    if (current_ == base_ || confirming_) return;
    confirming_ = true;
    confirm_from_ = id_ + 1;  // only answers to probes sent from now on confirm
    in_flight_ = 0;
    losses_ = 0;
    candidates_.assign(1, current_);
    next_ = 0;
    search_at_ = now;
  }

  uint64_t probes_sent() const { return probes_sent_; }
  uint64_t probes_lost() const { return probes_lost_; }

 private:
  // Ends a search (or a confirmation) at the current size; below max, the next starts after the
  // raise interval.
  void settle(uint64_t now) {
    confirming_ = false;
    in_flight_ = 0;
    losses_ = 0;
    candidates_.clear();
    next_ = 0;
    if (current_ < max_) restart(now + kRaiseIntervalUs);
  }

  // Candidates above the current size, largest first: max itself, then the plateaus below it
  // (less the overhead).
  void restart(uint64_t at) {
    static constexpr uint32_t kPlateaus[] = {
        65488,  // the largest IPv6 UDP payload over loopback (65,536 - 40 - 8)
        16384,  //
        8952,   // 9000-byte jumbo frames, IPv6 headers
        4096,   //
        1452,   // 1500-byte Ethernet, IPv6 headers
        1280,   // IPv6's minimum link MTU
    };
    candidates_.clear();
    next_ = 0;
    search_at_ = at;
    if (max_ > current_) candidates_.push_back(max_);
    for (uint32_t size : kPlateaus) {
      if (size <= overhead_) continue;
      const uint32_t own = size - overhead_;
      if (own > current_ && own < max_) candidates_.push_back(own);
    }
  }

  uint32_t base_;
  uint32_t max_;
  uint32_t current_;
  uint32_t overhead_;
  std::vector<uint32_t> candidates_;
  size_t next_ = 0;
  uint64_t search_at_ = 0;
  uint32_t in_flight_ = 0;  // size of the probe in flight, 0 if none
  // The latest probes sent, by id: an answer must name one of them and its size.
  struct Probe {
    uint32_t id = 0;
    uint32_t size = 0;
  };
  static constexpr uint32_t kRecent = 8;
  Probe recent_[kRecent];
  uint64_t deadline_ = 0;
  uint32_t id_ = 0;
  uint32_t losses_ = 0;
  bool confirming_ = false;  // probing the current size after persistent congestion
  uint32_t confirm_from_ = 0;  // the first probe id of the confirmation
  uint64_t probes_sent_ = 0;
  uint64_t probes_lost_ = 0;
};

}  // namespace hybridwire::reliable
