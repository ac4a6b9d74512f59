// Reassembly of fragmented messages, for every sequence space.
//
// A message of `count` fragments occupies sequences first .. first + count - 1 of its space; a
// fragment names its index, so first = seq - index keys the message. The whole message buffer is
// allocated (and charged to the budget) when its first fragment arrives, and each fragment is
// copied to its place: once, whatever the arrival order.
//
// Memory: unreliable partial messages expire after a timeout and are evicted, oldest first, when
// something needs their room; a fragment that still does not fit is refused (and, if reliable,
// not acknowledged, so the sender retransmits it later). Reliable partial messages are never
// evicted to make room: their fragments were acknowledged, and the sender's credit (it lets no more
// than the budget be outstanding) guarantees they fit this endpoint's own budget. A shared parent
// budget can still refuse them while other endpoints hold the room (memory-budget.h); they are
// then retransmitted until it frees. But one that stops making progress (no fragment of it for the
// timeout) would hold its memory for ever: stalled() says so, and its endpoint fails rather than
// drop what it acknowledged (endpoint.h).
#pragma once
#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <unordered_map>
#include <vector>

#include "core/reliable/memory-budget.h"
#include "core/reliable/progress-list.h"
#include "core/reliable/sequence.h"
#include "core/reliable/wire.h"

namespace hybridwire::reliable {

struct Assembly {
  std::unique_ptr<uint8_t[]> data;
  uint64_t created = 0;
  uint64_t charge = 0;
  uint32_t space = 0;
  uint32_t first = 0;
  uint32_t length = 0;
  uint32_t count = 0;
  uint32_t fragment_size = 0;  // of every fragment but the last; 0 until one has arrived
  uint32_t last_size = 0;      // 0 until the last fragment has arrived
  uint32_t received = 0;
  uint32_t generation = 0;
  uint64_t progressed = 0;  // reliable: when its last fragment arrived
  ProgressLinks links;      // reliable: its place in the reassembly's progress list
  Mode mode = Mode::kUnreliable;
  uint8_t channel = 0;
  uint8_t flags = 0;
  bool live = false;
};

class Reassembly {
 public:
  enum class Result { kIncomplete, kComplete, kMalformed, kOverflow };
  // The space id of unreliable messages.
  static constexpr uint32_t kUnreliableSpace = kReliableSpaces;

  Reassembly(MemoryBudget* budget, uint64_t timeout_us) : budget_(budget), timeout_(timeout_us) {}

  // Adds a fragment whose sequence is new in its space. On kComplete, *id names the assembly: the
  // caller delivers it (now, or when order allows) and then calls release().
  Result add(uint32_t space, uint32_t seq, const wire::FragmentPrefix& prefix, const uint8_t* data,
             size_t size, Mode mode, uint8_t channel, uint8_t flags, uint64_t now, uint32_t* id);
  static constexpr uint32_t kNotFound = UINT32_MAX;
  // The id of the assembly of the message starting at `first` in `space`, or kNotFound.
  uint32_t find(uint32_t space, uint32_t first) const;
  Assembly& get(uint32_t id) { return assemblies_[id]; }
  void release(uint32_t id);

  // Charges `bytes` to the budget, evicting unreliable partial messages if that makes room.
  bool charge(uint64_t bytes);

  // Drops unreliable partial messages older than the timeout; returns how many.
  uint64_t expire(uint64_t now);
  // When the oldest unreliable partial message expires; UINT64_MAX if there is none.
  uint64_t next_expiry();

  // Whether a reliable message (partial, or whole and held for order) has had no fragment for the
  // timeout by `now`, and from when one may have; UINT64_MAX if none is held.
  bool stalled(uint64_t now) const { return next_stall() <= now; }
  uint64_t next_stall() const;
  // Releases every message held (the endpoint has failed or closed).
  void clear();
  uint64_t timeout() const { return timeout_; }

  uint64_t evicted() const { return evicted_; }
  size_t partial_count() const { return index_.size(); }

 private:
  static uint64_t key(uint32_t space, uint32_t first) { return (uint64_t{space} << 32) | first; }
  bool evict_oldest_unreliable();
  void pop_stale();

  MemoryBudget* budget_;
  uint64_t timeout_;
  std::vector<Assembly> assemblies_;
  std::vector<uint32_t> free_;
  std::unordered_map<uint64_t, uint32_t> index_;
  // Unreliable assemblies in creation order, as (id, generation); entries whose assembly has
  // since been released are skipped when they reach the front.
  std::deque<std::pair<uint32_t, uint32_t>> unreliable_order_;
  // Reliable assemblies, least recently progressed first.
  ProgressList reliable_progress_;
  uint64_t evicted_ = 0;
};

}  // namespace hybridwire::reliable
