// libFuzzer harness for the frame decoder (native/core/frame-codec.h).
//
// Input: two control bytes, then the bytes to decode.
//   control[0]  bit 0 clear: max_payload = kDefaultMaxPayload; set: max_payload = control[0] >> 1
//               (0..127), so that the too-large check is reachable with small inputs
//   control[1]  bits 0-2: row table of 1..8 rows; bits 3-7: decode_stream start offset 0..31
//
// The bytes go through decode_stream and decode_datagram, each with an exactly sized row table
// (so ASan sees any write past it), and every result is checked against what the bytes say:
// rows lie inside the input, follow one another, carry the header's fields and a matching
// checksum, and the reported error or `needed` is the right one. Every decoded frame is then
// re-encoded with write_header and must come out byte for byte the same.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "core/crc32c.h"
#include "core/frame-codec.h"

namespace {

using namespace hybridwire;
using frame::DecodeError;
using frame::DecodeResult;
using frame::kHeaderSize;
using frame::kRowWidth;

#define FUZZ_CHECK(condition)                                                          \
  do {                                                                                 \
    if (!(condition)) {                                                                \
      std::fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #condition); \
      std::abort();                                                                    \
    }                                                                                  \
  } while (0)

uint32_t Load32(const uint8_t* p) {
  return static_cast<uint32_t>(p[0]) | (static_cast<uint32_t>(p[1]) << 8) |
         (static_cast<uint32_t>(p[2]) << 16) | (static_cast<uint32_t>(p[3]) << 24);
}

uint32_t Checksum(const uint8_t* header, const uint8_t* payload, size_t payload_length) {
  return crc32c(crc32c(0, header, 12), payload, payload_length);
}

// Checks one decode of data[start, length) against the bytes themselves. Returns the end of the
// last decoded frame, for comparing the two decoders.
void CheckResult(const uint8_t* data, size_t length, size_t start, uint32_t max_payload,
                 const std::vector<uint32_t>& rows, size_t max_rows, const DecodeResult& result,
                 bool datagram) {
  FUZZ_CHECK(result.frames <= max_rows);
  size_t position = start < length ? start : length;
  for (size_t i = 0; i < result.frames; ++i) {
    const uint32_t* row = &rows[i * kRowWidth];
    size_t offset = row[0];
    size_t payload_length = row[1];
    // Frames follow one another from `start`, and each lies inside the input.
    FUZZ_CHECK(offset == position + kHeaderSize);
    FUZZ_CHECK(payload_length <= max_payload);
    FUZZ_CHECK(offset <= length && payload_length <= length - offset);
    const uint8_t* header = data + position;
    FUZZ_CHECK(header[0] == frame::kVersion);
    FUZZ_CHECK(row[2] == header[1] && row[3] == header[2] && row[4] == header[3]);
    FUZZ_CHECK(row[5] == Load32(header + 4) && payload_length == Load32(header + 8));
    FUZZ_CHECK(Checksum(header, data + offset, payload_length) == Load32(header + 12));

    // Re-encoding the decoded fields must reproduce the header exactly.
    frame::Header fields;
    FUZZ_CHECK(frame::read_header(header, kHeaderSize, &fields));
    uint8_t encoded[kHeaderSize];
    frame::write_header(fields, data + offset, payload_length, encoded);
    FUZZ_CHECK(std::memcmp(encoded, header, kHeaderSize) == 0);

    position = offset + payload_length;
  }
  FUZZ_CHECK(result.consumed == position);

  size_t remaining = length - position;
  if (result.frames == max_rows && result.error == DecodeError::kNone) return;  // rows ran out
  const uint8_t* next = data + position;
  switch (result.error) {
    case DecodeError::kNone:
      if (remaining == 0) {
        FUZZ_CHECK(result.needed == 0);
      } else {
        // Only a stream stops without an error before the end, and only at an incomplete frame.
        FUZZ_CHECK(!datagram);
        FUZZ_CHECK(next[0] == frame::kVersion);
        if (remaining < kHeaderSize) {
          FUZZ_CHECK(result.needed == kHeaderSize);
        } else {
          FUZZ_CHECK(result.needed == kHeaderSize + Load32(next + 8));
          FUZZ_CHECK(Load32(next + 8) <= max_payload);
          FUZZ_CHECK(result.needed > remaining);
        }
      }
      break;
    case DecodeError::kBadVersion:
      FUZZ_CHECK(remaining > 0 && next[0] != frame::kVersion);
      break;
    case DecodeError::kTooLarge:
      FUZZ_CHECK(remaining >= kHeaderSize && Load32(next + 8) > max_payload);
      break;
    case DecodeError::kBadChecksum: {
      FUZZ_CHECK(remaining >= kHeaderSize);
      uint32_t payload_length = Load32(next + 8);
      FUZZ_CHECK(payload_length <= remaining - kHeaderSize);
      FUZZ_CHECK(Checksum(next, next + kHeaderSize, payload_length) != Load32(next + 12));
      break;
    }
    case DecodeError::kTruncated:
      FUZZ_CHECK(datagram && remaining > 0 && next[0] == frame::kVersion);
      FUZZ_CHECK(remaining < kHeaderSize || kHeaderSize + Load32(next + 8) > remaining);
      break;
    default:
      FUZZ_CHECK(!"unknown error value");
  }
}

// Encodes one frame whose fields and payload come from the input, then decodes it back.
void CheckRoundTrip(const uint8_t* data, size_t length) {
  frame::Header header;
  header.type = length > 0 ? data[0] : 0;
  header.flags = length > 1 ? data[1] : 0;
  header.channel = length > 2 ? data[2] : 0;
  header.sequence = length > 6 ? Load32(data + 3) : 0;
  std::vector<uint8_t> encoded(kHeaderSize + length);
  if (length > 0) std::memcpy(encoded.data() + kHeaderSize, data, length);
  frame::write_header(header, data, length, encoded.data());

  std::vector<uint8_t> sealed(encoded);
  std::memset(sealed.data() + 12, 0, 4);
  FUZZ_CHECK(frame::seal_frame(sealed.data(), sealed.size()));
  FUZZ_CHECK(sealed == encoded);
  FUZZ_CHECK(!frame::seal_frame(sealed.data(), sealed.size() - 1));  // one byte short

  std::vector<uint32_t> rows(kRowWidth);
  DecodeResult result = frame::decode_datagram(encoded.data(), encoded.size(),
                                               static_cast<uint32_t>(length), rows.data(), 1);
  FUZZ_CHECK(result.error == DecodeError::kNone && result.frames == 1);
  FUZZ_CHECK(result.consumed == encoded.size());
  FUZZ_CHECK(rows[0] == kHeaderSize && rows[1] == length);
  FUZZ_CHECK(rows[2] == header.type && rows[3] == header.flags && rows[4] == header.channel);
  FUZZ_CHECK(rows[5] == header.sequence);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* input, size_t size) {
  if (size < 2) return 0;
  const uint32_t max_payload =
      (input[0] & 1) ? static_cast<uint32_t>(input[0] >> 1) : frame::kDefaultMaxPayload;
  const size_t max_rows = 1 + (input[1] & 7);
  const size_t start = input[1] >> 3;
  const uint8_t* data = input + 2;
  const size_t length = size - 2;

  std::vector<uint32_t> stream_rows(max_rows * kRowWidth);
  DecodeResult stream =
      frame::decode_stream(data, length, start, max_payload, stream_rows.data(), max_rows);
  CheckResult(data, length, start, max_payload, stream_rows, max_rows, stream, false);

  std::vector<uint32_t> datagram_rows(max_rows * kRowWidth);
  DecodeResult datagram =
      frame::decode_datagram(data, length, max_payload, datagram_rows.data(), max_rows);
  CheckResult(data, length, 0, max_payload, datagram_rows, max_rows, datagram, true);

  // From the same place, the two decoders see the same frames; where the stream waits for more
  // bytes, the datagram is truncated.
  if (start == 0) {
    FUZZ_CHECK(stream.frames == datagram.frames && stream.consumed == datagram.consumed);
    FUZZ_CHECK(stream_rows == datagram_rows);
    bool waits = stream.error == DecodeError::kNone && stream.needed != 0;
    FUZZ_CHECK(waits ? datagram.error == DecodeError::kTruncated : datagram.error == stream.error);
  }

  CheckRoundTrip(data, length);

  // The checksum under all of this: on any bytes, the hardware path agrees with the tables.
  if (crc32c_hardware_available()) {
    FUZZ_CHECK(crc32c_hardware(max_payload, data, length) ==
               crc32c_software(max_payload, data, length));
  }
  return 0;
}
