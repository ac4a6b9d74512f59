// Pooled buffers of the reliable endpoint: message buffers and stored messages keep a freed
// slot's vector capacity (up to a bound each, and a total) so that steady traffic allocates
// nothing.
#pragma once
#include <cstddef>
#include <cstdint>
#include <vector>

namespace hybridwire::reliable {

// Takes a slot of `items`, reusing a freed one when there is one.
template <typename Item>
uint32_t TakePooled(std::vector<Item>& items, std::vector<uint32_t>& free, uint64_t& pooled_bytes) {
  if (free.empty()) {
    items.emplace_back();
    return static_cast<uint32_t>(items.size() - 1);
  }
  uint32_t id = free.back();
  free.pop_back();
  pooled_bytes -= items[id].data.capacity();
  return id;
}

// Empties a freed slot's buffer, keeping its capacity for reuse unless that would pass the bounds.
inline void RecycleBuffer(std::vector<uint8_t>& data, uint64_t& pooled_bytes, uint64_t limit, size_t max_capacity) {
  size_t capacity = data.capacity();
  if (capacity > max_capacity || pooled_bytes + capacity > limit) {
    std::vector<uint8_t>().swap(data);
  } else {
    data.clear();
    pooled_bytes += capacity;
  }
}

}  // namespace hybridwire::reliable
