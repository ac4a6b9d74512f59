// How a message is cut into frames. A message that fits in one frame is sent whole; a larger one
// is cut into `count` fragments that take consecutive sequence numbers of its space, each
// carrying a 12-byte fragment prefix (wire.h) and `fragment_size` bytes, except the last, which
// carries the rest (1..fragment_size bytes). A message keeps the fragment size it was cut with,
// whatever the datagram size later becomes (path MTU discovery): its frames are resent unchanged.
#pragma once
#include <cstdint>

#include "core/frame-codec.h"
#include "core/reliable/sequence.h"
#include "core/reliable/wire.h"

namespace hybridwire::reliable {

// Room kept free in each datagram that carries a full-size frame, so that an acknowledgement
// (a range-less ACK is 22 bytes, one with two ranges 30) can ride along instead of needing a
// datagram of its own.
constexpr uint32_t kAckReserve = 32;
constexpr uint32_t kMinMtu = 128;
constexpr uint32_t kMaxMtu = 65507;  // the largest UDP payload over IPv4

class Fragmenter {
 public:
  explicit Fragmenter(uint32_t mtu)
      : max_whole_(mtu - static_cast<uint32_t>(kTokenSize + frame::kHeaderSize) - kAckReserve),
        fragment_size_(max_whole_ - static_cast<uint32_t>(wire::kFragmentPrefixSize)) {}

  // Largest message sent as a single frame.
  uint32_t max_whole() const { return max_whole_; }
  // Bytes of message data in each fragment but the last.
  uint32_t fragment_size() const { return fragment_size_; }

  uint64_t count(uint64_t size) const {
    return size <= max_whole_ ? 1 : (size + fragment_size_ - 1) / fragment_size_;
  }
  // Data bytes of fragment `index` of a message of `size` bytes cut into `count` frames of
  // `fragment_size` data bytes.
  static uint32_t data_size(uint32_t fragment_size, uint32_t size, uint32_t count, uint32_t index) {
    if (count == 1) return size;
    return index + 1 < count ? fragment_size : size - fragment_size * (count - 1);
  }
  static uint32_t frame_size(uint32_t fragment_size, uint32_t size, uint32_t count, uint32_t index) {
    uint32_t prefix = count == 1 ? 0 : static_cast<uint32_t>(wire::kFragmentPrefixSize);
    return static_cast<uint32_t>(frame::kHeaderSize) + prefix + data_size(fragment_size, size, count, index);
  }

 private:
  uint32_t max_whole_;
  uint32_t fragment_size_;
};

}  // namespace hybridwire::reliable
