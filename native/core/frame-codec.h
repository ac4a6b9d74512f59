// The hybridwire frame: a 16-byte header followed by `length` payload bytes (docs/PROTOCOL.md).
//
//   0 version  1 type  2 flags  3 channel  4..7 sequence  8..11 length  12..15 crc32c
//
// All integers little-endian. The CRC32C covers header bytes 0..11 and then the payload.
// Sans-IO: these functions only read and write caller-owned memory.
#pragma once
#include <cstddef>
#include <cstdint>

namespace hybridwire::frame {

constexpr size_t kHeaderSize = 16;
constexpr uint8_t kVersion = 1;
constexpr uint32_t kDefaultMaxPayload = 16u * 1024u * 1024u;
// Each decoded frame is written as this many uint32 values: offset, length, type, flags,
// channel, sequence. `offset` is where the payload starts in the decoded buffer.
constexpr size_t kRowWidth = 6;

// The numbers are part of the binding's contract: ts/codec/frame.ts maps them to codes and messages.
enum class DecodeError : uint32_t {
  kNone = 0,
  kBadVersion = 1,
  kBadChecksum = 2,
  kTooLarge = 3,
  kTruncated = 4,  // only from decode_datagram: the datagram ends inside a frame
};

struct Header {
  uint8_t version = kVersion;
  uint8_t type = 0;
  uint8_t flags = 0;
  uint8_t channel = 0;
  uint32_t sequence = 0;
  uint32_t length = 0;
};

struct DecodeResult {
  size_t frames = 0;      // rows written
  size_t consumed = 0;    // offset just past the last complete frame (or of the bad frame)
  DecodeError error = DecodeError::kNone;
  // When no error and bytes remain after `consumed`: the whole size of the next frame if its
  // header is complete, else kHeaderSize. Zero when the input ended on a frame boundary.
  size_t needed = 0;
};

// Parses complete frames from data[start, length) into rows (kRowWidth uint32 per frame) until
// the input ends, an incomplete frame begins, max_rows rows are written, or an error is found.
// Every frame's checksum is verified before its row is written.
DecodeResult decode_stream(const uint8_t* data, size_t length, size_t start, uint32_t max_payload,
                           uint32_t* rows, size_t max_rows);

// As decode_stream, but the buffer is one datagram: an incomplete frame at its end is kTruncated.
DecodeResult decode_datagram(const uint8_t* data, size_t length, uint32_t max_payload,
                             uint32_t* rows, size_t max_rows);

// Writes the 16-byte header for `payload` into out (which must hold kHeaderSize bytes), with its
// checksum. header.length is ignored: the payload length is used.
void write_header(const Header& header, const uint8_t* payload, size_t payload_length, uint8_t* out);

// Computes and stores the checksum of a frame whose header and payload are contiguous at `frame`
// (header bytes 0..11 already written). Returns false if the frame does not fit in `available`.
bool seal_frame(uint8_t* frame, size_t available);

bool read_header(const uint8_t* data, size_t length, Header* header);

}  // namespace hybridwire::frame
