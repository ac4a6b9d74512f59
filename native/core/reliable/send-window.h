// The sender's view of one reliable sequence space: which sequences are in flight, acknowledged
// or lost, and when to give up waiting for them (RFC 9002 §6 loss detection, per space).
//
// Records live in a ring indexed by sequence (a sender never runs more than the span past its
// oldest unacknowledged sequence), so an acknowledgement finds its record in O(1). The ring starts
// at kInitialRing records and doubles, up to the span, when the space has that many outstanding. The records in
// flight are also linked in transmission order; loss detection walks that list from the oldest
// and stops at the first record that is not lost yet, so each record is visited O(1) times.
#pragma once
#include <cstdint>
#include <memory>

#include "core/reliable/sequence.h"
#include "core/reliable/wire.h"

namespace hybridwire::reliable {

enum class FlightState : uint8_t { kEmpty = 0, kInFlight, kLost, kAcked };

struct FlightRecord {
  static constexpr uint32_t kNoLink = UINT32_MAX;
  uint64_t sent_time = 0;  // of the latest transmission
  uint64_t datagram = 0;   // number of the datagram that carried the latest transmission
  uint32_t seq = 0;
  uint32_t message = 0;    // the owner's message handle
  uint32_t fragment = 0;   // fragment index within the message
  uint32_t bytes = 0;      // frame size, as counted in flight
  uint32_t prev = kNoLink;
  uint32_t next = kNoLink;
  FlightState state = FlightState::kEmpty;
  uint8_t transmissions = 0;  // saturating
  bool queued = false;        // waiting in the owner's retransmission or probe queue
  // 0 (Congestion::kNoRound) if never declared lost, else the owner's tag for the congestion round
  // that counted its latest loss (so that a spurious loss can be taken back from that round).
  uint8_t loss_round = 0;
};

// Told what happens to records. References are valid only during the call.
class FlightListener {
 public:
  virtual void on_acked(FlightRecord& record, bool was_in_flight) = 0;
  virtual void on_lost(FlightRecord& record) = 0;
  // The record, declared lost, is being acknowledged for the transmission that was declared lost
  // (before on_acked): the loss was spurious.
  virtual void on_spurious_loss(FlightRecord& record) = 0;
  // The cumulative point moved past the record; it is about to be cleared.
  virtual void on_passed(FlightRecord& record) = 0;

 protected:
  ~FlightListener() = default;
};

struct AckOutcome {
  uint32_t newly_acked = 0;
  bool rtt_sample = false;
  uint64_t latest_rtt = 0;
};

// Spurious losses. Acknowledgements name sequences, not transmissions, so an ack of a frame sent
// more than once does not say which copy arrived. Two cases are unambiguous and are reported:
// the frame was declared lost and not yet sent again (only the original exists), or it was sent
// exactly twice, the first copy declared lost and the second its retransmission, and the ack came
// sooner than the minimum RTT after the retransmission, which therefore cannot be what arrived
// (RFC 8985 §6.2's test). Anything else (probes, a third copy, or a late ack) is taken as a real
// loss: undoing a reduction on a guess would let a congested path be flooded.
class SendWindow {
 public:
  // RFC 9002 kPacketThreshold, counted in datagrams.
  static constexpr uint64_t kPacketThreshold = 3;

  uint32_t base() const { return base_; }  // oldest sequence not yet acknowledged
  uint32_t next() const { return next_; }  // next sequence to transmit for the first time
  static constexpr uint32_t kInitialRing = 256;
  // The span (clamped to a power of two within [kMinSpan, kMaxSpan]); set before the first use.
  void set_span(uint32_t span) { span_ = clamp_span(span); }
  uint32_t span() const { return span_; }
  bool has_room() const { return next_ - base_ < span_; }
  bool idle() const { return base_ == next_; }
  const FlightRecord* oldest_in_flight() const { return head_ == FlightRecord::kNoLink ? nullptr : &records_[head_]; }
  const FlightRecord* newest_in_flight() const { return tail_ == FlightRecord::kNoLink ? nullptr : &records_[tail_]; }
  // When the oldest in-flight record sent before an acknowledged one will count as lost; 0 if none.
  uint64_t loss_time() const { return loss_time_; }

  // First transmission of sequence next(); the caller has checked has_room().
  FlightRecord& transmit_new(uint32_t message, uint32_t fragment, uint32_t bytes, uint64_t now,
                             uint64_t datagram);
  // Another transmission of a lost or in-flight record: it becomes the newest in flight.
  void retransmit(FlightRecord& record, uint64_t now, uint64_t datagram);
  // The record of a sequence in [base, next), or nullptr.
  FlightRecord* find(uint32_t seq);

  // Applies an acknowledgement. False (and nothing changed) if it covers sequences never sent.
  // `min_rtt` tells acks of retransmissions that must be for an earlier transmission.
  bool on_ack(const wire::Ack& ack, uint64_t now, uint64_t min_rtt, FlightListener& listener,
              AckOutcome* outcome);
  // Declares lost what was sent before the largest acknowledged datagram and is either
  // `packet_threshold` datagrams older or `loss_delay` older than now.
  void detect_lost(uint64_t now, uint64_t loss_delay, uint64_t packet_threshold, FlightListener& listener);

  // Consecutive retransmission timeouts without an acknowledgement (the backoff exponent).
  uint32_t timeouts = 0;
  // A probe for this space is queued and not yet sent, so its timer is not armed.
  bool probe_pending = false;

 private:
  FlightRecord& at(uint32_t seq) { return records_[seq & mask_]; }
  // Doubles the ring (or makes the first), keeping every record and link.
  void grow();
  void link_newest(uint32_t index);
  void unlink(FlightRecord& record);
  void acknowledge(FlightRecord& record, uint64_t now, uint64_t min_rtt, FlightListener& listener,
                   AckOutcome* outcome);

  std::unique_ptr<FlightRecord[]> records_;
  uint32_t span_ = kDefaultSpan;
  uint32_t capacity_ = 0;
  uint32_t mask_ = 0;
  uint32_t base_ = 0;
  uint32_t next_ = 0;
  uint32_t head_ = FlightRecord::kNoLink;
  uint32_t tail_ = FlightRecord::kNoLink;
  bool has_largest_acked_ = false;
  uint64_t largest_acked_datagram_ = 0;
  uint64_t loss_time_ = 0;
};

}  // namespace hybridwire::reliable
