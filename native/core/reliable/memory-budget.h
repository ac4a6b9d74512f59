// A byte budget for what a receiver buffers on behalf of its peer. An endpoint has its own; a
// server can give all its endpoints a shared parent so that the total is bounded as well.
#pragma once
#include <cstdint>

namespace hybridwire::reliable {

class MemoryBudget {
 public:
  explicit MemoryBudget(uint64_t limit, MemoryBudget* parent = nullptr)
      : limit_(limit), parent_(parent) {}
  // Gives back to the parent whatever is still charged here.
  ~MemoryBudget() {
    if (parent_ != nullptr) parent_->release(used_);
  }
  MemoryBudget(const MemoryBudget&) = delete;
  MemoryBudget& operator=(const MemoryBudget&) = delete;

  bool try_charge(uint64_t bytes) {
    if (bytes > limit_ - used_) return false;
    if (parent_ != nullptr && !parent_->try_charge(bytes)) return false;
    used_ += bytes;
    return true;
  }
  void release(uint64_t bytes) {
    if (bytes > used_) bytes = used_;
    used_ -= bytes;
    if (parent_ != nullptr) parent_->release(bytes);
  }
  uint64_t used() const { return used_; }
  uint64_t limit() const { return limit_; }

 private:
  uint64_t limit_;
  uint64_t used_ = 0;
  MemoryBudget* parent_;
};

}  // namespace hybridwire::reliable
