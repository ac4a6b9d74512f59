// One peer's reliable-UDP state machine, sans-IO (after quinn-proto): datagrams and the current
// time go in; datagrams to send, delivered messages and the next deadline come out. No sockets,
// clocks, threads or globals. Times are microseconds on any monotonic clock the caller likes.
//
// Three qualities per message: unreliable (one per-peer sequence space, duplicates and stale
// fragments dropped), reliable ordered (a space per channel, delivered in order) and reliable
// unordered (a space per channel, delivered on arrival). Loss on one space never holds back
// another: each has its own window, acknowledgements and loss detection.
//
// Driving it: send() queues; poll_transmit() until it returns 0 after each send batch, receive()
// or on_timeout(); call on_timeout() when next_deadline() passes.
//
// Failure: a reliable message this endpoint holds for its peer (partial, or whole and waiting for
// the gap before it) that gets no fragment for the reassembly timeout has stopped making progress.
// Its fragments were acknowledged, so dropping it would lose it silently; holding it would keep its
// memory for ever. The endpoint fails instead: on_timeout() releases everything it holds, it
// receives nothing more and acknowledges nothing more, and failed() turns true, for its owner to
// close the path and tell the peer (docs/PROTOCOL.md 7.3.2).
#pragma once
#include <cstddef>
#include <algorithm>
#include <cstdint>
#include <deque>
#include <memory>
#include <vector>

#include "core/frame-codec.h"
#include "core/reliable/congestion.h"
#include "core/reliable/fragmenter.h"
#include "core/reliable/memory-budget.h"
#include "core/reliable/path-mtu.h"
#include "core/reliable/progress-list.h"
#include "core/reliable/reassembly.h"
#include "core/reliable/receive-window.h"
#include "core/reliable/reorder-window.h"
#include "core/reliable/replay-window.h"
#include "core/reliable/rtt-estimator.h"
#include "core/reliable/send-window.h"
#include "core/reliable/sequence.h"

namespace hybridwire::reliable {

struct Options {
  uint32_t mtu = 1200;                  // bytes per datagram, token and frame headers included
  // Path MTU discovery raises the datagram size from `mtu` up to this (path-mtu.h); equal to `mtu`
  // (or below it) turns it off.
  uint32_t max_mtu = 0;
  // Bytes the owner adds to every datagram after the endpoint (sealing): path MTU probes are cut
  // so that their size on the wire is the plateau tried.
  uint32_t wire_overhead = 0;
  uint32_t window = 1024;               // reliable messages in flight: 1 is step-by-step
  uint64_t send_buffer_bytes = 4u << 20;
  // What this endpoint buffers for its peer (partial and out-of-order messages); also what it
  // lets its peer buffer for it, so both ends must use the same value (the session negotiates it).
  uint64_t reassembly_bytes = 4u << 20;
  uint64_t reassembly_timeout_us = 5'000'000;
  uint64_t max_ack_delay_us = 10'000;
  uint64_t min_rto_us = 100'000;
  uint64_t max_rto_us = 60'000'000;
  // Sequences in flight per reliable space (sequence.h): both ends must use the same value (the
  // session negotiates it). Clamped to a power of two within [kMinSpan, kMaxSpan].
  uint32_t span = kDefaultSpan;
  uint8_t token[kTokenSize] = {};
  MemoryBudget* shared_budget = nullptr;  // a total over many endpoints, or none
};

enum class SendStatus : uint32_t { kOk = 0, kWouldBlock = 1, kTooLarge = 2, kInvalid = 3 };

struct Stats {
  uint64_t srtt_us = 0;
  uint64_t rttvar_us = 0;
  uint64_t min_rtt_us = 0;
  uint64_t rto_us = 0;
  uint64_t cwnd = 0;
  uint64_t bytes_in_flight = 0;
  uint64_t messages_in_flight = 0;
  uint64_t send_buffer_bytes = 0;   // in use
  uint64_t reassembly_bytes = 0;    // in use
  uint64_t datagrams_sent = 0;
  uint64_t bytes_sent = 0;
  uint64_t datagrams_received = 0;
  uint64_t bytes_received = 0;
  uint64_t messages_sent = 0;       // accepted by send()
  uint64_t messages_delivered = 0;
  uint64_t frames_delivered = 0;    // frames of types this layer does not own
  uint64_t retransmissions = 0;     // frames sent again, after loss or as timeout probes
  uint64_t lost = 0;                // frames declared lost by the ack thresholds (fast retransmit)
  uint64_t timeouts = 0;            // retransmission timer expiries
  uint64_t drops_bad_checksum = 0;  // datagrams
  uint64_t drops_malformed = 0;     // datagrams or frames that break the format
  uint64_t drops_duplicate = 0;
  uint64_t drops_stale = 0;         // unreliable frames too far behind to tell from duplicates
  uint64_t drops_window_overflow = 0;
  uint64_t drops_reassembly_overflow = 0;  // fragments refused, and partial messages evicted
  uint64_t drops_expired = 0;       // unreliable partial messages timed out
  uint64_t drops_send_buffer = 0;   // queued unreliable messages dropped to make room
  uint64_t spurious_losses = 0;     // frames declared lost that turned out to have arrived
  uint64_t path_mtu = 0;            // the datagram size in use
  uint64_t mtu_probes_sent = 0;
  uint64_t mtu_probes_lost = 0;
};

// Receives what an endpoint delivers. Pointers are valid only during the call: into the
// datagram given to receive() when the message arrived whole in it, otherwise into the
// endpoint's own buffers.
class DeliverySink {
 public:
  virtual void on_message(const uint8_t* data, size_t size, uint8_t channel, Mode mode,
                          uint8_t flags, uint32_t sequence) = 0;
  // A verified frame of a type this layer does not own (the session's), in datagram order.
  virtual void on_frame(const frame::Header& header, const uint8_t* payload) = 0;

