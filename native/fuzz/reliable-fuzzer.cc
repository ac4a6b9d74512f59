// libFuzzer harness for the reliable-UDP endpoint (native/core/reliable/endpoint.h).
//
// The input is a program: a few bytes of options, then operations on two endpoints joined by a
// link the input controls: send messages of every mode, move datagrams between them (dropped,
// reordered, duplicated, bit-flipped, or with their frames re-sealed after mutation so that
// corrupted contents get past the checksum), inject raw datagrams (optionally sealed, so that
// arbitrary headers, fragment prefixes and ACK payloads reach the state machine), advance the
// clock and fire timers. Every delivered byte is read, so ASan sees any pointer that does not
// cover what it claims; invariants that must hold for any input are checked with __builtin_trap.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <deque>
#include <vector>

#include "core/frame-codec.h"
#include "core/reliable/endpoint.h"

namespace {

using hybridwire::frame::Header;
using hybridwire::reliable::DeliverySink;
using hybridwire::reliable::Endpoint;
using hybridwire::reliable::MemoryBudget;
using hybridwire::reliable::Mode;
using hybridwire::reliable::Options;
using hybridwire::reliable::SendStatus;

class Input {
 public:
  Input(const uint8_t* data, size_t size) : data_(data), size_(size) {}
  bool empty() const { return position_ >= size_; }
  uint8_t byte() { return position_ < size_ ? data_[position_++] : 0; }
  uint32_t u16() { return byte() | (uint32_t{byte()} << 8); }
  uint32_t u32() { return u16() | (u16() << 16); }
  // Up to `wanted` bytes of the input itself.
  std::vector<uint8_t> take(size_t wanted) {
    size_t n = wanted < size_ - position_ ? wanted : size_ - position_;
    std::vector<uint8_t> out(data_ + position_, data_ + position_ + n);
    position_ += n;
    return out;
  }

 private:
  const uint8_t* data_;
  size_t size_;
  size_t position_ = 0;
};

class Sink final : public DeliverySink {
 public:
  void on_message(const uint8_t* data, size_t size, uint8_t, Mode mode, uint8_t flags, uint32_t) override {
    if (static_cast<uint8_t>(mode) > 2 || (flags & 0x8C) != 0) __builtin_trap();
    touch(data, size);
    ++messages;
  }
  void on_frame(const Header& header, const uint8_t* payload) override {
    if (header.type == 0x04 || header.type == 0x05) __builtin_trap();
    touch(payload, header.length);
  }
  uint64_t messages = 0;
  uint8_t checksum = 0;

 private:
  void touch(const uint8_t* data, size_t size) {
    for (size_t i = 0; i < size; ++i) checksum ^= data[i];
  }
};

// Makes every frame of a datagram (token excluded) well formed as far as the codec goes: version
// 1, lengths that fit, checksums that match. Types, flags, sequences and payloads stay as they are.
void seal(std::vector<uint8_t>& datagram) {
  size_t position = 0;
  const size_t size = datagram.size();
  while (size - position >= hybridwire::frame::kHeaderSize) {
    uint8_t* frame = datagram.data() + position;
    frame[0] = hybridwire::frame::kVersion;
    uint32_t length = frame[8] | (frame[9] << 8) | (frame[10] << 16) | (uint32_t{frame[11]} << 24);
    size_t room = size - position - hybridwire::frame::kHeaderSize;
    if (length > room) length = static_cast<uint32_t>(room);
    frame[8] = static_cast<uint8_t>(length);
    frame[9] = static_cast<uint8_t>(length >> 8);
    frame[10] = static_cast<uint8_t>(length >> 16);
    frame[11] = static_cast<uint8_t>(length >> 24);
    hybridwire::frame::seal_frame(frame, size - position);
    position += hybridwire::frame::kHeaderSize + length;
  }
}

struct Side {
  explicit Side(const Options& options) : endpoint(options) {}
  Endpoint endpoint;
  Sink sink;
  std::deque<std::vector<uint8_t>> outbox;  // datagrams sent, token removed, not yet delivered
};

constexpr size_t kMaxOutbox = 256;
constexpr uint8_t kPassThroughFlags = 0x01 | 0x02 | 0x10 | 0x20 | 0x40;

void check_stats(const Endpoint& endpoint, const Options& options) {
  hybridwire::reliable::Stats stats = endpoint.stats();
  if (stats.reassembly_bytes > options.reassembly_bytes) __builtin_trap();
  if (stats.send_buffer_bytes > options.send_buffer_bytes) __builtin_trap();
  if (stats.messages_in_flight > options.window) __builtin_trap();
}

// The shared budget holds exactly what its endpoints hold, counts those holding something, and
// stays within its total.
void check_shared(const Side (&sides)[2], const MemoryBudget& shared) {
  uint64_t used = 0;
  uint64_t holders = 0;
  for (const Side& side : sides) {
    const uint64_t held = side.endpoint.stats().reassembly_bytes;
    used += held;
    holders += held > 0 ? 1 : 0;
  }
  if (shared.used() != used || shared.holders() != holders || shared.used() > shared.limit()) __builtin_trap();
}

// Drives two endpoints joined by a link, as the rest of the input says.
void Run(Input& in, const Options& options, const MemoryBudget& shared);

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  Input in(data, size);
  Options options;
  options.mtu = 128 + in.u16() % 1500;
  options.window = 1 + in.byte() % 64;
  options.send_buffer_bytes = 1024 + in.u32() % (1u << 20);
  options.reassembly_bytes = 1024 + in.u32() % (1u << 20);
  options.reassembly_timeout_us = 1000 + in.u32() % 10'000'000;
  options.max_ack_delay_us = in.u16() * 10u;
  options.min_rto_us = 1000 + in.u16() * 10u;
  options.max_rto_us = options.min_rto_us + in.u32() % 60'000'000;
  // 1024..65536, from bits already read, so that the corpus keeps its meaning.
  options.span = 1024u << ((options.send_buffer_bytes ^ options.reassembly_bytes) % 7);
  // Path MTU discovery on for some inputs, up to a few times the base.
  options.max_mtu = options.mtu + static_cast<uint32_t>(options.max_rto_us % 4) * options.mtu;
  std::memcpy(options.token, "fuzzfuzz", 8);
  // A total shared by both sides, from half to one and a half of one side's own budget, so that
  // its fair shares refuse what each side's own budget would take.
  MemoryBudget shared(options.reassembly_bytes * (1 + options.window % 3) / 2);
  options.shared_budget = &shared;
  Run(in, options, shared);
  // Endpoints gone, everything they held is back.
  if (shared.used() != 0 || shared.holders() != 0) __builtin_trap();
  return 0;
}

