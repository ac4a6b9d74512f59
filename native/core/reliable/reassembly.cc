#include "core/reliable/reassembly.h"

#include <cstring>
#include <limits>

namespace hybridwire::reliable {

Reassembly::Result Reassembly::add(uint32_t space, uint32_t seq, const wire::FragmentPrefix& prefix,
                                   const uint8_t* data, size_t size, Mode mode, uint8_t channel,
                                   uint8_t flags, uint64_t now, uint32_t* id) {
  const uint64_t length = prefix.message_length;
  const uint64_t count = prefix.count;
  const bool last = prefix.index + 1 == prefix.count;
  // What one fragment can tell on its own: every fragment carries at least one byte; the others
  // all carry F bytes with (count - 1) * F < length <= count * F.
  if (size == 0) return Result::kMalformed;
  if (last ? size > length - (count - 1) : ((count - 1) * size >= length || count * size < length)) {
    return Result::kMalformed;
  }
  const uint32_t first = seq - prefix.index;
  Assembly* assembly;
  uint32_t handle;
  auto found = index_.find(key(space, first));
  if (found != index_.end()) {
    handle = found->second;
    assembly = &assemblies_[handle];
    if (assembly->length != length || assembly->count != count) return Result::kMalformed;
    if (last) {
      if (assembly->fragment_size != 0 && (count - 1) * assembly->fragment_size + size != length) {
        return Result::kMalformed;
      }
    } else {
      if (assembly->fragment_size != 0 && assembly->fragment_size != size) return Result::kMalformed;
      if (assembly->last_size != 0 && (count - 1) * size + assembly->last_size != length) {
        return Result::kMalformed;
      }
    }
  } else {
    uint64_t charge = length + kMessageOverhead;
    if (!this->charge(charge)) return Result::kOverflow;
    if (free_.empty()) {
      handle = static_cast<uint32_t>(assemblies_.size());
      assemblies_.emplace_back();
    } else {
      handle = free_.back();
      free_.pop_back();
    }
    assembly = &assemblies_[handle];
    assembly->data.reset(new uint8_t[length]);
    assembly->created = now;
    assembly->charge = charge;
    assembly->space = space;
    assembly->first = first;
    assembly->length = static_cast<uint32_t>(length);
    assembly->count = static_cast<uint32_t>(count);
    assembly->fragment_size = 0;
    assembly->last_size = 0;
    assembly->received = 0;
    assembly->mode = mode;
    assembly->channel = channel;
    assembly->flags = flags;
    assembly->live = true;
    index_.emplace(key(space, first), handle);
    if (mode == Mode::kUnreliable) unreliable_order_.emplace_back(handle, assembly->generation);
  }
  if (mode != Mode::kUnreliable) reliable_progress_.touch(assemblies_, handle, now);
  uint64_t offset;
  if (last) {
    assembly->last_size = static_cast<uint32_t>(size);
    offset = length - size;
  } else {
    assembly->fragment_size = static_cast<uint32_t>(size);
    offset = uint64_t{prefix.index} * size;
  }
  std::memcpy(assembly->data.get() + offset, data, size);
  *id = handle;
  return ++assembly->received == assembly->count ? Result::kComplete : Result::kIncomplete;
}

uint32_t Reassembly::find(uint32_t space, uint32_t first) const {
  auto found = index_.find(key(space, first));
  return found == index_.end() ? kNotFound : found->second;
}

void Reassembly::release(uint32_t id) {
  Assembly& assembly = assemblies_[id];
  if (!assembly.live) return;
  index_.erase(key(assembly.space, assembly.first));
  reliable_progress_.remove(assemblies_, id);
  budget_->release(assembly.charge);
  assembly.data.reset();
  assembly.live = false;
  ++assembly.generation;
  free_.push_back(id);
}

bool Reassembly::charge(uint64_t bytes) {
  while (!budget_->try_charge(bytes)) {
    if (!evict_oldest_unreliable()) return false;
  }
  return true;
}

void Reassembly::pop_stale() {
  while (!unreliable_order_.empty()) {
    const Assembly& assembly = assemblies_[unreliable_order_.front().first];
    if (assembly.live && assembly.generation == unreliable_order_.front().second) return;
    unreliable_order_.pop_front();
  }
}

bool Reassembly::evict_oldest_unreliable() {
  pop_stale();
  if (unreliable_order_.empty()) return false;
  uint32_t id = unreliable_order_.front().first;
  unreliable_order_.pop_front();
  release(id);
  ++evicted_;
  return true;
}

uint64_t Reassembly::expire(uint64_t now) {
  uint64_t expired = 0;
  for (pop_stale(); !unreliable_order_.empty(); pop_stale()) {
    uint32_t id = unreliable_order_.front().first;
    if (assemblies_[id].created + timeout_ > now) break;
    unreliable_order_.pop_front();
    release(id);
    ++expired;
  }
  return expired;
}

uint64_t Reassembly::next_stall() const {
  const uint32_t oldest = reliable_progress_.oldest();
  if (oldest == ProgressList::kNone) return std::numeric_limits<uint64_t>::max();
  return assemblies_[oldest].progressed + timeout_;
}

void Reassembly::clear() {
  for (uint32_t id = 0; id < assemblies_.size(); ++id) release(id);
  unreliable_order_.clear();
  reliable_progress_.clear();
}

uint64_t Reassembly::next_expiry() {
  pop_stale();
  if (unreliable_order_.empty()) return std::numeric_limits<uint64_t>::max();
  return assemblies_[unreliable_order_.front().first].created + timeout_;
}

}  // namespace hybridwire::reliable
