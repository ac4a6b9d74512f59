#include "core/reliable/wire.h"

namespace hybridwire::reliable::wire {

void write_fragment_prefix(uint8_t* out, const FragmentPrefix& prefix) {
  store32(out, prefix.message_length);
  store32(out + 4, prefix.index);
  store32(out + 8, prefix.count);
}

bool read_fragment_prefix(const uint8_t* data, size_t length, FragmentPrefix* prefix) {
  if (length < kFragmentPrefixSize) return false;
  prefix->message_length = load32(data);
  prefix->index = load32(data + 4);
  prefix->count = load32(data + 8);
  return prefix->count >= 2 && prefix->index < prefix->count &&
         prefix->message_length >= prefix->count;
}

bool read_ack(const uint8_t* payload, size_t length, uint32_t cumulative, uint32_t span, Ack* ack) {
  if (length < kAckFixedSize) return false;
  size_t count = load16(payload + 4);
  if (count > kMaxAckRanges || length != kAckFixedSize + count * kAckRangeSize) return false;
  ack->cumulative = cumulative;
  ack->ack_delay_us = load32(payload);
  ack->range_count = count;
  // Distance past the cumulative point, kept in 64 bits so that no input can wrap it.
  uint64_t position = 0;
  const uint8_t* range = payload + kAckFixedSize;
  for (size_t i = 0; i < count; ++i, range += kAckRangeSize) {
    uint32_t gap = load16(range);
    uint32_t run = load16(range + 2);
    if (gap == 0 || run == 0) return false;
    position += gap;
    uint64_t end = position + run;  // one past the range
    if (end > span) return false;
    ack->ranges[i].first = cumulative + static_cast<uint32_t>(position);
    ack->ranges[i].last = cumulative + static_cast<uint32_t>(end - 1);
    position = end;
  }
  return true;
}

}  // namespace hybridwire::reliable::wire
