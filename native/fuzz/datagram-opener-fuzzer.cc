// libFuzzer harness for the opener of sealed datagrams (native/core/crypto/datagram-seal.h).
//
// The input is a program for one sealer and one opener that share keys: seal frames taken from
// the input and deliver them, intact, bit-flipped, truncated, extended, again (a replay) or much
// later (records skipped, as if lost); feed raw bytes as a datagram (any record number, any length); judge without accepting.
// Checked for any input, beside ASan and UBSan: an altered datagram never opens; an intact one
// opens once with exactly its frames, unless it is too old for the window (more than
// AntiReplayWindow::kSize behind the largest accepted) or was accepted before; what the opener
// says agrees with a plain model of the records it accepted; its counters add up.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <set>
#include <vector>

#include "core/crypto/datagram-seal.h"

namespace {

using namespace hybridwire;
using crypto::OpenResult;

class Input {
 public:
  Input(const uint8_t* data, size_t size) : data_(data), size_(size) {}
  bool empty() const { return position_ >= size_; }
  uint8_t byte() { return position_ < size_ ? data_[position_++] : 0; }
  uint32_t u16() { return byte() | (uint32_t{byte()} << 8); }
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

const uint8_t kToken[crypto::kTokenSize] = {0x74, 0x6f, 0x6b, 0x65, 0x6e, 0x41, 0x41, 0x41};

template <typename Side>
void InstallWanted(Side& side) {
  for (uint64_t epoch = side.wanted_epoch(); epoch != crypto::kNoEpoch; epoch = side.wanted_epoch()) {
    uint8_t key[crypto::kKeySize];
    uint8_t iv[crypto::kIvSize];
    for (size_t i = 0; i < sizeof key; ++i) key[i] = static_cast<uint8_t>(epoch + i);
    for (size_t i = 0; i < sizeof iv; ++i) iv[i] = static_cast<uint8_t>(epoch * 3 + i);
    if (!side.install(epoch, key, iv)) __builtin_trap();
  }
}

struct Sent {
  uint64_t record;
  std::vector<uint8_t> frames;
  std::vector<uint8_t> datagram;  // token included
};

uint64_t RecordOf(const std::vector<uint8_t>& datagram) {
  uint64_t record = 0;
  for (size_t i = 0; i < 8; ++i) record |= uint64_t{datagram[crypto::kTokenSize + i]} << (8 * i);
  return record;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  Input input(data, size);
  const uint8_t setup = input.byte();
  const auto algorithm = (setup & 1) ? crypto::Algorithm::kChaCha20Poly1305 : crypto::Algorithm::kAes256Gcm;
  // Start near an epoch boundary sometimes, so that key changes are reached.
  const uint64_t first = (setup & 2) ? (uint64_t{1} << crypto::kEpochShift) - (input.byte() % 8) : input.byte();
  auto sealer = std::make_unique<crypto::DatagramSealer>(algorithm, kToken, first);
  crypto::DatagramOpener opener(algorithm, kToken, (setup & 4) ? 4 : crypto::integrity_limit(algorithm));
  InstallWanted(*sealer);
  InstallWanted(opener);

  std::vector<Sent> sent;
  std::set<uint64_t> accepted;
  uint64_t largest = 0;
  uint64_t attempts = 0;
  uint64_t outcomes[4] = {};

  // Opens a copy of `datagram` and checks the verdict against what it must be.
  auto deliver = [&](std::vector<uint8_t> datagram, const Sent* genuine, bool accept) {
    const bool limit_before = opener.limit_reached();
    size_t frames_length = 0;
    OpenResult result = OpenResult::kUnopened;
    if (datagram.size() < crypto::kTokenSize) return;
    result = opener.open(datagram.data() + crypto::kTokenSize, datagram.size() - crypto::kTokenSize, accept,
                         &frames_length);
    ++attempts;
    ++outcomes[static_cast<int>(result)];
    if (limit_before && result != OpenResult::kLimitReached) __builtin_trap();
    if (result == OpenResult::kOpened) {
      // Only a genuine datagram opens, with its own frames, once.
      if (genuine == nullptr || frames_length != genuine->frames.size()) __builtin_trap();
      if (frames_length != 0 &&
          std::memcmp(datagram.data() + crypto::kTokenSize + crypto::kRecordNumberSize, genuine->frames.data(),
                      frames_length) != 0) {
        __builtin_trap();
      }
      if (accepted.count(genuine->record) != 0) __builtin_trap();
      if (largest >= reliable::AntiReplayWindow::kSize && genuine->record <= largest - reliable::AntiReplayWindow::kSize) {
        __builtin_trap();
      }
      if (accept) {
        accepted.insert(genuine->record);
        if (genuine->record > largest) largest = genuine->record;
      }
    } else if (genuine != nullptr && result == OpenResult::kUnopened && !opener.limit_reached()) {
      // An intact datagram fails only for want of keys: an epoch other than the opener's near ones.
      const uint64_t epoch = crypto::epoch_of(genuine->record);
      const uint64_t current = crypto::epoch_of(largest);
      if (epoch + 1 >= current && epoch <= current + 1) __builtin_trap();
    } else if (genuine != nullptr && result == OpenResult::kReplayed) {
      const bool old = largest >= reliable::AntiReplayWindow::kSize && genuine->record <= largest - reliable::AntiReplayWindow::kSize;
      if (accepted.count(genuine->record) == 0 && !old) __builtin_trap();
    }
    InstallWanted(opener);
  };

  while (!input.empty()) {
    const uint8_t operation = input.byte();
    switch (operation % 6) {
      case 0: {  // seal frames from the input
        Sent next;
        next.frames = input.take(input.u16() % 2048);
        next.record = sealer->next_record();
        next.datagram.resize(next.frames.size() + crypto::kTokenSize + crypto::kSealOverhead);
        const size_t written = sealer->seal(next.frames.data(), next.frames.size(), next.datagram.data(), next.datagram.size());
        if (written != next.datagram.size() || RecordOf(next.datagram) != next.record) __builtin_trap();
        InstallWanted(*sealer);
        if (sent.size() < 256) sent.push_back(std::move(next));
        break;
      }
      case 1:  // deliver a sealed one intact (again: a replay), accepted or only judged
        if (!sent.empty()) {
          const Sent& one = sent[input.byte() % sent.size()];
          deliver(one.datagram, &one, (operation & 0x80) == 0);
        }
        break;
      case 2:  // deliver one with bytes past the token changed
        if (!sent.empty()) {
          const Sent& one = sent[input.byte() % sent.size()];
          std::vector<uint8_t> altered = one.datagram;
          const size_t span = altered.size() - crypto::kTokenSize;
          const size_t at = crypto::kTokenSize + input.u16() % span;
          const uint8_t mask = input.byte();
          altered[at] ^= mask == 0 ? 1 : mask;
          deliver(altered, nullptr, true);
        }
        break;
      case 3:  // deliver one cut short or with bytes added
        if (!sent.empty()) {
          const Sent& one = sent[input.byte() % sent.size()];
          std::vector<uint8_t> altered = one.datagram;
          if (operation & 0x40) {
            std::vector<uint8_t> extra = input.take(1 + input.byte() % 32);
            if (extra.empty()) extra.push_back(0);
            altered.insert(altered.end(), extra.begin(), extra.end());
          } else {
            altered.resize(crypto::kTokenSize + input.u16() % (altered.size() - crypto::kTokenSize));
          }
          deliver(altered, nullptr, true);
        }
        break;
      case 4: {  // raw bytes from the input as a datagram past the token
        std::vector<uint8_t> raw(kToken, kToken + crypto::kTokenSize);
        std::vector<uint8_t> body = input.take(input.u16() % 256);
        raw.insert(raw.end(), body.begin(), body.end());
        deliver(raw, nullptr, (operation & 0x80) == 0);
        break;
      }
      case 5:  // skip up to 32,767 records (as if sealed and lost), so that early ones fall out of the window
        sealer = std::make_unique<crypto::DatagramSealer>(algorithm, kToken, sealer->next_record() + 1 + input.u16() % 32768);
        InstallWanted(*sealer);
        break;
    }
  }
  if (opener.opened() != outcomes[0] || opener.unopened() + opener.replayed() + opener.opened() > attempts) __builtin_trap();
  if (opener.replayed() != outcomes[2]) __builtin_trap();
  return 0;
}
