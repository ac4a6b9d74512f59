// The reliable endpoint: construction, the datagrams poll_transmit builds (acknowledgements and
// path MTU probes included), what acknowledgements and timers tell the sender, and statistics.
// Sending and receiving messages are endpoint-send.cc and endpoint-receive.cc.
#include "core/reliable/endpoint.h"

#include <algorithm>
#include <cstring>

namespace hybridwire::reliable {

// Applies what a space's send window reports to the endpoint: congestion control, message
// lifetimes and the retransmission queue.
class Endpoint::Listener final : public FlightListener {
 public:
  Listener(Endpoint& endpoint, uint32_t space, uint64_t now)
      : endpoint_(endpoint), space_(space), now_(now) {}

  void on_acked(FlightRecord& record, bool was_in_flight) override {
    if (was_in_flight) endpoint_.congestion_.on_acked(record.bytes, record.sent_time, now_);
    OutMessage& message = endpoint_.messages_[record.message];
    if (message.unacked > 0 && --message.unacked == 0 && message.mode == Mode::kReliableUnordered) {
      endpoint_.release_message(record.message);
    }
  }

  void on_lost(FlightRecord& record) override {
    record.loss_round = endpoint_.congestion_.on_lost(record.bytes, record.sent_time, now_);
    endpoint_.reorder_.on_loss(record.loss_round);
    ++endpoint_.stats_.lost;
    if (!record.queued) {
      record.queued = true;
      endpoint_.lost_.push_back({space_, record.seq});
    }
  }

  void on_spurious_loss(FlightRecord& record) override {
    endpoint_.congestion_.on_spurious_loss(record.bytes, record.loss_round);
    endpoint_.reorder_.on_spurious_loss(now_, endpoint_.rtt_.smoothed());
    ++endpoint_.stats_.spurious_losses;
  }

  // An ordered message stays buffered (and counted against the peer's credit) until the
  // cumulative point passes its last fragment: until then the peer may be holding it back.
  // An unordered one was released when its last fragment was acknowledged, and its handle may
  // already name another message.
  void on_passed(FlightRecord& record) override {
    if (space_ >= kChannels) return;
    const OutMessage& message = endpoint_.messages_[record.message];
    if (record.fragment + 1 == message.count) endpoint_.release_message(record.message);
  }

