// The reliable endpoint's send side: queueing messages into their spaces, and writing their
// frames (new ones, retransmissions and timeout probes) into the datagram poll_transmit builds.
#include <cstring>

#include "core/reliable/buffer-pool.h"
#include "core/reliable/endpoint.h"

namespace hybridwire::reliable {

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

}  // namespace hybridwire::reliable
