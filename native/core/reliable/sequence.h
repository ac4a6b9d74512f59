// Vocabulary shared by the reliable-UDP machinery: modes, sequence spaces, serial arithmetic and
// the wire constants it owns (docs/PROTOCOL.md, section 7).
#pragma once
#include <cstddef>
#include <cstdint>

namespace hybridwire::reliable {

constexpr size_t kTokenSize = 8;
constexpr uint8_t kTypeMessage = 0x04;
constexpr uint8_t kTypeAck = 0x05;
// Path MTU probes and their answers (docs/PROTOCOL.md 7.7): ignorable types, so that a peer that
// does not know them skips them, and the sender's search finds nothing larger than the base.
constexpr uint8_t kTypeMtuProbe = 0x80;
constexpr uint8_t kTypeMtuAck = 0x81;

namespace flag {
constexpr uint8_t kFragment = 0x04;
constexpr uint8_t kReliable = 0x08;
constexpr uint8_t kUnordered = 0x80;
// The bits this layer writes and reads on MESSAGE frames. The others (compressed, encrypted,
// batch, priority, extensions) describe the payload, which is opaque here: they pass through.
constexpr uint8_t kOwned = kFragment | kReliable | kUnordered;
}  // namespace flag

enum class Mode : uint8_t { kUnreliable = 0, kReliableOrdered = 1, kReliableUnordered = 2 };

constexpr uint32_t kChannels = 256;
// Reliable sequence spaces: ordered channel c is space c, unordered channel c is 256 + c.
constexpr uint32_t kReliableSpaces = 2 * kChannels;

inline uint32_t space_of(Mode mode, uint8_t channel) {
  return mode == Mode::kReliableUnordered ? kChannels + channel : channel;
}

// The span of a reliable space: how far past its oldest unacknowledged sequence a sender may
// transmit, and so how many sequences a receiver tracks past its cumulative point. Agreed per
// session (docs/PROTOCOL.md 7.2, `udp.span` in the handshake; kMinSpan when a peer does not say):
// a power of two from kMinSpan to kMaxSpan (the largest whose every distance fits the u16 gaps and
// lengths of ACK ranges). The windows' rings start small and grow to it as a space needs them.
constexpr uint32_t kMinSpan = 1024;
constexpr uint32_t kMaxSpan = 65536;
constexpr uint32_t kDefaultSpan = 16384;
// The largest power of two within [kMinSpan, kMaxSpan] not above `span`.
inline uint32_t clamp_span(uint64_t span) {
  uint32_t result = kMinSpan;
  while (result < kMaxSpan && uint64_t{result} * 2 <= span) result *= 2;
  return result;
}
// The unreliable duplicate filter's span, fixed: also the most fragments an unreliable message
// may have. A power of two.
constexpr uint32_t kReplaySpan = 1024;
constexpr uint32_t kReplayMask = kReplaySpan - 1;
// Sequence numbers are u32 and wrap: a - b as a signed distance (RFC 1982 serial arithmetic).
inline int32_t seq_diff(uint32_t a, uint32_t b) { return static_cast<int32_t>(a - b); }

// Bookkeeping charged per buffered message on top of its bytes, by the receiver for what it
// holds and by the sender for what it lets the receiver hold, so that both count alike.
constexpr uint64_t kMessageOverhead = 64;

}  // namespace hybridwire::reliable
