#include "core/reliable/send-window.h"

#include <algorithm>

namespace hybridwire::reliable {

FlightRecord& SendWindow::transmit_new(uint32_t message, uint32_t fragment, uint32_t bytes,
                                       uint64_t now, uint64_t datagram) {
  if (next_ - base_ >= capacity_) grow();
  FlightRecord& record = at(next_);
  record = FlightRecord();
  record.seq = next_;
  record.message = message;
  record.fragment = fragment;
  record.bytes = bytes;
  record.sent_time = now;
  record.datagram = datagram;
  record.state = FlightState::kInFlight;
  record.transmissions = 1;
  link_newest(next_ & mask_);
  ++next_;
  return record;
}

void SendWindow::retransmit(FlightRecord& record, uint64_t now, uint64_t datagram) {
  if (record.state == FlightState::kInFlight) unlink(record);
  record.state = FlightState::kInFlight;
  record.sent_time = now;
  record.datagram = datagram;
  if (record.transmissions < 255) ++record.transmissions;
  link_newest(record.seq & mask_);
}

FlightRecord* SendWindow::find(uint32_t seq) {
  if (!records_ || seq - base_ >= next_ - base_) return nullptr;
  return &at(seq);
}

void SendWindow::grow() {
  const uint32_t capacity = capacity_ == 0 ? std::min(kInitialRing, span_) : capacity_ * 2;
  const uint32_t mask = capacity - 1;
  std::unique_ptr<FlightRecord[]> records(new FlightRecord[capacity]);
  // A link names a ring index; the record there knows its sequence, and so its new index.
  auto relink = [&](uint32_t index) { return index == FlightRecord::kNoLink ? index : records_[index].seq & mask; };
  for (uint32_t seq = base_; seq != next_; ++seq) {
    FlightRecord& moved = records[seq & mask];
    moved = records_[seq & mask_];
    moved.prev = relink(moved.prev);
    moved.next = relink(moved.next);
  }
  head_ = relink(head_);
  tail_ = relink(tail_);
  records_ = std::move(records);
  capacity_ = capacity;
  mask_ = mask;
}

void SendWindow::link_newest(uint32_t index) {
  FlightRecord& record = records_[index];
  record.prev = tail_;
  record.next = FlightRecord::kNoLink;
  if (tail_ == FlightRecord::kNoLink) {
    head_ = index;
  } else {
    records_[tail_].next = index;
  }
  tail_ = index;
}

void SendWindow::unlink(FlightRecord& record) {
  if (record.prev == FlightRecord::kNoLink) {
    head_ = record.next;
  } else {
    records_[record.prev].next = record.next;
  }
  if (record.next == FlightRecord::kNoLink) {
    tail_ = record.prev;
  } else {
    records_[record.next].prev = record.prev;
  }
  record.prev = record.next = FlightRecord::kNoLink;
}

void SendWindow::acknowledge(FlightRecord& record, uint64_t now, uint64_t min_rtt,
                             FlightListener& listener, AckOutcome* outcome) {
  if (record.state != FlightState::kInFlight && record.state != FlightState::kLost) return;
  bool was_in_flight = record.state == FlightState::kInFlight;
  const bool original_acked =
      (record.state == FlightState::kLost && record.transmissions == 1) ||
      (was_in_flight && record.transmissions == 2 && record.loss_round != 0 &&
       now - record.sent_time < min_rtt);
  if (original_acked) listener.on_spurious_loss(record);
  if (was_in_flight) unlink(record);
  record.state = FlightState::kAcked;
  // A retransmitted sequence acknowledged sooner than a round trip after its latest transmission
  // was delivered by an earlier one (RFC 8985 §6.2): its datagram number proves nothing about
  // what was sent before it, so it must not make those look lost.
  bool ambiguous = record.transmissions > 1 && now - record.sent_time < min_rtt;
  if (!ambiguous && (!has_largest_acked_ || record.datagram > largest_acked_datagram_)) {
    has_largest_acked_ = true;
    largest_acked_datagram_ = record.datagram;
  }
  ++outcome->newly_acked;
  listener.on_acked(record, was_in_flight);
}

bool SendWindow::on_ack(const wire::Ack& ack, uint64_t now, uint64_t min_rtt,
                        FlightListener& listener, AckOutcome* outcome) {
  *outcome = AckOutcome();
  if (seq_diff(ack.cumulative, next_) > 0) return false;
  for (size_t i = 0; i < ack.range_count; ++i) {
    if (seq_diff(ack.ranges[i].last, next_) >= 0) return false;
  }
  if (!records_) return true;
  uint32_t largest = ack.largest();
  // Karn's rule: a sample only from the largest acknowledged sequence, newly acknowledged now
  // and transmitted once, so that its send time is unambiguous.
  const FlightRecord* largest_record = find(largest);
  if (largest_record != nullptr && largest_record->state != FlightState::kAcked &&
      largest_record->transmissions == 1 && ack.ack_delay_us != wire::kAckDelayOmitted &&
      now >= largest_record->sent_time) {
    outcome->rtt_sample = true;
    outcome->latest_rtt = now - largest_record->sent_time;
  }
  // Everything below the cumulative point, then each range, clipped to [base, next).
  if (seq_diff(ack.cumulative, base_) > 0) {
    for (uint32_t seq = base_; seq != ack.cumulative; ++seq) acknowledge(at(seq), now, min_rtt, listener, outcome);
  }
  for (size_t i = 0; i < ack.range_count; ++i) {
    uint32_t first = seq_diff(ack.ranges[i].first, base_) < 0 ? base_ : ack.ranges[i].first;
    if (seq_diff(ack.ranges[i].last, first) < 0) continue;
    for (uint32_t seq = first;; ++seq) {
      acknowledge(at(seq), now, min_rtt, listener, outcome);
      if (seq == ack.ranges[i].last) break;
    }
  }
  if (outcome->newly_acked == 0) outcome->rtt_sample = false;
  while (base_ != next_ && at(base_).state == FlightState::kAcked) {
    FlightRecord& record = at(base_);
    listener.on_passed(record);
    record = FlightRecord();
    ++base_;
  }
  if (outcome->newly_acked > 0) timeouts = 0;
  return true;
}

void SendWindow::detect_lost(uint64_t now, uint64_t loss_delay, uint64_t packet_threshold,
                             FlightListener& listener) {
  loss_time_ = 0;
  if (!has_largest_acked_) return;
  uint32_t index = head_;
  while (index != FlightRecord::kNoLink) {
    FlightRecord& record = records_[index];
    uint32_t following = record.next;
    if (record.datagram > largest_acked_datagram_) break;
    bool by_time = now >= loss_delay && record.sent_time <= now - loss_delay;
    bool by_count = largest_acked_datagram_ - record.datagram >= packet_threshold;
    if (!by_time && !by_count) {
      loss_time_ = record.sent_time + loss_delay;
      break;
    }
    unlink(record);
    record.state = FlightState::kLost;
    listener.on_lost(record);
    index = following;
  }
}

}  // namespace hybridwire::reliable
