#include "core/reliable/endpoint.h"

#include <algorithm>
#include <cstring>

#include "core/reliable/datagram-rule.h"

namespace hybridwire::reliable {
namespace {

// Message buffers and stored messages are pooled: a freed slot keeps its vector's capacity (up to
// kPooledCapacity each, and `limit` in all) so that steady traffic allocates nothing.

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
void RecycleBuffer(std::vector<uint8_t>& data, uint64_t& pooled_bytes, uint64_t limit, size_t max_capacity) {
  size_t capacity = data.capacity();
  if (capacity > max_capacity || pooled_bytes + capacity > limit) {
    std::vector<uint8_t>().swap(data);
  } else {
    data.clear();
    pooled_bytes += capacity;
  }
}

}  // namespace

// Applies what a space's send window reports to the endpoint: congestion control, message
// lifetimes and the retransmission queue.
class Endpoint::Listener final : public FlightListener {
 public:
  Listener(Endpoint& endpoint, uint32_t space, uint64_t now)
      : endpoint_(endpoint), space_(space), now_(now) {}

  void on_acked(FlightRecord& record, bool was_in_flight) override {
    if (was_in_flight) endpoint_.congestion_.on_acked(record.bytes, record.sent_time, now_);
    OutMessage& message = endpoint_.messages_[record.message];
    if (message.unacked > 0 && --message.unacked == 0 && message.mode == Mode::kReliableUnordered) {
      endpoint_.release_message(record.message);
    }
  }

  void on_lost(FlightRecord& record) override {
    record.loss_round = endpoint_.congestion_.on_lost(record.bytes, record.sent_time, now_);
    endpoint_.reorder_.on_loss(record.loss_round);
    ++endpoint_.stats_.lost;
    if (!record.queued) {
      record.queued = true;
      endpoint_.lost_.push_back({space_, record.seq});
    }
  }

  void on_spurious_loss(FlightRecord& record) override {
    endpoint_.congestion_.on_spurious_loss(record.bytes, record.loss_round);
    endpoint_.reorder_.on_spurious_loss(now_, endpoint_.rtt_.smoothed());
    ++endpoint_.stats_.spurious_losses;
  }

  // An ordered message stays buffered (and counted against the peer's credit) until the
  // cumulative point passes its last fragment: until then the peer may be holding it back.
  // An unordered one was released when its last fragment was acknowledged, and its handle may
  // already name another message.
  void on_passed(FlightRecord& record) override {
    if (space_ >= kChannels) return;
    const OutMessage& message = endpoint_.messages_[record.message];
    if (record.fragment + 1 == message.count) endpoint_.release_message(record.message);
  }

