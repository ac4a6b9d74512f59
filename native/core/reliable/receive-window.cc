#include "core/reliable/receive-window.h"

#include <algorithm>

#include "core/bits.h"
#include "core/frame-codec.h"
#include "core/reliable/wire.h"

namespace hybridwire::reliable {

ReceiveWindow::Arrival ReceiveWindow::classify(uint32_t seq) const {
  int32_t distance = seq_diff(seq, next_expected_);
  if (distance < 0) return Arrival::kDuplicate;
  if (distance == 0) return Arrival::kNext;
  if (static_cast<uint32_t>(distance) >= span_) return Arrival::kBeyond;
  if (static_cast<uint32_t>(distance) < capacity_ && taken(seq)) return Arrival::kDuplicate;
  return Arrival::kAhead;
}

bool ReceiveWindow::grow(uint32_t needed, bool within_budget) {
  uint32_t capacity = capacity_ == 0 ? std::min(kInitialRing, span_) : capacity_;
  while (capacity < needed) capacity *= 2;
  const uint64_t extra = ring_bytes(capacity) - ring_bytes(capacity_);
  if (budget_ != nullptr) {
    if (within_budget && extra > budget_->limit - std::min(budget_->used, budget_->limit)) return false;
    budget_->used += extra;
  }
  const uint32_t mask = capacity - 1;
  std::unique_ptr<ReceiveSlot[]> slots(new ReceiveSlot[capacity]);
  std::unique_ptr<uint64_t[]> bits(new uint64_t[capacity / 64]());
  // Everything held lies within the old ring's reach of the cumulative point.
  for (uint32_t i = 0; i < capacity_; ++i) {
    const uint32_t seq = next_expected_ + i;
    if (!taken(seq)) continue;
    slots[seq & mask] = slots_[seq & mask_];
    bits[(seq & mask) >> 6] |= uint64_t{1} << (seq & 63);
  }
  slots_ = std::move(slots);
  bits_ = std::move(bits);
  capacity_ = capacity;
  mask_ = mask;
  return true;
}

void ReceiveWindow::free_ring() {
  if (capacity_ == 0) return;
  if (budget_ != nullptr) budget_->used -= std::min(budget_->used, ring_bytes(capacity_));
  slots_.reset();
  bits_.reset();
  capacity_ = 0;
  mask_ = 0;
}

bool ReceiveWindow::reserve(uint32_t seq) {
  const uint32_t distance = seq - next_expected_;
  return distance < capacity_ || grow(distance + 1, true);
}

ReceiveSlot& ReceiveWindow::slot(uint32_t seq) {
  const uint32_t distance = seq - next_expected_;
  // Reserved by the caller; were it not, the ring would rather outgrow its budget than let an
  // index leave it.
  if (distance >= capacity_) grow(distance + 1, false);
  bits_[(seq & mask_) >> 6] |= uint64_t{1} << (seq & 63);
  return slots_[seq & mask_];
}

ReceiveSlot* ReceiveWindow::waiting() {
  if (capacity_ == 0 || !taken(next_expected_)) return nullptr;
  return &slots_[next_expected_ & mask_];
}

void ReceiveWindow::advance() {
  if (capacity_ != 0 && taken(next_expected_)) {
    slots_[next_expected_ & mask_] = ReceiveSlot();
    bits_[(next_expected_ & mask_) >> 6] &= ~(uint64_t{1} << (next_expected_ & 63));
  }
  ++next_expected_;
  // Nothing held past the point any more: a ring grown past its first size is given back.
  if (capacity_ > kInitialRing && !has_gap()) free_ring();
}

uint32_t ReceiveWindow::scan(uint32_t from, uint32_t end, bool want) const {
  uint32_t seq = from;
  while (seq != end) {
    const uint32_t bit = seq & 63;
    uint64_t word = bits_[(seq & mask_) >> 6] >> bit;
    if (!want) word = ~word;
    // Bits past the word's end (shifted in as zeros) are not sequences of this word.
    if (bit != 0) word &= ~uint64_t{0} >> bit;
    if (word != 0) {
      const uint32_t found = seq + count_trailing_zeros(word);
      return seq_diff(found, end) < 0 ? found : end;
    }
    const uint32_t next = seq + (64 - bit);
    if (seq_diff(next, end) >= 0) return end;
    seq = next;
  }
  return end;
}

void ReceiveWindow::on_arrival(uint32_t seq, uint64_t now) {
  if (!has_largest_ || seq_diff(seq, largest_) > 0) {
    has_largest_ = true;
    largest_ = seq;
    largest_time_ = now;
    largest_reported_ = false;
  }
}

size_t ReceiveWindow::write_ack(uint8_t* out, size_t capacity, uint8_t channel,
                                uint8_t header_flags, uint64_t now, bool* complete) {
  constexpr size_t kFixed = frame::kHeaderSize + wire::kAckFixedSize;
  *complete = true;
  if (capacity < kFixed) return 0;
  uint8_t* payload = out + frame::kHeaderSize;
  uint8_t* range = payload + wire::kAckFixedSize;
  size_t ranges = 0;
  if (capacity_ != 0 && has_gap()) {
    // Runs of taken slots in (next_expected, largest], as (gap, length) pairs.
    uint32_t end = largest_ + 1;
    uint32_t position = next_expected_;  // the first sequence not yet reported
    uint32_t seq = next_expected_ + 1;
    while (seq != end) {
      seq = scan(seq, end, true);
      if (seq == end) break;
      uint32_t start = seq;
      seq = scan(seq, end, false);
      if (ranges == wire::kMaxAckRanges || kFixed + (ranges + 1) * wire::kAckRangeSize > capacity) {
        *complete = false;
        break;
      }
      wire::store16(range, start - position);
      wire::store16(range + 2, seq - start);
      range += wire::kAckRangeSize;
      ++ranges;
      position = seq;
    }
  }
  uint32_t delay = wire::kAckDelayOmitted;
  if (*complete && !largest_reported_) {
    uint64_t elapsed = now > largest_time_ ? now - largest_time_ : 0;
    delay = elapsed >= wire::kAckDelayOmitted ? wire::kAckDelayOmitted - 1 : static_cast<uint32_t>(elapsed);
    largest_reported_ = true;
  }
  wire::store32(payload, delay);
  wire::store16(payload + 4, static_cast<uint32_t>(ranges));
  size_t payload_length = wire::kAckFixedSize + ranges * wire::kAckRangeSize;
  frame::Header header;
  header.type = kTypeAck;
  header.flags = header_flags;
  header.channel = channel;
  header.sequence = next_expected_;
  frame::write_header(header, payload, payload_length, out);
  return frame::kHeaderSize + payload_length;
}

}  // namespace hybridwire::reliable
