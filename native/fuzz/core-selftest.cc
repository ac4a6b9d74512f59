// A sanitizer run of the native core without Node: built with ASan and UBSan (no libFuzzer) and
// run by scripts/fuzz.sh before the fuzzers. It exercises the paths that the Node tests reach
// only through the binding — the CRC32C hardware path against the software one at every
// alignment and across every block boundary, and frame encode/decode over every chunk split —
// so that an out-of-bounds read or undefined behaviour shows up as a sanitizer report here.
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <vector>

#include "core/crc32c.h"
#include "core/frame-codec.h"

namespace {

using namespace hybridwire;

int failures = 0;

#define EXPECT(condition)                                                           \
  do {                                                                              \
    if (!(condition)) {                                                             \
      std::fprintf(stderr, "%s:%d: expected %s\n", __FILE__, __LINE__, #condition); \
      ++failures;                                                                   \
    }                                                                               \
  } while (0)

uint32_t NextRandom(uint32_t& state) {
  state ^= state << 13;
  state ^= state >> 17;
  state ^= state << 5;
  return state;
}

void TestCrc32c() {
  const char* check = "123456789";
  EXPECT(crc32c_software(0, reinterpret_cast<const uint8_t*>(check), 9) == 0xE3069283u);
  EXPECT(crc32c(0, reinterpret_cast<const uint8_t*>(check), 9) == 0xE3069283u);
  if (!crc32c_hardware_available()) {
    std::printf("core-selftest: no CRC32C instruction on this CPU; hardware path not tested\n");
    return;
  }
  // Each length is copied into a buffer of exactly its size at each alignment, so that ASan
  // catches a read of even one byte past the end.
  uint32_t state = 12345;
  std::vector<size_t> lengths;
  for (size_t length = 0; length <= 1100; ++length) lengths.push_back(length);
  for (size_t length : {8191, 8192, 8193, 24575, 24576, 24577, 49152, 65536, 70001}) {
    lengths.push_back(length);
  }
  for (size_t length : lengths) {
    for (size_t offset = 0; offset < 8; ++offset) {
      std::vector<uint8_t> storage(offset + length);
      for (uint8_t& byte : storage) byte = static_cast<uint8_t>(NextRandom(state));
      const uint8_t* data = storage.data() + offset;
      uint32_t seed = NextRandom(state);
      uint32_t software = crc32c_software(seed, data, length);
      if (crc32c_hardware(seed, data, length) != software) {
        std::fprintf(stderr, "crc32c: hardware != software at length %zu offset %zu\n", length, offset);
        ++failures;
      }
    }
  }
}

// Encodes frames of assorted sizes into one stream, then decodes it fed from every start offset
// with a one-row table (the smallest), checking each frame against what was encoded.
void TestFrames() {
  uint32_t state = 777;
  std::vector<uint8_t> stream;
  std::vector<frame::Header> headers;
  std::vector<std::vector<uint8_t>> payloads;
  for (size_t i = 0; i < 40; ++i) {
    frame::Header header;
    header.type = static_cast<uint8_t>(i);
    header.flags = static_cast<uint8_t>(NextRandom(state));
    header.channel = static_cast<uint8_t>(i % 5);
    header.sequence = NextRandom(state);
    std::vector<uint8_t> payload(i * i % 300);
    for (uint8_t& byte : payload) byte = static_cast<uint8_t>(NextRandom(state));
    uint8_t encoded[frame::kHeaderSize];
    frame::write_header(header, payload.data(), payload.size(), encoded);
    stream.insert(stream.end(), encoded, encoded + frame::kHeaderSize);
    stream.insert(stream.end(), payload.begin(), payload.end());
    headers.push_back(header);
    payloads.push_back(std::move(payload));
  }

  std::vector<uint32_t> row(frame::kRowWidth);
  size_t position = 0;
  for (size_t i = 0; i < headers.size(); ++i) {
    frame::DecodeResult result = frame::decode_stream(stream.data(), stream.size(), position,
                                                      frame::kDefaultMaxPayload, row.data(), 1);
    EXPECT(result.error == frame::DecodeError::kNone && result.frames == 1);
    if (result.frames != 1) return;
    EXPECT(row[1] == payloads[i].size() && row[2] == headers[i].type);
    EXPECT(row[3] == headers[i].flags && row[4] == headers[i].channel);
    EXPECT(row[5] == headers[i].sequence);
    EXPECT(std::equal(payloads[i].begin(), payloads[i].end(), stream.begin() + row[0]));
    position = result.consumed;
  }
  EXPECT(position == stream.size());

  // Every prefix of the stream decodes to whole frames only, and asks for the rest.
  std::vector<uint32_t> rows(headers.size() * frame::kRowWidth);
  for (size_t cut = 0; cut <= stream.size(); ++cut) {
    std::vector<uint8_t> prefix(stream.begin(), stream.begin() + cut);
    frame::DecodeResult result = frame::decode_stream(prefix.data(), prefix.size(), 0,
                                                      frame::kDefaultMaxPayload, rows.data(),
                                                      headers.size());
    EXPECT(result.error == frame::DecodeError::kNone);
    EXPECT(result.consumed <= cut && (result.consumed == cut) == (result.needed == 0));
    frame::DecodeResult datagram = frame::decode_datagram(
        prefix.data(), prefix.size(), frame::kDefaultMaxPayload, rows.data(), headers.size());
    EXPECT(datagram.error == (result.needed == 0 ? frame::DecodeError::kNone
                                                 : frame::DecodeError::kTruncated));
  }

  // Any flipped bit is reported, never accepted: in the version byte as a bad version, in the
  // length as a bad checksum, a too-large frame or a truncated one, elsewhere as a bad checksum.
  for (size_t bit = 0; bit < stream.size() * 8; bit += 7) {
    std::vector<uint8_t> corrupt(stream);
    corrupt[bit / 8] ^= static_cast<uint8_t>(1u << (bit % 8));
    frame::DecodeResult result = frame::decode_datagram(
        corrupt.data(), corrupt.size(), 1024, rows.data(), headers.size());
    EXPECT(result.error != frame::DecodeError::kNone);
  }
}

}  // namespace

// seal-selftest.cc: sealed datagrams and their anti-replay window; returns its failures.
int TestSeal();

int main() {
  TestCrc32c();
  TestFrames();
  failures += TestSeal();
  if (failures != 0) {
    std::fprintf(stderr, "core-selftest: %d failures\n", failures);
    return 1;
  }
  std::printf("core-selftest: CRC32C, frame codec and sealed datagrams passed under ASan and UBSan\n");
  return 0;
}
