#include "core/crypto/datagram-seal.h"

#include <cstring>

namespace hybridwire::crypto {
namespace {

void store64(uint8_t* p, uint64_t value) {
  for (size_t i = 0; i < 8; ++i) p[i] = static_cast<uint8_t>(value >> (8 * i));
}

uint64_t load64(const uint8_t* p) {
  uint64_t value = 0;
  for (size_t i = 0; i < 8; ++i) value |= uint64_t{p[i]} << (8 * i);
  return value;
}

}  // namespace

bool EpochKeys::install(uint64_t epoch, const uint8_t key[kKeySize], const uint8_t iv[kIvSize]) {
  if (epoch == kNoEpoch) return false;
  auto made = std::make_unique<AeadKey>(algorithm_, direction_, key, iv);
  if (!made->valid()) return false;
  Slot& slot = slots_[epoch % 3];
  slot.epoch = epoch;
  slot.key = std::move(made);
  return true;
}

void EpochKeys::drop(uint64_t epoch) {
  if (!has(epoch)) return;
  Slot& slot = slots_[epoch % 3];
  slot.epoch = kNoEpoch;
  slot.key.reset();
}

DatagramSealer::DatagramSealer(Algorithm algorithm, const uint8_t token[kTokenSize], uint64_t first_record)
    : keys_(algorithm, AeadKey::Direction::kSeal), next_record_(first_record) {
  std::memcpy(token_, token, kTokenSize);
}

bool DatagramSealer::install(uint64_t epoch, const uint8_t key[kKeySize], const uint8_t iv[kIvSize]) {
  const uint64_t current = epoch_of(next_record_);
  if (epoch != current && epoch != current + 1) return false;
  return keys_.install(epoch, key, iv);
}

uint64_t DatagramSealer::wanted_epoch() const {
  if (next_record_ >= kRecordLimit) return kNoEpoch;
  const uint64_t current = epoch_of(next_record_);
  if (!keys_.has(current)) return current;
  if (epoch_of(kRecordLimit - 1) > current && !keys_.has(current + 1)) return current + 1;
  return kNoEpoch;
}

size_t DatagramSealer::seal(const uint8_t* frames, size_t length, uint8_t* out, size_t capacity) {
  const size_t total = kTokenSize + kSealOverhead + length;
  if (capacity < total || total < length || next_record_ >= kRecordLimit) return 0;
  const uint64_t record = next_record_;
  AeadKey* key = keys_.get(epoch_of(record));
  if (key == nullptr) return 0;
  std::memcpy(out, token_, kTokenSize);
  store64(out + kTokenSize, record);
  uint8_t* ciphertext = out + kTokenSize + kRecordNumberSize;
  if (!key->seal(record, out, kTokenSize + kRecordNumberSize, frames, length, ciphertext, ciphertext + length)) return 0;
  // A record number is spent once sealed, whatever happens to the datagram.
  ++next_record_;
  ++sealed_;
  // The previous epoch's key has sealed its last record: it is dropped, not kept in memory.
  if (epoch_of(next_record_) != epoch_of(record)) keys_.drop(epoch_of(record));
  return total;
}

DatagramOpener::DatagramOpener(Algorithm algorithm, const uint8_t token[kTokenSize], uint64_t limit)
    : keys_(algorithm, AeadKey::Direction::kOpen), limit_(limit) {
  std::memcpy(token_, token, kTokenSize);
}

bool DatagramOpener::install(uint64_t epoch, const uint8_t key[kKeySize], const uint8_t iv[kIvSize]) {
  const uint64_t current = current_epoch();
  if (epoch + 1 < current || epoch > current + 1) return false;
  return keys_.install(epoch, key, iv);
}

uint64_t DatagramOpener::wanted_epoch() const {
  const uint64_t current = current_epoch();
  if (!keys_.has(current)) return current;
  if (!keys_.has(current + 1)) return current + 1;
  return kNoEpoch;
}

OpenResult DatagramOpener::open(uint8_t* sealed, size_t length, bool accept, size_t* frames_length) {
  *frames_length = 0;
  if (limit_reached()) return OpenResult::kLimitReached;
  if (length < kSealOverhead) {
    ++unopened_;
    return OpenResult::kUnopened;
  }
  const uint64_t record = load64(sealed);
  // Refused before any work, as a replay is cheap to send and costs nothing to spot.
  if (window_.check(record) != reliable::AntiReplayWindow::Verdict::kNew) {
    ++replayed_;
    return OpenResult::kReplayed;
  }
  AeadKey* key = keys_.get(epoch_of(record));
  if (key == nullptr) {
    ++unopened_;
    return OpenResult::kUnopened;
  }
  uint8_t aad[kTokenSize + kRecordNumberSize];
  std::memcpy(aad, token_, kTokenSize);
  std::memcpy(aad + kTokenSize, sealed, kRecordNumberSize);
  const size_t size = length - kSealOverhead;
  uint8_t* body = sealed + kRecordNumberSize;
  if (!key->open(record, aad, sizeof aad, body, size, body + size, body)) {
    ++unopened_;
    ++failed_authentication_;
    return limit_reached() ? OpenResult::kLimitReached : OpenResult::kUnopened;
  }
  ++opened_;
  *frames_length = size;
  if (accept) {
    const uint64_t before = current_epoch();
    window_.accept(record);
    // Moving to the next epoch: the keys two epochs back can open nothing the window takes.
    if (current_epoch() != before && current_epoch() >= 2) keys_.drop(current_epoch() - 2);
  }
  return OpenResult::kOpened;
}

}  // namespace hybridwire::crypto