 private:
  Endpoint& endpoint_;
  uint32_t space_;
  uint64_t now_;
};

Endpoint::Endpoint(const Options& options)
    : mtu_(std::clamp(options.mtu, kMinMtu, kMaxMtu)),
      span_(clamp_span(options.span)),
      window_(std::max<uint32_t>(options.window, 1)),
      send_buffer_bytes_(options.send_buffer_bytes),
      reassembly_bytes_(options.reassembly_bytes),
      max_ack_delay_(options.max_ack_delay_us),
      token_(),
      fragmenter_(mtu_),
      path_mtu_(mtu_, std::clamp(options.max_mtu, mtu_, kMaxMtu)),
      largest_cut_(mtu_),
      rtt_(std::max<uint64_t>(options.min_rto_us, 1), options.max_rto_us, options.max_ack_delay_us),
      congestion_(mtu_),
      budget_(options.reassembly_bytes, options.shared_budget),
      reassembly_(&budget_, options.reassembly_timeout_us),
      rows_() {
  std::memcpy(token_, options.token, kTokenSize);
  // Room for two windows' rings at the full span, and never less than 1 MiB.
  ring_budget_.limit = std::max<uint64_t>(uint64_t{1} << 20, 2 * (uint64_t{span_} * (sizeof(ReceiveSlot) + 1)));
}

// ---- Sending ----------------------------------------------------------------------------------

Endpoint::SendSpace& Endpoint::send_space(uint32_t space) {
  if (!send_spaces_[space]) {
    send_spaces_[space].reset(new SendSpace());
    send_spaces_[space]->window.set_span(span_);
    used_send_spaces_.push_back(space);
  }
  return *send_spaces_[space];
}

uint32_t Endpoint::allocate_message() { return TakePooled(messages_, free_messages_, pooled_bytes_); }

void Endpoint::release_message(uint32_t id) {
  OutMessage& message = messages_[id];
  send_buffered_ -= message.charge;
  if (message.started) {
    credit_used_ -= message.charge;
    --messages_in_flight_;
  }
  message.live = false;
  message.started = false;
  RecycleBuffer(message.data, pooled_bytes_, send_buffer_bytes_, kPooledCapacity);
  free_messages_.push_back(id);
}

void Endpoint::push(Queue& queue, uint32_t id) {
  messages_[id].next = kNone;
  if (queue.tail == kNone) {
    queue.head = id;
  } else {
    messages_[queue.tail].next = id;
  }
  queue.tail = id;
}

void Endpoint::pop(Queue& queue) {
  uint32_t id = queue.head;
  queue.head = messages_[id].next;
  if (queue.head == kNone) queue.tail = kNone;
  messages_[id].next = kNone;
}

SendStatus Endpoint::send(const uint8_t* head, size_t head_size, const uint8_t* body, size_t body_size, Mode mode,
                          uint8_t channel, uint8_t flags) {
  if ((flags & flag::kOwned) != 0 || static_cast<uint8_t>(mode) > 2) return SendStatus::kInvalid;
  if (head_size > UINT32_MAX || body_size > UINT32_MAX - head_size) return SendStatus::kTooLarge;
  const size_t size = head_size + body_size;
  const uint64_t count = fragmenter_.count(size);
  const uint64_t charge = size + kMessageOverhead;
  const bool reliable = mode != Mode::kUnreliable;
  // Larger than the send buffer, than what the peer will hold for us (reliable or fragmented),
  // or than the unreliable duplicate filter spans: it could never be delivered.
  if (charge > send_buffer_bytes_ || ((reliable || count > 1) && charge > reassembly_bytes_) ||
      (!reliable && count > kReplaySpan)) {
    return SendStatus::kTooLarge;
  }
  if (send_buffered_ + charge > send_buffer_bytes_) return SendStatus::kWouldBlock;
  const uint32_t id = allocate_message();
  OutMessage& message = messages_[id];
  message.data.clear();
  message.data.reserve(size);
  if (head_size > 0) message.data.insert(message.data.end(), head, head + head_size);
  if (body_size > 0) message.data.insert(message.data.end(), body, body + body_size);
  message.charge = charge;
  message.size = static_cast<uint32_t>(size);
  message.count = static_cast<uint32_t>(count);
  message.fragment_size = fragmenter_.fragment_size();
  message.next_fragment = 0;
  message.unacked = reliable ? message.count : 0;
  message.mode = mode;
  message.channel = channel;
  message.flags = flags;
  message.started = false;
  message.live = true;
  if (reliable) {
    const uint32_t space = space_of(mode, channel);
    SendSpace& target = send_space(space);
    message.space = space;
    message.first_seq = target.next_assign;
    target.next_assign += message.count;
    push(target.queue, id);
    if (!target.ready) {
      target.ready = true;
      ready_.push_back(space);
    }
  } else {
    message.space = Reassembly::kUnreliableSpace;
    message.first_seq = unreliable_next_;
    unreliable_next_ += message.count;
    push(unreliable_queue_, id);
  }
  send_buffered_ += charge;
  ++stats_.messages_sent;
  return SendStatus::kOk;
}

uint64_t Endpoint::drop_oldest_unreliable(uint64_t size) {
  uint64_t dropped = 0;
  while (unreliable_queue_.head != kNone && !has_room(size)) {
    uint32_t id = unreliable_queue_.head;
    pop(unreliable_queue_);
    release_message(id);
    ++dropped;
  }
  stats_.drops_send_buffer += dropped;
  return dropped;
}

size_t Endpoint::write_message_frame(uint8_t* out, const OutMessage& message, uint32_t fragment,
                                     uint32_t seq) const {
  const uint32_t data_size = Fragmenter::data_size(message.fragment_size, message.size, message.count, fragment);
  frame::Header header;
  header.type = kTypeMessage;
  header.flags = message.flags;
  if (message.mode != Mode::kUnreliable) header.flags |= flag::kReliable;
  if (message.mode == Mode::kReliableUnordered) header.flags |= flag::kUnordered;
  header.channel = message.channel;
  header.sequence = seq;
  uint8_t* payload = out + frame::kHeaderSize;
  size_t payload_length = data_size;
  size_t offset = 0;
  if (message.count > 1) {
    header.flags |= flag::kFragment;
    wire::write_fragment_prefix(payload, {message.size, fragment, message.count});
    payload_length += wire::kFragmentPrefixSize;
    offset = size_t{fragment} * message.fragment_size;
  }
  if (data_size > 0) {
    std::memcpy(out + frame::kHeaderSize + (payload_length - data_size), message.data.data() + offset,
                data_size);
  }
  frame::write_header(header, payload, payload_length, out);
  return frame::kHeaderSize + payload_length;
}

size_t Endpoint::write_data_frame(uint64_t now, uint8_t* out, size_t capacity, uint64_t datagram) {
  // Timeout probes first, outside the congestion window (RFC 9002 §7.5).
  while (!probes_.empty()) {
    const Retransmission probe = probes_.front();
    SendWindow& window = send_spaces_[probe.space]->window;
    FlightRecord* record = window.find(probe.seq);
    if (record == nullptr || record->state != FlightState::kInFlight) {
      probes_.pop_front();
      window.probe_pending = false;
      continue;
    }
    const OutMessage& message = messages_[record->message];
    if (Fragmenter::frame_size(message.fragment_size, message.size, message.count, record->fragment) > capacity) return 0;
    probes_.pop_front();
    window.probe_pending = false;
    size_t written = write_message_frame(out, message, record->fragment, probe.seq);
    window.retransmit(*record, now, datagram);
    ++stats_.retransmissions;
    return written;
  }
  // Then what was declared lost, within the congestion window.
  while (!lost_.empty()) {
    const Retransmission lost = lost_.front();
    SendWindow& window = send_spaces_[lost.space]->window;
    FlightRecord* record = window.find(lost.seq);
    if (record == nullptr || record->state != FlightState::kLost) {
      if (record != nullptr) record->queued = false;
      lost_.pop_front();
      continue;
    }
    if (!congestion_.can_send(record->bytes)) break;
    if (record->bytes > capacity) return 0;
    lost_.pop_front();
    record->queued = false;
    size_t written = write_message_frame(out, messages_[record->message], record->fragment, lost.seq);
    window.retransmit(*record, now, datagram);
    congestion_.on_sent(record->bytes);
    ++stats_.retransmissions;
    return written;
  }
  // Unreliable messages are fire and forget: neither windowed nor congestion controlled.
  if (unreliable_queue_.head != kNone) {
    const uint32_t id = unreliable_queue_.head;
    OutMessage& message = messages_[id];
    if (Fragmenter::frame_size(message.fragment_size, message.size, message.count, message.next_fragment) > capacity) return 0;
    size_t written = write_message_frame(out, message, message.next_fragment,
                                         message.first_seq + message.next_fragment);
    if (++message.next_fragment == message.count) {
      pop(unreliable_queue_);
      release_message(id);
    }
    return written;
  }
  return write_new_reliable(now, out, capacity, datagram);
}

size_t Endpoint::write_new_reliable(uint64_t now, uint8_t* out, size_t capacity, uint64_t datagram) {
  // Spaces take turns frame by frame, so that a busy or blocked channel does not starve others.
  for (size_t tried = 0; tried < ready_.size(); ++tried, ++ready_cursor_) {
    if (ready_cursor_ >= ready_.size()) ready_cursor_ = 0;
    const uint32_t space = ready_[ready_cursor_];
    SendSpace& source = *send_spaces_[space];
    const uint32_t id = source.queue.head;
    OutMessage& message = messages_[id];
    if (!source.window.has_room()) continue;
    if (!message.started &&
        (messages_in_flight_ >= window_ || credit_used_ + message.charge > reassembly_bytes_)) {
      continue;
    }
    const uint32_t size = Fragmenter::frame_size(message.fragment_size, message.size, message.count, message.next_fragment);
    if (!congestion_.can_send(size)) {
      congestion_.set_app_limited(false);
      return 0;
    }
    if (size > capacity) return 0;
    if (!message.started) {
      message.started = true;
      ++messages_in_flight_;
      credit_used_ += message.charge;
    }
    const uint32_t seq = message.first_seq + message.next_fragment;
    size_t written = write_message_frame(out, message, message.next_fragment, seq);
    source.window.transmit_new(id, message.next_fragment, size, now, datagram);
    congestion_.on_sent(size);
    if (++message.next_fragment == message.count) {
      pop(source.queue);
      if (source.queue.head == kNone) {
        source.ready = false;
        ready_.erase(ready_.begin() + static_cast<std::ptrdiff_t>(ready_cursor_));
        return written;  // the cursor already names the next space
      }
    }
    ++ready_cursor_;
    return written;
  }
  // Out of data, or held back by the window, the peer's credit or a full span: the congestion
  // window is not what limits, so acknowledgements must not grow it.
  congestion_.set_app_limited(true);
  return 0;
}

size_t Endpoint::write_acks(uint64_t now, uint8_t* out, size_t position) {
  // After a frame larger than the current size (see poll_transmit), acks wait for the next one.
  if (position >= mtu_) return position;
  size_t done = 0;
  for (; done < ack_list_.size(); ++done) {
    const uint32_t space = ack_list_[done];
    ReceiveSpace& receive = *receive_spaces_[space];
    const uint8_t flags = flag::kReliable | (space >= kChannels ? flag::kUnordered : 0);
    bool complete = true;
    size_t written = receive.window.write_ack(out + position, mtu_ - position,
                                              static_cast<uint8_t>(space % kChannels), flags, now,
                                              &complete);
    // A truncated ack only in a datagram of its own; otherwise wait for the next datagram.
    if (written == 0 || (!complete && position > kTokenSize)) break;
    position += written;
    receive.ack_listed = false;
  }
  ack_list_.erase(ack_list_.begin(), ack_list_.begin() + static_cast<std::ptrdiff_t>(done));
  if (ack_list_.empty()) {
    ack_immediate_ = false;
    ack_armed_ = false;
    eliciting_datagrams_ = 0;
  } else {
    ack_immediate_ = true;
  }
  return position;
}

size_t Endpoint::poll_transmit(uint64_t now, uint8_t* out, size_t capacity) {
  last_was_probe_ = false;
  if (capacity < datagram_limit()) return 0;
  std::memcpy(out, token_, kTokenSize);
  // A path MTU probe due now goes alone, padded to the size it tries; it is not a message (not
  // retransmitted, not congestion controlled) and its loss only says the size is too large.
  if (const uint32_t probe = path_mtu_.probe_due(now); probe != 0) {
    // Generous: its answer comes at once, but a late one is taken anyway (path-mtu.h).
    const uint64_t timeout = std::max(2 * rtt_.smoothed() + 4 * rtt_.variance(), PathMtu::kMinProbeTimeoutUs);
    frame::Header header;
    header.type = kTypeMtuProbe;
    header.sequence = path_mtu_.on_probe_sent(now + timeout);
    const size_t padding = probe - kTokenSize - frame::kHeaderSize;
    uint8_t* payload = out + kTokenSize + frame::kHeaderSize;
    std::memset(payload, 0, padding);
    frame::write_header(header, payload, padding, out + kTokenSize);
    ++stats_.datagrams_sent;
    stats_.bytes_sent += probe;
    last_was_probe_ = true;
    return probe;
  }
  const uint64_t datagram = next_datagram_;
  size_t position = write_mtu_acks(out, kTokenSize);
  const size_t data_limit = ack_list_.empty() ? mtu_ : mtu_ - kAckReserve;
  for (;;) {
    // A frame cut for a larger datagram size than the current one (the size fell back) goes
    // first in a datagram of its own size.
    const size_t limit = position == kTokenSize ? std::max<size_t>(data_limit, largest_cut_) : data_limit;
    if (position >= limit) break;
    size_t written = write_data_frame(now, out + position, limit - position, datagram);
    if (written == 0) break;
    position += written;
  }
  const bool acks_due = !ack_list_.empty() && (ack_immediate_ || now >= ack_deadline_);
  if (!ack_list_.empty() && (position > kTokenSize || acks_due)) position = write_acks(now, out, position);
  if (position == kTokenSize) return 0;
  ++next_datagram_;
  ++stats_.datagrams_sent;
  stats_.bytes_sent += position;
  return position;
}

size_t Endpoint::write_mtu_acks(uint8_t* out, size_t position) {
  constexpr size_t kSize = frame::kHeaderSize + 4;
  size_t done = 0;
  for (; done < mtu_acks_.size() && position + kSize <= mtu_; ++done) {
    frame::Header header;
    header.type = kTypeMtuAck;
    header.sequence = mtu_acks_[done].first;
    uint8_t* payload = out + position + frame::kHeaderSize;
    wire::store32(payload, mtu_acks_[done].second);
    frame::write_header(header, payload, 4, out + position);
    position += kSize;
  }
  mtu_acks_.erase(mtu_acks_.begin(), mtu_acks_.begin() + static_cast<std::ptrdiff_t>(done));
  return position;
}

void Endpoint::set_mtu(uint32_t size) {
  mtu_ = size;
  fragmenter_ = Fragmenter(size);
  congestion_.set_max_datagram(size);
  largest_cut_ = std::max(largest_cut_, size);
}

// ---- Receiving --------------------------------------------------------------------------------

Endpoint::ReceiveSpace& Endpoint::receive_space(uint32_t space) {
  if (!receive_spaces_[space]) {
    receive_spaces_[space].reset(new ReceiveSpace());
    receive_spaces_[space]->window.set_span(span_, &ring_budget_);
  }
  return *receive_spaces_[space];
}

void Endpoint::receive(const uint8_t* data, size_t size, uint64_t now, DeliverySink& sink) {
  ++stats_.datagrams_received;
  stats_.bytes_received += size + kTokenSize;
  frame::DecodeResult result;
  const datagram_rule::Verdict verdict = datagram_rule::check(data, size, kMaxFramePayload, rows_, kRowBatch, &result);
  if (verdict == datagram_rule::Verdict::kBadChecksum) {
    ++stats_.drops_bad_checksum;
    return;
  }
  if (verdict == datagram_rule::Verdict::kMalformed) {
    ++stats_.drops_malformed;
    return;
  }
  // More frames than one batch of rows: checking the rest overwrote the first ones.
  if (result.consumed < size) result = frame::decode_stream(data, size, 0, kMaxFramePayload, rows_, kRowBatch);
  bool eliciting = false;
  for (;;) {
    for (size_t i = 0; i < result.frames; ++i) {
      const uint32_t* row = rows_ + i * frame::kRowWidth;
      frame::Header header;
      header.length = row[1];
      header.type = static_cast<uint8_t>(row[2]);
      header.flags = static_cast<uint8_t>(row[3]);
      header.channel = static_cast<uint8_t>(row[4]);
      header.sequence = row[5];
      const uint8_t* payload = data + row[0];
      if (header.type == kTypeMessage) {
        on_message_frame(header, payload, now, sink, &eliciting);
      } else if (header.type == kTypeAck) {
        on_ack_frame(header, payload, now);
      } else if (header.type == kTypeMtuProbe) {
        // Answered in the next datagram with the size it arrived in (a few at most are owed).
        if (mtu_acks_.size() < kMaxMtuAcks) mtu_acks_.push_back({header.sequence, static_cast<uint32_t>(size + kTokenSize)});
      } else if (header.type == kTypeMtuAck) {
        if (header.length != 4) {
          ++stats_.drops_malformed;
        } else if (path_mtu_.on_probe_acked(header.sequence, wire::load32(payload), now)) {
          set_mtu(path_mtu_.current());
        }
      } else {
        ++stats_.frames_delivered;
        sink.on_frame(header, payload);
      }
    }
    if (result.consumed >= size) break;
    result = frame::decode_stream(data, size, result.consumed, kMaxFramePayload, rows_, kRowBatch);
  }
  if (eliciting && ++eliciting_datagrams_ >= 2) ack_immediate_ = true;
}

void Endpoint::deliver(DeliverySink& sink, const uint8_t* data, size_t size, uint8_t channel,
                       Mode mode, uint8_t flags, uint32_t sequence) {
  ++stats_.messages_delivered;
  sink.on_message(data, size, channel, mode, flags, sequence);
}

void Endpoint::deliver_assembly(uint32_t id, DeliverySink& sink) {
  const Assembly& assembly = reassembly_.get(id);
  deliver(sink, assembly.data.get(), assembly.length, assembly.channel, assembly.mode,
          assembly.flags, assembly.first);
  reassembly_.release(id);
}

void Endpoint::request_ack(uint32_t space, ReceiveSpace& receive, uint64_t now, bool immediate) {
  if (!receive.ack_listed) {
    receive.ack_listed = true;
    ack_list_.push_back(space);
  }
  if (!ack_armed_) {
    ack_armed_ = true;
    ack_deadline_ = now + max_ack_delay_;
  }
  if (immediate) ack_immediate_ = true;
}

void Endpoint::on_message_frame(const frame::Header& header, const uint8_t* payload, uint64_t now,
                                DeliverySink& sink, bool* eliciting) {
  const uint8_t* body = payload;
  size_t size = header.length;
  wire::FragmentPrefix prefix;
  const bool fragmented = (header.flags & flag::kFragment) != 0;
  if (fragmented) {
    if (!wire::read_fragment_prefix(payload, size, &prefix)) {
      ++stats_.drops_malformed;
      return;
    }
    body += wire::kFragmentPrefixSize;
    size -= wire::kFragmentPrefixSize;
  }
  const uint8_t flags = header.flags & static_cast<uint8_t>(~flag::kOwned);
  const uint32_t seq = header.sequence;

  if ((header.flags & flag::kReliable) == 0) {
    switch (replay_.check(seq)) {
      case ReplayWindow::Verdict::kDuplicate: ++stats_.drops_duplicate; return;
      case ReplayWindow::Verdict::kStale: ++stats_.drops_stale; return;
      case ReplayWindow::Verdict::kNew: break;
    }
    if (!fragmented) {
      replay_.mark(seq);
      deliver(sink, body, size, header.channel, Mode::kUnreliable, flags, seq);
      return;
    }
    uint32_t id = 0;
    Reassembly::Result result = reassembly_.add(Reassembly::kUnreliableSpace, seq, prefix, body, size,
                                                Mode::kUnreliable, header.channel, flags, now, &id);
    if (result == Reassembly::Result::kMalformed) {
      ++stats_.drops_malformed;
      return;
    }
    replay_.mark(seq);
    if (result == Reassembly::Result::kOverflow) {
      ++stats_.drops_reassembly_overflow;
    } else if (result == Reassembly::Result::kComplete) {
      deliver_assembly(id, sink);
    }
    return;
  }

  const Mode mode = (header.flags & flag::kUnordered) != 0 ? Mode::kReliableUnordered : Mode::kReliableOrdered;
  const uint32_t space = space_of(mode, header.channel);
  ReceiveSpace& receive = receive_space(space);
  const ReceiveWindow::Arrival arrival = receive.window.classify(seq);
  if (arrival == ReceiveWindow::Arrival::kDuplicate) {
    // Acknowledge again at once: the sender retransmitted, so our ack was probably lost.
    ++stats_.drops_duplicate;
    request_ack(space, receive, now, true);
    return;
  }
  // Beyond the span, or more reordering than the rings may track: refused unacknowledged, so the
  // sender sends it again once the gap before it has filled.
  if (arrival == ReceiveWindow::Arrival::kBeyond ||
      (arrival == ReceiveWindow::Arrival::kAhead && !receive.window.reserve(seq))) {
    ++stats_.drops_window_overflow;
    return;
  }
  const wire::FragmentPrefix* fragment = fragmented ? &prefix : nullptr;
  const bool had_gap = receive.window.has_gap();
  bool accepted = mode == Mode::kReliableOrdered
                      ? accept_ordered(space, receive, arrival, header, fragment, body, size, now, sink)
                      : accept_unordered(space, receive, arrival, header, fragment, body, size, now, sink);
  // A refused frame is not acknowledged, so the sender will send it again.
  if (!accepted) return;
  receive.window.on_arrival(seq, now);
  *eliciting = true;
  // Out of order, or filling a gap (RFC 9000 §13.2.1): ack at once, so that the sender learns of
  // a loss quickly, and of a late arrival before it takes it for lost (or soon after, while it
  // can still tell that the loss was spurious).
  request_ack(space, receive, now, had_gap || receive.window.has_gap());
}

// Counts a fragment the reassembly refused (malformed, or over the memory budget); true if it was.
bool Endpoint::refused(Reassembly::Result result) {
  if (result == Reassembly::Result::kMalformed) {
    ++stats_.drops_malformed;
    return true;
  }
  if (result == Reassembly::Result::kOverflow) {
    ++stats_.drops_reassembly_overflow;
    return true;
  }
  return false;
}

bool Endpoint::accept_ordered(uint32_t space, ReceiveSpace& receive, ReceiveWindow::Arrival arrival,
                              const frame::Header& header, const wire::FragmentPrefix* prefix,
                              const uint8_t* body, size_t size, uint64_t now, DeliverySink& sink) {
  const uint8_t flags = header.flags & static_cast<uint8_t>(~flag::kOwned);
  const uint32_t seq = header.sequence;
  uint32_t id = 0;
  Reassembly::Result result = Reassembly::Result::kIncomplete;
  if (prefix != nullptr) {
    result = reassembly_.add(space, seq, *prefix, body, size, Mode::kReliableOrdered, header.channel,
                             flags, now, &id);
    if (refused(result)) return false;
  }
  if (arrival == ReceiveWindow::Arrival::kNext) {
    if (prefix == nullptr) {
      deliver(sink, body, size, header.channel, Mode::kReliableOrdered, flags, seq);
    } else if (prefix->index + 1 == prefix->count) {
      // Every earlier fragment is below the cumulative point, so was received: complete, unless
      // the peer sent fragments that do not add up.
      if (result == Reassembly::Result::kComplete) {
        deliver_assembly(id, sink);
      } else {
        ++stats_.drops_malformed;
        reassembly_.release(id);
      }
    }
    receive.window.advance();
    drain_ordered(space, receive, sink);
    return true;
  }
  if (prefix == nullptr) {
    // Out of order and whole: keep a copy until the cumulative point reaches it.
    if (!reassembly_.charge(size + kMessageOverhead)) {
      ++stats_.drops_reassembly_overflow;
      return false;
    }
    uint32_t store = TakePooled(stored_, free_stored_, pooled_bytes_);
    stored_[store].data.assign(body, body + size);
    stored_[store].flags = flags;
    ReceiveSlot& slot = receive.window.slot(seq);
    slot.state = SlotState::kStored;
    slot.store = store;
  } else {
    ReceiveSlot& slot = receive.window.slot(seq);
    slot.state = SlotState::kFragment;
    slot.fragment_index = prefix->index;
    slot.fragment_count = prefix->count;
  }
  return true;
}

void Endpoint::drain_ordered(uint32_t space, ReceiveSpace& receive, DeliverySink& sink) {
  const uint8_t channel = static_cast<uint8_t>(space % kChannels);
  while (ReceiveSlot* slot = receive.window.waiting()) {
    const uint32_t seq = receive.window.next_expected();
    if (slot->state == SlotState::kStored) {
      StoredMessage& stored = stored_[slot->store];
      deliver(sink, stored.data.data(), stored.data.size(), channel, Mode::kReliableOrdered,
              stored.flags, seq);
      budget_.release(stored.data.size() + kMessageOverhead);
      RecycleBuffer(stored.data, pooled_bytes_, reassembly_bytes_, kPooledCapacity);
      free_stored_.push_back(slot->store);
    } else if (slot->state == SlotState::kFragment && slot->fragment_index + 1 == slot->fragment_count) {
      uint32_t id = reassembly_.find(space, seq - slot->fragment_index);
      if (id != Reassembly::kNotFound && reassembly_.get(id).received == reassembly_.get(id).count) {
        deliver_assembly(id, sink);
      } else {
        ++stats_.drops_malformed;
        if (id != Reassembly::kNotFound) reassembly_.release(id);
      }
    }
    receive.window.advance();
  }
}

bool Endpoint::accept_unordered(uint32_t space, ReceiveSpace& receive, ReceiveWindow::Arrival arrival,
                                const frame::Header& header, const wire::FragmentPrefix* prefix,
                                const uint8_t* body, size_t size, uint64_t now, DeliverySink& sink) {
  const uint8_t flags = header.flags & static_cast<uint8_t>(~flag::kOwned);
  if (prefix == nullptr) {
    deliver(sink, body, size, header.channel, Mode::kReliableUnordered, flags, header.sequence);
  } else {
    uint32_t id = 0;
    Reassembly::Result result = reassembly_.add(space, header.sequence, *prefix, body, size,
                                                Mode::kReliableUnordered, header.channel, flags, now, &id);
    if (refused(result)) return false;
    if (result == Reassembly::Result::kComplete) deliver_assembly(id, sink);
  }
  if (arrival == ReceiveWindow::Arrival::kNext) {
    receive.window.advance();
    while (receive.window.waiting() != nullptr) receive.window.advance();
  } else {
    receive.window.slot(header.sequence).state = SlotState::kReceived;
  }
  return true;
}

void Endpoint::on_ack_frame(const frame::Header& header, const uint8_t* payload, uint64_t now) {
  const uint32_t space = (header.flags & flag::kUnordered) != 0 ? kChannels + header.channel : header.channel;
  SendSpace* source = send_spaces_[space].get();
  wire::Ack ack;
  AckOutcome outcome;
  Listener listener(*this, space, now);
  if ((header.flags & flag::kReliable) == 0 || source == nullptr ||
      !wire::read_ack(payload, header.length, header.sequence, span_, &ack) ||
      !source->window.on_ack(ack, now, rtt_.minimum(), listener, &outcome)) {
    ++stats_.drops_malformed;
    return;
  }
  if (outcome.rtt_sample) rtt_.on_sample(outcome.latest_rtt, ack.ack_delay_us);
  source->window.detect_lost(now, reorder_.loss_delay(rtt_), reorder_.packet_threshold(), listener);
}

// ---- Timers -----------------------------------------------------------------------------------

uint64_t Endpoint::next_deadline() {
  uint64_t deadline = kNoDeadline;
  if (!ack_list_.empty()) deadline = ack_immediate_ ? 0 : ack_deadline_;
  if (!probes_.empty() || !mtu_acks_.empty()) deadline = 0;
  deadline = std::min(deadline, path_mtu_.next_deadline());
  for (uint32_t space : used_send_spaces_) {
    const SendWindow& window = send_spaces_[space]->window;
    if (window.loss_time() != 0) deadline = std::min(deadline, window.loss_time());
    const FlightRecord* newest = window.newest_in_flight();
    if (newest != nullptr && !window.probe_pending) {
      bool single = newest == window.oldest_in_flight();
      deadline = std::min(deadline, newest->sent_time + rtt_.timeout(window.timeouts, single));
    }
  }
  return std::min(deadline, reassembly_.next_expiry());
}

void Endpoint::on_timeout(uint64_t now) {
  if (path_mtu_.on_timeout(now)) {
    // A black hole confirmed: back to the base size, and a window of two datagrams of it (the
    // persistent congestion that raised the suspicion has cut the threshold already).
    set_mtu(path_mtu_.current());
    congestion_.collapse();
  }
  for (uint32_t space : used_send_spaces_) {
    SendWindow& window = send_spaces_[space]->window;
    Listener listener(*this, space, now);
    if (window.loss_time() != 0 && window.loss_time() <= now) {
      window.detect_lost(now, reorder_.loss_delay(rtt_), reorder_.packet_threshold(), listener);
    }
    const FlightRecord* newest = window.newest_in_flight();
    if (newest == nullptr || window.probe_pending ||
        newest->sent_time + rtt_.timeout(window.timeouts, newest == window.oldest_in_flight()) > now) {
      continue;
    }
    // Tail-loss probe, then retransmission timeouts: send the oldest frame in flight again.
    // Nothing is declared lost (the probe's ack will tell what was); repeated timeouts back off
    // and, at the threshold, count as persistent congestion.
    ++stats_.timeouts;
    if (++window.timeouts == kPersistentCongestionTimeouts) {
      congestion_.on_persistent_congestion(now);
      // Perhaps a black hole for datagrams of the size discovery chose: probes of it will tell.
      path_mtu_.on_black_hole(now);
    }
    window.probe_pending = true;
    probes_.push_back({space, window.oldest_in_flight()->seq});
  }
  stats_.drops_expired += reassembly_.expire(now);
}

Stats Endpoint::stats() const {
  Stats stats = stats_;
  stats.srtt_us = rtt_.smoothed();
  stats.rttvar_us = rtt_.variance();
  stats.min_rtt_us = rtt_.minimum();
  stats.rto_us = rtt_.rto();
  stats.cwnd = congestion_.window();
  stats.bytes_in_flight = congestion_.bytes_in_flight();
  stats.messages_in_flight = messages_in_flight_;
  stats.send_buffer_bytes = send_buffered_;
  stats.reassembly_bytes = budget_.used();
  stats.drops_reassembly_overflow += reassembly_.evicted();
  stats.path_mtu = mtu_;
  stats.mtu_probes_sent = path_mtu_.probes_sent();
  stats.mtu_probes_lost = path_mtu_.probes_lost();
  return stats;
}

}  // namespace hybridwire::reliable
