#include "core/reliable/receive-window.h"

#include "core/frame-codec.h"
#include "core/reliable/wire.h"

namespace hybridwire::reliable {

ReceiveWindow::Arrival ReceiveWindow::classify(uint32_t seq) const {
  int32_t distance = seq_diff(seq, next_expected_);
  if (distance < 0) return Arrival::kDuplicate;
  if (distance == 0) return Arrival::kNext;
  if (static_cast<uint32_t>(distance) >= kMaxSpan) return Arrival::kBeyond;
  if (slots_ && slots_[seq & kSpanMask].state != SlotState::kEmpty) return Arrival::kDuplicate;
  return Arrival::kAhead;
}

ReceiveSlot& ReceiveWindow::slot(uint32_t seq) {
  if (!slots_) slots_.reset(new ReceiveSlot[kMaxSpan]);
  return slots_[seq & kSpanMask];
}

ReceiveSlot* ReceiveWindow::waiting() {
  if (!slots_) return nullptr;
  ReceiveSlot& slot = slots_[next_expected_ & kSpanMask];
  return slot.state == SlotState::kEmpty ? nullptr : &slot;
}

void ReceiveWindow::advance() {
  if (slots_) slots_[next_expected_ & kSpanMask] = ReceiveSlot();
  ++next_expected_;
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
  if (slots_ && has_gap()) {
    // Runs of occupied slots in (next_expected, largest], as (gap, length) pairs.
    uint32_t end = largest_ + 1;
    uint32_t position = next_expected_;  // the first sequence not yet reported
    uint32_t seq = next_expected_ + 1;
    while (seq != end) {
      if (slots_[seq & kSpanMask].state == SlotState::kEmpty) {
        ++seq;
        continue;
      }
      uint32_t start = seq;
      while (seq != end && slots_[seq & kSpanMask].state != SlotState::kEmpty) ++seq;
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