 protected:
  ~DeliverySink() = default;
};

class Endpoint {
 public:
  static constexpr uint64_t kNoDeadline = UINT64_MAX;
  // Consecutive timeouts in one space that count as persistent congestion.
  static constexpr uint32_t kPersistentCongestionTimeouts = 3;

  explicit Endpoint(const Options& options);
  Endpoint(const Endpoint&) = delete;
  Endpoint& operator=(const Endpoint&) = delete;

  // Queues a message (copied). `flags` may carry only the payload-describing flag bits.
  SendStatus send(const uint8_t* data, size_t size, Mode mode, uint8_t channel, uint8_t flags) {
    return send(data, size, nullptr, 0, mode, channel, flags);
  }
  // The same for a message given in two parts (a prefix and a body), copied once, joined.
  SendStatus send(const uint8_t* head, size_t head_size, const uint8_t* body, size_t body_size, Mode mode,
                  uint8_t channel, uint8_t flags);
  // Drops queued, not yet fully sent unreliable messages, oldest first, until `size` more bytes
  // would fit in the send buffer (or none are left). Returns how many were dropped.
  uint64_t drop_oldest_unreliable(uint64_t size);
  // Whether a message of `size` bytes would be accepted now.
  bool has_room(uint64_t size) const { return send_buffered_ + size + kMessageOverhead <= send_buffer_bytes_; }

  // A datagram with its session token already checked and removed.
  void receive(const uint8_t* data, size_t size, uint64_t now, DeliverySink& sink);

  // Writes the next datagram due now into out (which must hold datagram_limit() bytes) and
  // returns its size, or 0 when nothing is due.
  size_t poll_transmit(uint64_t now, uint8_t* out, size_t capacity);
  // Whether the datagram poll_transmit() just wrote is a path MTU probe: it must leave without IP
  // fragmentation (the DF bit), which other datagrams need not.
  bool last_was_probe() const { return last_was_probe_; }

  uint64_t next_deadline();
  void on_timeout(uint64_t now);
  // A held reliable message stopped making progress (see above): the endpoint is done.
  bool failed() const { return failed_; }

  Stats stats() const;
  // The datagram size in use (the base `mtu` until discovery finds more).
  uint32_t mtu() const { return mtu_; }
  uint32_t span() const { return span_; }
  // The session token written first in every datagram (kTokenSize bytes).
  const uint8_t* token() const { return token_; }
  // The largest datagram poll_transmit may write next: the current size, a probe due, or a frame
  // of a message cut for a larger size before the size fell back (largest_cut_ is never below
  // the current size). Its `capacity` must hold it.
  uint32_t datagram_limit() const { return std::max(largest_cut_, path_mtu_.largest_probe()); }

 private:
  static constexpr uint32_t kNone = UINT32_MAX;
  static constexpr size_t kRowBatch = 64;
  static constexpr uint32_t kMaxFramePayload = 65535;
  static constexpr size_t kMaxMtuAcks = 4;
  // Freed message buffers up to this capacity keep it for reuse (small messages, the hot path).
  static constexpr size_t kPooledCapacity = 2048;

  struct OutMessage {
    std::vector<uint8_t> data;
    uint64_t charge = 0;
    uint32_t size = 0;
    uint32_t first_seq = 0;
    uint32_t count = 0;
    uint32_t fragment_size = 0;  // data bytes per fragment, as cut at send()
    uint32_t next_fragment = 0;  // fragments transmitted at least once
    uint32_t unacked = 0;
    uint32_t next = kNone;       // queue link
    uint32_t space = 0;
    Mode mode = Mode::kUnreliable;
    uint8_t channel = 0;
    uint8_t flags = 0;
    bool started = false;        // counted in the window and the peer's credit
    bool live = false;
  };
  struct Queue {
    uint32_t head = kNone;
    uint32_t tail = kNone;
  };
  struct SendSpace {
    SendWindow window;
    uint32_t next_assign = 0;  // sequence of the next queued fragment
    Queue queue;               // messages with fragments never transmitted
    bool ready = false;        // listed in ready_
  };
  struct ReceiveSpace {
    ReceiveWindow window;
    bool ack_listed = false;
  };
  struct StoredMessage {
    std::vector<uint8_t> data;
    uint64_t progressed = 0;  // when it was stored: it waits only for the gap before it
    ProgressLinks links;      // its place in stored_progress_
    uint8_t flags = 0;
  };
  struct Retransmission {
    uint32_t space;
    uint32_t seq;
  };
  class Listener;

