// Part of core-selftest: sealed datagrams (native/core/crypto) and their anti-replay window
// (native/core/reliable/anti-replay-window.h) under ASan and UBSan, with OpenSSL's AEADs checked
// against published answers first, so that a wrong nonce or tag layout cannot pass as a round trip.
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <vector>

#include "core/crypto/aead.h"
#include "core/crypto/datagram-seal.h"
#include "core/reliable/anti-replay-window.h"

namespace {

using namespace hybridwire;
using crypto::Algorithm;
using crypto::OpenResult;
using reliable::AntiReplayWindow;

int failures = 0;

#define EXPECT(condition)                                                           \
  do {                                                                              \
    if (!(condition)) {                                                             \
      std::fprintf(stderr, "%s:%d: expected %s\n", __FILE__, __LINE__, #condition); \
      ++failures;                                                                   \
    }                                                                               \
  } while (0)

std::vector<uint8_t> Hex(const char* text) {
  std::vector<uint8_t> bytes;
  for (size_t i = 0; text[i] != 0 && text[i + 1] != 0; i += 2) {
    auto nibble = [](char c) { return static_cast<uint8_t>(c <= '9' ? c - '0' : c - 'a' + 10); };
    bytes.push_back(static_cast<uint8_t>(nibble(text[i]) << 4 | nibble(text[i + 1])));
  }
  return bytes;
}

// The GCM specification's test cases 13 and 14 (AES-256, zero key and IV) and RFC 8439 section
// 2.8.2 (ChaCha20-Poly1305), with record 0 so that the nonce is the IV itself.
void TestKnownAnswers() {
  const uint8_t zero[32] = {};
  uint8_t tag[crypto::kTagSize];
  uint8_t block[16] = {};
  crypto::AeadKey aes(Algorithm::kAes256Gcm, crypto::AeadKey::Direction::kSeal, zero, zero);
  EXPECT(aes.seal(0, nullptr, 0, block, 0, block, tag));
  EXPECT(std::memcmp(tag, Hex("530f8afbc74536b9a963b4f1c4cb738b").data(), 16) == 0);
  EXPECT(aes.seal(0, nullptr, 0, block, 16, block, tag));
  EXPECT(std::memcmp(block, Hex("cea7403d4d606b6e074ec5d3baf39d18").data(), 16) == 0);
  EXPECT(std::memcmp(tag, Hex("d0d1c8a799996bf0265b98b5d48ab919").data(), 16) == 0);

  std::vector<uint8_t> key(32);
  for (size_t i = 0; i < 32; ++i) key[i] = static_cast<uint8_t>(0x80 + i);
  const std::vector<uint8_t> nonce = Hex("070000004041424344454647");
  const std::vector<uint8_t> aad = Hex("50515253c0c1c2c3c4c5c6c7");
  const char* text =
      "Ladies and Gentlemen of the class of '99: If I could offer you only one tip for the future, sunscreen would be it.";
  std::vector<uint8_t> message(text, text + std::strlen(text));
  crypto::AeadKey chacha(Algorithm::kChaCha20Poly1305, crypto::AeadKey::Direction::kSeal, key.data(), nonce.data());
  EXPECT(chacha.seal(0, aad.data(), aad.size(), message.data(), message.size(), message.data(), tag));
  EXPECT(std::memcmp(message.data(), Hex("d31a8d34648e60db7b86afbc53ef7ec2").data(), 16) == 0);
  EXPECT(std::memcmp(tag, Hex("1ae10b594f09e26a7e902ecbd0600691").data(), 16) == 0);
  crypto::AeadKey opener(Algorithm::kChaCha20Poly1305, crypto::AeadKey::Direction::kOpen, key.data(), nonce.data());
  EXPECT(opener.open(0, aad.data(), aad.size(), message.data(), message.size(), tag, message.data()));
  EXPECT(std::memcmp(message.data(), text, message.size()) == 0);
  tag[0] ^= 1;
  EXPECT(!opener.open(0, aad.data(), aad.size(), message.data(), message.size(), tag, message.data()));
}

void TestWindow() {
  AntiReplayWindow window;
  EXPECT(window.check(0) == AntiReplayWindow::Verdict::kNew);
  window.accept(0);
  EXPECT(window.check(0) == AntiReplayWindow::Verdict::kReplayed);
  // Out of order within the window: each once.
  for (uint64_t record : {5u, 3u, 9u, 4u, 1u}) {
    EXPECT(window.check(record) == AntiReplayWindow::Verdict::kNew);
    window.accept(record);
    EXPECT(window.check(record) == AntiReplayWindow::Verdict::kReplayed);
  }
  EXPECT(window.check(2) == AntiReplayWindow::Verdict::kNew);
  // At least 8,192 behind the largest is still told apart; exactly kSize behind is too old.
  const uint64_t far = 100000;
  window.accept(far);
  EXPECT(AntiReplayWindow::kSize >= 8192);
  EXPECT(window.check(far - 8192) == AntiReplayWindow::Verdict::kNew);
  EXPECT(window.check(far - AntiReplayWindow::kSize + 1) == AntiReplayWindow::Verdict::kNew);
  EXPECT(window.check(far - AntiReplayWindow::kSize) == AntiReplayWindow::Verdict::kTooOld);
  window.accept(far - AntiReplayWindow::kSize + 1);
  EXPECT(window.check(far - AntiReplayWindow::kSize + 1) == AntiReplayWindow::Verdict::kReplayed);
  // Sliding forward clears the bits the ring reuses: a record one ring ahead is new.
  const uint64_t ahead = far + 64 * AntiReplayWindow::kBlocks;
  EXPECT(window.check(ahead) == AntiReplayWindow::Verdict::kNew);
  window.accept(ahead);
  EXPECT(window.check(ahead - 64) == AntiReplayWindow::Verdict::kNew);
  // Every record of a long in-order run is new once, then replayed, then too old.
  AntiReplayWindow run;
  for (uint64_t record = 1; record < 50000; ++record) {
    if (run.check(record) != AntiReplayWindow::Verdict::kNew) {
      EXPECT(false);
      break;
    }
    run.accept(record);
  }
  EXPECT(run.check(49999) == AntiReplayWindow::Verdict::kReplayed);
  EXPECT(run.check(49999 - 8192) == AntiReplayWindow::Verdict::kReplayed);
  EXPECT(run.check(1) == AntiReplayWindow::Verdict::kTooOld);
}

const uint8_t kToken[crypto::kTokenSize] = {0x74, 0x6f, 0x6b, 0x65, 0x6e, 0x41, 0x41, 0x41};

struct Keys {
  uint8_t key[crypto::kKeySize];
  uint8_t iv[crypto::kIvSize];
};

Keys KeysOf(uint64_t epoch) {
  Keys keys;
  for (size_t i = 0; i < sizeof keys.key; ++i) keys.key[i] = static_cast<uint8_t>(epoch * 31 + i);
  for (size_t i = 0; i < sizeof keys.iv; ++i) keys.iv[i] = static_cast<uint8_t>(epoch * 7 + 3 * i);
  return keys;
}

template <typename Side>
void InstallWanted(Side& side) {
  for (uint64_t epoch = side.wanted_epoch(); epoch != crypto::kNoEpoch; epoch = side.wanted_epoch()) {
    const Keys keys = KeysOf(epoch);
    if (!side.install(epoch, keys.key, keys.iv)) {
      EXPECT(false);
      return;
    }
  }
}

std::vector<uint8_t> Seal(crypto::DatagramSealer& sealer, const std::vector<uint8_t>& frames) {
  std::vector<uint8_t> out(frames.size() + crypto::kTokenSize + crypto::kSealOverhead);
  const size_t written = sealer.seal(frames.data(), frames.size(), out.data(), out.size());
  EXPECT(written == out.size());
  out.resize(written);
  return out;
}

// Opens a copy of `datagram` (token included) with `accept`; returns the result and the frames.
OpenResult Open(crypto::DatagramOpener& opener, std::vector<uint8_t> datagram, bool accept,
                std::vector<uint8_t>* frames = nullptr) {
  size_t length = 0;
  const OpenResult result =
      opener.open(datagram.data() + crypto::kTokenSize, datagram.size() - crypto::kTokenSize, accept, &length);
  if (frames != nullptr && result == OpenResult::kOpened) {
    const uint8_t* start = datagram.data() + crypto::kTokenSize + crypto::kRecordNumberSize;
    frames->assign(start, start + length);
  }
  return result;
}

void TestSealAndOpen(Algorithm algorithm) {
  crypto::DatagramSealer sealer(algorithm, kToken);
  crypto::DatagramOpener opener(algorithm, kToken);
  InstallWanted(sealer);
  InstallWanted(opener);
  EXPECT(sealer.wanted_epoch() == crypto::kNoEpoch && opener.wanted_epoch() == crypto::kNoEpoch);
  std::vector<std::vector<uint8_t>> sent;
  for (size_t size : {0u, 1u, 16u, 1200u, 65000u}) {
    std::vector<uint8_t> frames(size);
    for (size_t i = 0; i < size; ++i) frames[i] = static_cast<uint8_t>(i * 13 + size);
    std::vector<uint8_t> datagram = Seal(sealer, frames);
    EXPECT(std::memcmp(datagram.data(), kToken, crypto::kTokenSize) == 0);
    // Every single bit flipped anywhere past the token makes it fail, and changes nothing.
    for (size_t bit = crypto::kTokenSize * 8; bit < datagram.size() * 8; bit += size > 100 ? 97 : 1) {
      std::vector<uint8_t> flipped = datagram;
      flipped[bit / 8] ^= static_cast<uint8_t>(1u << (bit % 8));
      const OpenResult result = Open(opener, flipped, true);
      EXPECT(result == OpenResult::kUnopened || result == OpenResult::kReplayed);
    }
    std::vector<uint8_t> opened;
    EXPECT(Open(opener, datagram, false, &opened) == OpenResult::kOpened);  // judged only
    EXPECT(Open(opener, datagram, true, &opened) == OpenResult::kOpened);
    EXPECT(opened == frames);
    EXPECT(Open(opener, datagram, true) == OpenResult::kReplayed);
    sent.push_back(datagram);
  }
  EXPECT(sealer.sealed() == 5 && sealer.next_record() == 5);
  // Another session's token is other associated data: nothing opens.
  const uint8_t other[crypto::kTokenSize] = {1, 2, 3, 4, 5, 6, 7, 8};
  crypto::DatagramOpener stranger(algorithm, other);
  InstallWanted(stranger);
  EXPECT(Open(stranger, sent[2], true) == OpenResult::kUnopened);
  // Too short to hold a record number and a tag.
  std::vector<uint8_t> stub(kToken, kToken + crypto::kTokenSize);
  stub.resize(crypto::kTokenSize + crypto::kSealOverhead - 1);
  EXPECT(Open(opener, stub, true) == OpenResult::kUnopened);
  // The output must have room.
  uint8_t small[40];
  const uint8_t frames[20] = {};
  EXPECT(sealer.seal(frames, sizeof frames, small, sizeof small) == 0);
  EXPECT(sealer.next_record() == 5);
}

// Keys change every 2^22 records, with no signal but the record number; the old ones go.
void TestEpochs(Algorithm algorithm) {
  const uint64_t boundary = uint64_t{1} << crypto::kEpochShift;
  crypto::DatagramSealer sealer(algorithm, kToken, boundary - 2);
  crypto::DatagramOpener opener(algorithm, kToken);
  InstallWanted(sealer);
  InstallWanted(opener);
  const std::vector<uint8_t> frames(32, 0x5a);
  std::vector<std::vector<uint8_t>> datagrams;
  for (int i = 0; i < 4; ++i) {
    datagrams.push_back(Seal(sealer, frames));
    // Crossing into epoch 1 the sealer wants epoch 2's keys (and has dropped epoch 0's).
    if (i == 1) EXPECT(sealer.wanted_epoch() == 2);
    InstallWanted(sealer);
  }
  // Epoch 0's last record, then epoch 1's first two; the opener moves to epoch 1 and wants 2.
  EXPECT(Open(opener, datagrams[0], true) == OpenResult::kOpened);
  EXPECT(Open(opener, datagrams[2], true) == OpenResult::kOpened);
  EXPECT(opener.current_epoch() == 1 && opener.wanted_epoch() == 2);
  // A late record of the previous epoch still opens, within the window.
  EXPECT(Open(opener, datagrams[1], true) == OpenResult::kOpened);
  InstallWanted(opener);
  EXPECT(Open(opener, datagrams[3], true) == OpenResult::kOpened);
  // The same key with another epoch's keys does not open: the epoch is part of the key choice.
  crypto::DatagramOpener wrong(algorithm, kToken);
  const Keys zero_keys = KeysOf(0);
  EXPECT(wrong.install(0, zero_keys.key, zero_keys.iv));
  EXPECT(wrong.install(1, zero_keys.key, zero_keys.iv));
  EXPECT(Open(wrong, datagrams[2], true) == OpenResult::kUnopened);
  // A sealer without the keys of its epoch seals nothing, and spends no record number.
  crypto::DatagramSealer bare(algorithm, kToken, boundary);
  std::vector<uint8_t> out(frames.size() + 64);
  EXPECT(bare.seal(frames.data(), frames.size(), out.data(), out.size()) == 0);
  EXPECT(bare.next_record() == boundary && bare.wanted_epoch() == 1);
  // Only the current and next epochs are taken.
  const Keys keys = KeysOf(5);
  EXPECT(!bare.install(5, keys.key, keys.iv));
  EXPECT(!opener.install(5, keys.key, keys.iv));
}

// RFC 9001 section 6.6: past the integrity limit nothing opens, genuine or not.
void TestIntegrityLimit(Algorithm algorithm) {
  EXPECT(crypto::integrity_limit(Algorithm::kAes256Gcm) == uint64_t{1} << 52);
  EXPECT(crypto::integrity_limit(Algorithm::kChaCha20Poly1305) == uint64_t{1} << 36);
  crypto::DatagramSealer sealer(algorithm, kToken);
  crypto::DatagramOpener opener(algorithm, kToken, 3);
  InstallWanted(sealer);
  InstallWanted(opener);
  const std::vector<uint8_t> frames(24, 1);
  for (int i = 0; i < 3; ++i) {
    std::vector<uint8_t> forged = Seal(sealer, frames);
    forged.back() ^= 0x80;
    EXPECT(Open(opener, forged, true) == (i < 2 ? OpenResult::kUnopened : OpenResult::kLimitReached));
  }
  EXPECT(opener.limit_reached() && opener.failed_authentication() == 3);
  EXPECT(Open(opener, Seal(sealer, frames), true) == OpenResult::kLimitReached);
  EXPECT(opener.opened() == 0);
}

}  // namespace

int TestSeal() {
  TestKnownAnswers();
  TestWindow();
  for (Algorithm algorithm : {Algorithm::kAes256Gcm, Algorithm::kChaCha20Poly1305}) {
    TestSealAndOpen(algorithm);
    TestEpochs(algorithm);
    TestIntegrityLimit(algorithm);
  }
  return failures;
}
