// A byte budget for what a receiver buffers on behalf of its peer. An endpoint has its own; a
// server gives all its endpoints a shared parent so that the total is bounded as well.
//
// The shared total is divided fairly among the endpoints that hold memory in it. With T the
// total, U what is in use and n the endpoints holding memory, the asking one included, the fair
// share is S = T / (n + 1): one share is kept for an endpoint that holds nothing yet. A charge
// that leaves the asker within S is granted while the total has room (U + bytes <= T); a charge
// beyond S only while a whole share stays free after it (U + bytes + S <= T). So an endpoint goes
// beyond its share only into room that nobody within theirs is using, and endpoints that fill their
// shares leave one share free for the next. What was granted is kept until it is given back (its
// message is delivered, or evicted when it stops making progress: reassembly.h), so holdings
// granted while fewer endpoints held memory can exceed a share that has since shrunk, for as long
// as their message takes. O(1) a charge.
#pragma once
#include <cstdint>

namespace hybridwire::reliable {

class MemoryBudget {
 public:
  explicit MemoryBudget(uint64_t limit, MemoryBudget* parent = nullptr)
      : limit_(limit), parent_(parent) {}
  // Gives back to the parent whatever is still charged here.
  ~MemoryBudget() {
    if (parent_ != nullptr && used_ > 0) parent_->give_back(used_, true);
  }
  MemoryBudget(const MemoryBudget&) = delete;
  MemoryBudget& operator=(const MemoryBudget&) = delete;

  bool try_charge(uint64_t bytes) {
    if (bytes > limit_ - used_) return false;
    if (parent_ != nullptr && !parent_->grant(used_, bytes)) return false;
    used_ += bytes;
    return true;
  }
  void release(uint64_t bytes) {
    if (bytes > used_) bytes = used_;
    if (bytes == 0) return;
    used_ -= bytes;
    if (parent_ != nullptr) parent_->give_back(bytes, used_ == 0);
  }
  uint64_t used() const { return used_; }
  uint64_t limit() const { return limit_; }
  // As a shared budget: the endpoints holding memory in it, and the charges it refused.
  uint64_t holders() const { return holders_; }
  uint64_t refused() const { return refused_; }

 private:
  // As a shared budget: `bytes` more for an endpoint holding `held`, under the fair-share rule.
  bool grant(uint64_t held, uint64_t bytes) {
    const uint64_t holders = holders_ + (held == 0 ? 1 : 0);
    const uint64_t share = limit_ / (holders + 1);
    const uint64_t free = limit_ - used_;
    if (bytes > free || (held + bytes > share && share > free - bytes)) {
      ++refused_;
      return false;
    }
    used_ += bytes;
    if (held == 0) ++holders_;
    return true;
  }
  void give_back(uint64_t bytes, bool emptied) {
    used_ -= bytes > used_ ? used_ : bytes;
    if (emptied && holders_ > 0) --holders_;
  }

  uint64_t limit_;
  uint64_t used_ = 0;
  uint64_t holders_ = 0;
  uint64_t refused_ = 0;
  MemoryBudget* parent_;
};

}  // namespace hybridwire::reliable