 private:
  Endpoint& endpoint_;
  uint32_t space_;
  uint64_t now_;
};

Endpoint::Endpoint(const Options& options)
    : mtu_(std::clamp(options.mtu, kMinMtu, kMaxMtu)),
      span_(clamp_span(options.span)),
      window_(std::max<uint32_t>(options.window, 1)),
      send_buffer_bytes_(options.send_buffer_bytes),
      reassembly_bytes_(options.reassembly_bytes),
      max_ack_delay_(options.max_ack_delay_us),
      token_(),
      fragmenter_(mtu_),
      path_mtu_(mtu_, std::clamp(options.max_mtu, mtu_, kMaxMtu), options.wire_overhead),
      largest_cut_(mtu_),
      rtt_(std::max<uint64_t>(options.min_rto_us, 1), options.max_rto_us, options.max_ack_delay_us),
      congestion_(mtu_),
      budget_(options.reassembly_bytes, options.shared_budget),
      reassembly_(&budget_, options.reassembly_timeout_us),
      rows_() {
  std::memcpy(token_, options.token, kTokenSize);
  // Room for two windows' rings at the full span, and never less than 1 MiB.
  ring_budget_.limit = std::max<uint64_t>(uint64_t{1} << 20, 2 * (uint64_t{span_} * (sizeof(ReceiveSlot) + 1)));
}

size_t Endpoint::write_acks(uint64_t now, uint8_t* out, size_t position) {
  // After a frame larger than the current size (see poll_transmit), acks wait for the next one.
  if (position >= mtu_) return position;
  size_t done = 0;
  for (; done < ack_list_.size(); ++done) {
    const uint32_t space = ack_list_[done];
    ReceiveSpace& receive = *receive_spaces_[space];
    const uint8_t flags = flag::kReliable | (space >= kChannels ? flag::kUnordered : 0);
    bool complete = true;
    size_t written = receive.window.write_ack(out + position, mtu_ - position,
                                              static_cast<uint8_t>(space % kChannels), flags, now,
                                              &complete);
    // A truncated ack only in a datagram of its own; otherwise wait for the next datagram.
    if (written == 0 || (!complete && position > kTokenSize)) break;
    position += written;
    receive.ack_listed = false;
  }
  ack_list_.erase(ack_list_.begin(), ack_list_.begin() + static_cast<std::ptrdiff_t>(done));
  if (ack_list_.empty()) {
    ack_immediate_ = false;
    ack_armed_ = false;
    eliciting_datagrams_ = 0;
  } else {
    ack_immediate_ = true;
  }
  return position;
}

size_t Endpoint::poll_transmit(uint64_t now, uint8_t* out, size_t capacity) {
  last_was_probe_ = false;
  if (capacity < datagram_limit()) return 0;
  std::memcpy(out, token_, kTokenSize);
  // A path MTU probe due now goes alone, padded to the size it tries; it is not a message (not
  // retransmitted, not congestion controlled) and its loss only says the size is too large.
  if (const uint32_t probe = path_mtu_.probe_due(now); probe != 0) {
    // Generous: its answer comes at once, but a late one is taken anyway (path-mtu.h).
    const uint64_t timeout = std::max(2 * rtt_.smoothed() + 4 * rtt_.variance(), PathMtu::kMinProbeTimeoutUs);
    frame::Header header;
    header.type = kTypeMtuProbe;
    header.sequence = path_mtu_.on_probe_sent(now + timeout);
    const size_t padding = probe - kTokenSize - frame::kHeaderSize;
    uint8_t* payload = out + kTokenSize + frame::kHeaderSize;
    std::memset(payload, 0, padding);
    frame::write_header(header, payload, padding, out + kTokenSize);
    ++stats_.datagrams_sent;
    stats_.bytes_sent += probe;
    last_was_probe_ = true;
    return probe;
  }
  const uint64_t datagram = next_datagram_;
  size_t position = write_mtu_acks(out, kTokenSize);
  const size_t data_limit = ack_list_.empty() ? mtu_ : mtu_ - kAckReserve;
  for (;;) {
    // A frame cut for a larger datagram size than the current one (the size fell back) goes
    // first in a datagram of its own size.
    const size_t limit = position == kTokenSize ? std::max<size_t>(data_limit, largest_cut_) : data_limit;
    if (position >= limit) break;
    size_t written = write_data_frame(now, out + position, limit - position, datagram);
    if (written == 0) break;
    position += written;
  }
  const bool acks_due = !ack_list_.empty() && (ack_immediate_ || now >= ack_deadline_);
  if (!ack_list_.empty() && (position > kTokenSize || acks_due)) position = write_acks(now, out, position);
  if (position == kTokenSize) return 0;
  ++next_datagram_;
  ++stats_.datagrams_sent;
  stats_.bytes_sent += position;
  return position;
}

size_t Endpoint::write_mtu_acks(uint8_t* out, size_t position) {
  constexpr size_t kSize = frame::kHeaderSize + 4;
  size_t done = 0;
  for (; done < mtu_acks_.size() && position + kSize <= mtu_; ++done) {
    frame::Header header;
    header.type = kTypeMtuAck;
    header.sequence = mtu_acks_[done].first;
    uint8_t* payload = out + position + frame::kHeaderSize;
    wire::store32(payload, mtu_acks_[done].second);
    frame::write_header(header, payload, 4, out + position);
    position += kSize;
  }
  mtu_acks_.erase(mtu_acks_.begin(), mtu_acks_.begin() + static_cast<std::ptrdiff_t>(done));
  return position;
}

void Endpoint::set_mtu(uint32_t size) {
  mtu_ = size;
  fragmenter_ = Fragmenter(size);
  congestion_.set_max_datagram(size);
  largest_cut_ = std::max(largest_cut_, size);
}

void Endpoint::on_ack_frame(const frame::Header& header, const uint8_t* payload, uint64_t now) {
  const uint32_t space = (header.flags & flag::kUnordered) != 0 ? kChannels + header.channel : header.channel;
  SendSpace* source = send_spaces_[space].get();
  wire::Ack ack;
  AckOutcome outcome;
  Listener listener(*this, space, now);
  if ((header.flags & flag::kReliable) == 0 || source == nullptr ||
      !wire::read_ack(payload, header.length, header.sequence, span_, &ack) ||
      !source->window.on_ack(ack, now, rtt_.minimum(), listener, &outcome)) {
    ++stats_.drops_malformed;
    return;
  }
  if (outcome.rtt_sample) rtt_.on_sample(outcome.latest_rtt, ack.ack_delay_us);
  source->window.detect_lost(now, reorder_.loss_delay(rtt_), reorder_.packet_threshold(), listener);
}

// ---- Timers -----------------------------------------------------------------------------------

uint64_t Endpoint::next_deadline() {
  uint64_t deadline = kNoDeadline;
  if (!ack_list_.empty()) deadline = ack_immediate_ ? 0 : ack_deadline_;
  if (!probes_.empty() || !mtu_acks_.empty()) deadline = 0;
  deadline = std::min(deadline, path_mtu_.next_deadline());
  for (uint32_t space : used_send_spaces_) {
    const SendWindow& window = send_spaces_[space]->window;
    if (window.loss_time() != 0) deadline = std::min(deadline, window.loss_time());
    const FlightRecord* newest = window.newest_in_flight();
    if (newest != nullptr && !window.probe_pending) {
      bool single = newest == window.oldest_in_flight();
      deadline = std::min(deadline, newest->sent_time + rtt_.timeout(window.timeouts, single));
    }
  }
  deadline = std::min(deadline, reassembly_.next_expiry());
  if (failed_) return deadline;
  deadline = std::min(deadline, reassembly_.next_stall());
  const uint32_t stored = stored_progress_.oldest();
  if (stored != ProgressList::kNone) deadline = std::min(deadline, stored_[stored].progressed + reassembly_.timeout());
  return deadline;
}

void Endpoint::on_timeout(uint64_t now) {
  if (path_mtu_.on_timeout(now)) {
    // A black hole confirmed: back to the base size, and a window of two datagrams of it (the
    // persistent congestion that raised the suspicion has cut the threshold already).
    set_mtu(path_mtu_.current());
    congestion_.collapse();
  }
  for (uint32_t space : used_send_spaces_) {
    SendWindow& window = send_spaces_[space]->window;
    Listener listener(*this, space, now);
    if (window.loss_time() != 0 && window.loss_time() <= now) {
      window.detect_lost(now, reorder_.loss_delay(rtt_), reorder_.packet_threshold(), listener);
    }
    const FlightRecord* newest = window.newest_in_flight();
    if (newest == nullptr || window.probe_pending ||
        newest->sent_time + rtt_.timeout(window.timeouts, newest == window.oldest_in_flight()) > now) {
      continue;
    }
    // Tail-loss probe, then retransmission timeouts: send the oldest frame in flight again.
    // Nothing is declared lost (the probe's ack will tell what was); repeated timeouts back off
    // and, at the threshold, count as persistent congestion.
    ++stats_.timeouts;
    if (++window.timeouts == kPersistentCongestionTimeouts) {
      congestion_.on_persistent_congestion(now);
      // Perhaps a black hole for datagrams of the size discovery chose: probes of it will tell.
      path_mtu_.on_black_hole(now);
    }
    window.probe_pending = true;
    probes_.push_back({space, window.oldest_in_flight()->seq});
  }
  stats_.drops_expired += reassembly_.expire(now);
  if (failed_) return;
  const uint32_t stored = stored_progress_.oldest();
  if (reassembly_.stalled(now) ||
      (stored != ProgressList::kNone && stored_[stored].progressed + reassembly_.timeout() <= now)) {
    fail();
  }
}

void Endpoint::fail() {
  failed_ = true;
  reassembly_.clear();
  for (uint32_t stored = stored_progress_.oldest(); stored != ProgressList::kNone; stored = stored_progress_.oldest()) {
    release_stored(stored);
  }
  // What it received before is not acknowledged any more: the peer learns of the failure from
  // the owner (endpoint.h), not from acknowledgements of messages that will never be delivered.
  ack_list_.clear();
  ack_immediate_ = false;
  ack_armed_ = false;
}

Stats Endpoint::stats() const {
  Stats stats = stats_;
  stats.srtt_us = rtt_.smoothed();
  stats.rttvar_us = rtt_.variance();
  stats.min_rtt_us = rtt_.minimum();
  stats.rto_us = rtt_.rto();
  stats.cwnd = congestion_.window();
  stats.bytes_in_flight = congestion_.bytes_in_flight();
  stats.messages_in_flight = messages_in_flight_;
  stats.send_buffer_bytes = send_buffered_;
  stats.reassembly_bytes = budget_.used();
  stats.drops_reassembly_overflow += reassembly_.evicted();
  stats.path_mtu = mtu_;
  stats.mtu_probes_sent = path_mtu_.probes_sent();
  stats.mtu_probes_lost = path_mtu_.probes_lost();
  return stats;
}

}  // namespace hybridwire::reliable
