// What a receiver holds for its peer, least recently progressed first, so that what has stopped
// making progress is found at the front in O(1): a partial message progresses when a fragment of
// it arrives, a whole message held for order when it is stored (it waits only for the gap before
// it). An intrusive doubly linked list over the items of a vector, by index: each item has
// `ProgressLinks links` and `uint64_t progressed`.
#pragma once
#include <cstdint>
#include <vector>

namespace hybridwire::reliable {

struct ProgressLinks {
  static constexpr uint32_t kNone = UINT32_MAX;
  uint32_t previous = kNone;
  uint32_t next = kNone;
  bool listed = false;
};

class ProgressList {
 public:
  static constexpr uint32_t kNone = ProgressLinks::kNone;

  // Records that item `id` progressed at `now`: it moves to the back.
  template <typename Item>
  void touch(std::vector<Item>& items, uint32_t id, uint64_t now) {
    remove(items, id);
    Item& item = items[id];
    item.progressed = now;
    item.links.previous = back_;
    item.links.next = kNone;
    item.links.listed = true;
    if (back_ == kNone) {
      front_ = id;
    } else {
      items[back_].links.next = id;
    }
    back_ = id;
  }

  template <typename Item>
  void remove(std::vector<Item>& items, uint32_t id) {
    ProgressLinks& links = items[id].links;
    if (!links.listed) return;
    if (links.previous == kNone) {
      front_ = links.next;
    } else {
      items[links.previous].links.next = links.next;
    }
    if (links.next == kNone) {
      back_ = links.previous;
    } else {
      items[links.next].links.previous = links.previous;
    }
    links = ProgressLinks();
  }

  // The item that progressed longest ago, or kNone.
  uint32_t oldest() const { return front_; }
  bool empty() const { return front_ == kNone; }
  void clear() { front_ = back_ = kNone; }

 private:
  uint32_t front_ = kNone;
  uint32_t back_ = kNone;
};

}  // namespace hybridwire::reliable