  SendSpace& send_space(uint32_t space);
  ReceiveSpace& receive_space(uint32_t space);
  uint32_t allocate_message();
  void release_message(uint32_t id);
  void push(Queue& queue, uint32_t id);
  void pop(Queue& queue);

  void on_message_frame(const frame::Header& header, const uint8_t* payload, uint64_t now,
                        DeliverySink& sink, bool* eliciting);
  bool refused(Reassembly::Result result);
  bool accept_ordered(uint32_t space, ReceiveSpace& receive, ReceiveWindow::Arrival arrival,
                      const frame::Header& header, const wire::FragmentPrefix* prefix,
                      const uint8_t* body, size_t size, uint64_t now, DeliverySink& sink);
  bool accept_unordered(uint32_t space, ReceiveSpace& receive, ReceiveWindow::Arrival arrival,
                        const frame::Header& header, const wire::FragmentPrefix* prefix,
                        const uint8_t* body, size_t size, uint64_t now, DeliverySink& sink);
  void deliver(DeliverySink& sink, const uint8_t* data, size_t size, uint8_t channel, Mode mode,
               uint8_t flags, uint32_t sequence);
  void deliver_assembly(uint32_t id, DeliverySink& sink);
  void drain_ordered(uint32_t space, ReceiveSpace& receive, DeliverySink& sink);
  void request_ack(uint32_t space, ReceiveSpace& receive, uint64_t now, bool immediate);
  void release_stored(uint32_t store);
  // A held reliable message stopped making progress: releases everything held (see above).
  void fail();
  void on_ack_frame(const frame::Header& header, const uint8_t* payload, uint64_t now);

  size_t write_data_frame(uint64_t now, uint8_t* out, size_t capacity, uint64_t datagram);
  size_t write_new_reliable(uint64_t now, uint8_t* out, size_t capacity, uint64_t datagram);
  size_t write_message_frame(uint8_t* out, const OutMessage& message, uint32_t fragment, uint32_t seq) const;
  size_t write_acks(uint64_t now, uint8_t* out, size_t position);
  size_t write_mtu_acks(uint8_t* out, size_t position);
  // Uses datagrams of `size` bytes from now on (new messages are cut for it).
  void set_mtu(uint32_t size);

  // Options
  uint32_t mtu_;
  uint32_t span_;
  uint32_t window_;
  uint64_t send_buffer_bytes_;
  uint64_t reassembly_bytes_;
  uint64_t max_ack_delay_;
  uint8_t token_[kTokenSize];
  Fragmenter fragmenter_;
  PathMtu path_mtu_;
  uint32_t largest_cut_;  // the largest datagram size any message was cut for
  std::vector<std::pair<uint32_t, uint32_t>> mtu_acks_;  // probes to answer: (id, size)
  bool last_was_probe_ = false;

  RttEstimator rtt_;
  Congestion congestion_;
  ReorderWindow reorder_;
  MemoryBudget budget_;
  RingBudget ring_budget_;  // the receive windows' rings (declared before them: they release into it)
  Reassembly reassembly_;
  ReplayWindow replay_;
  Stats stats_;

  // Sending
  std::vector<OutMessage> messages_;
  std::vector<uint32_t> free_messages_;
  std::unique_ptr<SendSpace> send_spaces_[kReliableSpaces];
  std::vector<uint32_t> used_send_spaces_;
  std::vector<uint32_t> ready_;  // spaces with queued fragments, served round-robin
  size_t ready_cursor_ = 0;
  Queue unreliable_queue_;
  uint32_t unreliable_next_ = 0;
  std::deque<Retransmission> lost_;
  std::deque<Retransmission> probes_;
  uint64_t send_buffered_ = 0;
  uint64_t pooled_bytes_ = 0;  // capacity kept by free message and stored-message buffers
  uint64_t credit_used_ = 0;      // what the peer may be holding for us
  uint64_t messages_in_flight_ = 0;
  uint64_t next_datagram_ = 1;

  // Receiving
  std::unique_ptr<ReceiveSpace> receive_spaces_[kReliableSpaces];
  std::vector<uint32_t> ack_list_;  // spaces owing an acknowledgement
  bool ack_immediate_ = false;
  bool ack_armed_ = false;
  uint64_t ack_deadline_ = 0;
  uint32_t eliciting_datagrams_ = 0;
  std::vector<StoredMessage> stored_;
  std::vector<uint32_t> free_stored_;
  ProgressList stored_progress_;  // stored messages, oldest first
  bool failed_ = false;
  uint32_t rows_[kRowBatch * frame::kRowWidth];
};

}  // namespace hybridwire::reliable
