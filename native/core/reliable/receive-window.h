// The receiver's view of one reliable sequence space: the cumulative point (every sequence below
// it has been received and handled), what has arrived above it, and the acknowledgement owed.
//
// Above the cumulative point a ring of slots (made on the first out-of-order arrival, so in-order
// traffic never touches it, and doubled as arrivals land further ahead, up to the span) records
// arrivals: for an ordered space, what to deliver when the cumulative point reaches them; a
// bitmap beside it says which are taken, so that acknowledgements find runs a word at a time.
// Arrivals the span or more ahead are refused: an honest sender never sends them, and refusing
// keeps the reorder buffer bounded.
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>

#include "core/reliable/sequence.h"

namespace hybridwire::reliable {

// What the rings of an endpoint's receive windows may take together: a peer could otherwise make
// every space's ring grow to the span with one frame each (512 spaces of up to 1 MiB).
struct RingBudget {
  uint64_t used = 0;
  uint64_t limit = UINT64_MAX;
};

enum class SlotState : uint8_t { kEmpty = 0, kReceived, kStored, kFragment };

struct ReceiveSlot {
  uint32_t store = 0;           // kStored: the owner's handle of the buffered message
  uint32_t fragment_index = 0;  // kFragment: the data is in reassembly
  uint32_t fragment_count = 0;
  SlotState state = SlotState::kEmpty;
};

class ReceiveWindow {
 public:
  enum class Arrival { kNext, kAhead, kDuplicate, kBeyond };
  static constexpr uint32_t kInitialRing = 256;
  ReceiveWindow() = default;
  ReceiveWindow(const ReceiveWindow&) = delete;
  ReceiveWindow& operator=(const ReceiveWindow&) = delete;
  ~ReceiveWindow() { free_ring(); }
  // The span (clamped to a power of two within [kMinSpan, kMaxSpan]) and the budget the ring is
  // charged to (it must outlive the window); set before the first use.
  void set_span(uint32_t span, RingBudget* budget) {
    span_ = clamp_span(span);
    budget_ = budget;
  }

  Arrival classify(uint32_t seq) const;
  uint32_t next_expected() const { return next_expected_; }

  // Makes room in the ring for an arrival classified kAhead; false (and the frame should be
  // refused, unacknowledged) if the ring cannot grow that far within its budget.
  bool reserve(uint32_t seq);
  // The slot of an arrival classified kAhead and reserved, marked taken: the caller fills it in.
  ReceiveSlot& slot(uint32_t seq);
  // The slot at the cumulative point if something is waiting there, else nullptr.
  ReceiveSlot* waiting();
  // The sequence at the cumulative point has been handled: clear its slot and move past it.
  void advance();
  // Something above the cumulative point has arrived: there is a gap.
  bool has_gap() const { return has_largest_ && seq_diff(largest_, next_expected_) >= 0; }

  // Records an accepted arrival: the largest sequence received and when, for the ack delay.
  void on_arrival(uint32_t seq, uint64_t now);
  // Writes the ACK frame (header included) for this space into out, with as many ranges as fit in
  // `capacity` (up to wire::kMaxAckRanges). Returns its size, or 0 if not even a range-less ack
  // fits. *complete is false when ranges were left out.
  //
  // The ack delay is reported only the first time the largest sequence is acknowledged. Later
  // acks that repeat it (because an earlier one was lost) say "omitted": the sender would
  // otherwise take the time since that sequence was sent, possibly long ago, as a round trip.
  size_t write_ack(uint8_t* out, size_t capacity, uint8_t channel, uint8_t header_flags,
                   uint64_t now, bool* complete);

 private:
  bool taken(uint32_t seq) const { return (bits_[(seq & mask_) >> 6] >> (seq & 63)) & 1; }
  // The first sequence in [from, end) whose slot is taken (want true) or free (want false), or end.
  uint32_t scan(uint32_t from, uint32_t end, bool want) const;
  // Makes the ring hold at least `needed` slots past the cumulative point; false if that would
  // exceed the budget and `within_budget` is asked.
  bool grow(uint32_t needed, bool within_budget);
  // Frees the ring (nothing is held in it) and gives its bytes back.
  void free_ring();
  static uint64_t ring_bytes(uint32_t capacity) { return uint64_t{capacity} * sizeof(ReceiveSlot) + capacity / 8; }

  std::unique_ptr<ReceiveSlot[]> slots_;
  std::unique_ptr<uint64_t[]> bits_;
  uint32_t span_ = kDefaultSpan;
  RingBudget* budget_ = nullptr;
  uint32_t capacity_ = 0;
  uint32_t mask_ = 0;
  uint32_t next_expected_ = 0;
  bool has_largest_ = false;
  uint32_t largest_ = 0;
  uint64_t largest_time_ = 0;
  bool largest_reported_ = false;
};

}  // namespace hybridwire::reliable
