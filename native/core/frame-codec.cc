#include "core/frame-codec.h"

#include <cstring>

#include "core/crc32c.h"

namespace hybridwire::frame {
namespace {

inline uint32_t Load32(const uint8_t* p) {
  return static_cast<uint32_t>(p[0]) | (static_cast<uint32_t>(p[1]) << 8) |
         (static_cast<uint32_t>(p[2]) << 16) | (static_cast<uint32_t>(p[3]) << 24);
}

inline void Store32(uint8_t* p, uint32_t value) {
  p[0] = static_cast<uint8_t>(value);
  p[1] = static_cast<uint8_t>(value >> 8);
  p[2] = static_cast<uint8_t>(value >> 16);
  p[3] = static_cast<uint8_t>(value >> 24);
}

inline uint32_t FrameChecksum(const uint8_t* header, const uint8_t* payload, size_t payload_length) {
  return crc32c(crc32c(0, header, 12), payload, payload_length);
}

DecodeResult Decode(const uint8_t* data, size_t length, size_t start, uint32_t max_payload,
                    uint32_t* rows, size_t max_rows, bool datagram) {
  DecodeResult result;
  size_t position = start > length ? length : start;
  result.consumed = position;
  while (result.frames < max_rows) {
    size_t remaining = length - position;
    if (remaining == 0) break;
    if (remaining < kHeaderSize) {
      if (data[position] != kVersion) {
        result.error = DecodeError::kBadVersion;
      } else if (datagram) {
        result.error = DecodeError::kTruncated;
      } else {
        result.needed = kHeaderSize;
      }
      break;
    }
    const uint8_t* header = data + position;
    if (header[0] != kVersion) {
      result.error = DecodeError::kBadVersion;
      break;
    }
    uint32_t payload_length = Load32(header + 8);
    if (payload_length > max_payload) {
      result.error = DecodeError::kTooLarge;
      break;
    }
    if (payload_length > remaining - kHeaderSize) {
      if (datagram) {
        result.error = DecodeError::kTruncated;
      } else {
        result.needed = kHeaderSize + payload_length;
      }
      break;
    }
    const uint8_t* payload = header + kHeaderSize;
    if (FrameChecksum(header, payload, payload_length) != Load32(header + 12)) {
      result.error = DecodeError::kBadChecksum;
      break;
    }
    uint32_t* row = rows + result.frames * kRowWidth;
    row[0] = static_cast<uint32_t>(position + kHeaderSize);
    row[1] = payload_length;
    row[2] = header[1];
    row[3] = header[2];
    row[4] = header[3];
    row[5] = Load32(header + 4);
    ++result.frames;
    position += kHeaderSize + payload_length;
    result.consumed = position;
  }
  return result;
}

}  // namespace

DecodeResult decode_stream(const uint8_t* data, size_t length, size_t start, uint32_t max_payload,
                           uint32_t* rows, size_t max_rows) {
  return Decode(data, length, start, max_payload, rows, max_rows, false);
}

DecodeResult decode_datagram(const uint8_t* data, size_t length, uint32_t max_payload,
                             uint32_t* rows, size_t max_rows) {
  return Decode(data, length, 0, max_payload, rows, max_rows, true);
}

void write_header(const Header& header, const uint8_t* payload, size_t payload_length, uint8_t* out) {
  out[0] = header.version;
  out[1] = header.type;
  out[2] = header.flags;
  out[3] = header.channel;
  Store32(out + 4, header.sequence);
  Store32(out + 8, static_cast<uint32_t>(payload_length));
  Store32(out + 12, FrameChecksum(out, payload, payload_length));
}

bool seal_frame(uint8_t* frame, size_t available) {
  if (available < kHeaderSize) return false;
  uint32_t payload_length = Load32(frame + 8);
  if (payload_length > available - kHeaderSize) return false;
  Store32(frame + 12, FrameChecksum(frame, frame + kHeaderSize, payload_length));
  return true;
}

bool read_header(const uint8_t* data, size_t length, Header* header) {
  if (length < kHeaderSize) return false;
  header->version = data[0];
  header->type = data[1];
  header->flags = data[2];
  header->channel = data[3];
  header->sequence = Load32(data + 4);
  header->length = Load32(data + 8);
  return true;
}

}  // namespace hybridwire::frame