namespace {

void Run(Input& in, const Options& options, const MemoryBudget& shared) {
  Side sides[2] = {Side(options), Side(options)};
  uint64_t now = in.u32();
  std::vector<uint8_t> out(65536);

  while (!in.empty()) {
    uint8_t op = in.byte();
    Side& self = sides[op & 1];
    Side& peer = sides[(op & 1) ^ 1];
    switch ((op >> 1) % 8) {
      case 0: {  // send a message
        uint8_t shape = in.byte();
        size_t length = shape < 200 ? in.byte() : shape < 250 ? in.u16() : in.u32() % (1u << 21);
        Mode mode = static_cast<Mode>(in.byte() % 3);
        uint8_t channel = in.byte() % 4;
        uint8_t flags = in.byte() & kPassThroughFlags;
        std::vector<uint8_t> payload(length);
        for (size_t i = 0; i < length; ++i) payload[i] = static_cast<uint8_t>(i * 31 + shape);
        SendStatus status = self.endpoint.send(payload.data(), payload.size(), mode, channel, flags);
        if (status == SendStatus::kInvalid) __builtin_trap();
        break;
      }
      case 1: {  // transmit what is due
        for (int i = 0; i < 64; ++i) {
          const size_t limit = self.endpoint.datagram_limit();
          size_t n = self.endpoint.poll_transmit(now, out.data(), out.size());
          if (n == 0) break;
          if (n < hybridwire::reliable::kTokenSize || n > limit) __builtin_trap();
          if (std::memcmp(out.data(), options.token, 8) != 0) __builtin_trap();
          if (self.outbox.size() < kMaxOutbox) self.outbox.emplace_back(out.begin() + 8, out.begin() + n);
        }
        break;
      }
      case 2:
      case 3: {  // deliver one datagram of the outbox: any of them, maybe mistreated
        if (self.outbox.empty()) break;
        size_t index = in.byte() % self.outbox.size();
        std::vector<uint8_t> datagram = self.outbox[index];
        uint8_t fate = in.byte();
        if ((fate & 3) != 0) self.outbox.erase(self.outbox.begin() + static_cast<std::ptrdiff_t>(index));
        if ((fate & 0x0C) == 0x04 && !datagram.empty()) {
          datagram[in.u16() % datagram.size()] ^= static_cast<uint8_t>(1u << (in.byte() % 8));
        } else if ((fate & 0x0C) == 0x08 && !datagram.empty()) {
          datagram[in.u16() % datagram.size()] = in.byte();
          seal(datagram);
        }
        if ((fate & 0x30) != 0x30) peer.endpoint.receive(datagram.data(), datagram.size(), now, peer.sink);
        break;
      }
      case 4: {  // a datagram from the input itself
        std::vector<uint8_t> datagram = in.take(in.u16() % 2048);
        if (in.byte() & 1) seal(datagram);
        peer.endpoint.receive(datagram.data(), datagram.size(), now, peer.sink);
        break;
      }
      case 5: {  // time passes; timers fire when due
        uint32_t step = in.byte();
        now += step < 128 ? step * 100u : step < 250 ? step * 10'000u : in.u32();
        for (Side& side : sides) {
          if (side.endpoint.next_deadline() <= now) side.endpoint.on_timeout(now);
        }
        break;
      }
      case 6:  // make room the way the overflow policy does
        self.endpoint.drop_oldest_unreliable(in.u16());
        break;
      case 7:
        check_stats(self.endpoint, options);
        check_shared(sides, shared);
        break;
    }
  }
  for (Side& side : sides) check_stats(side.endpoint, options);
  check_shared(sides, shared);
}

}  // namespace
