// The reliable endpoint's receive side: the frames of a datagram, MESSAGE frames through the
// duplicate filter, receive windows and reassembly to delivery, and the acknowledgements owed.
#include <cstring>

#include "core/reliable/buffer-pool.h"
#include "core/reliable/datagram-rule.h"
#include "core/reliable/endpoint.h"

namespace hybridwire::reliable {

Endpoint::ReceiveSpace& Endpoint::receive_space(uint32_t space) {
  if (!receive_spaces_[space]) {
    receive_spaces_[space].reset(new ReceiveSpace());
    receive_spaces_[space]->window.set_span(span_, &ring_budget_);
  }
  return *receive_spaces_[space];
}

void Endpoint::receive(const uint8_t* data, size_t size, uint64_t now, DeliverySink& sink) {
  if (failed_) return;
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
    stored_progress_.touch(stored_, store, now);
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
      release_stored(slot->store);
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

void Endpoint::release_stored(uint32_t store) {
  StoredMessage& stored = stored_[store];
  stored_progress_.remove(stored_, store);
  budget_.release(stored.data.size() + kMessageOverhead);
  RecycleBuffer(stored.data, pooled_bytes_, reassembly_bytes_, kPooledCapacity);
  free_stored_.push_back(store);
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

}  // namespace hybridwire::reliable
