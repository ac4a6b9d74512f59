// Sealed datagrams (docs/PROTOCOL.md 4.4): what each direction of a TLS session's UDP side does
// to a datagram after its token, sans-IO. A sealed datagram is
//
//   token (8) | record number (8, u64 little-endian) | ciphertext of the frames | tag (16)
//
// the token and record number authenticated as associated data. Each direction numbers its
// records from 0 and never uses a number twice. Record r is sealed with the keys of epoch
// r >> kEpochShift, so that no key seals more than 2^22 records, below the confidentiality limit
// of AES-GCM (2^23 records, RFC 9001 section 6.6); the keys of each epoch come from the TLS
// exporter (the caller's business: see wanted_epoch() and install()). A receiver refuses a record
// number it has accepted before or that is too old (AntiReplayWindow), and stops opening anything
// once the datagrams that failed authentication reach the integrity limit of RFC 9001 section 6.6
// (the session is then to be closed).
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>

#include "core/crypto/aead.h"
#include "core/reliable/anti-replay-window.h"

namespace hybridwire::crypto {

constexpr size_t kTokenSize = 8;
constexpr size_t kRecordNumberSize = 8;
// Bytes sealing adds to a datagram: the record number and the tag.
constexpr size_t kSealOverhead = kRecordNumberSize + kTagSize;
constexpr unsigned kEpochShift = 22;
// Record numbers stop below 2^62, where QUIC's packet numbers stop: far beyond any session's
// life, and so a sealer that gets there refuses to seal rather than wrap.
constexpr uint64_t kRecordLimit = uint64_t{1} << 62;
constexpr uint64_t kNoEpoch = UINT64_MAX;

inline uint64_t epoch_of(uint64_t record) { return record >> kEpochShift; }

// RFC 9001 section 6.6: the datagrams failing authentication after which a receiver stops.
constexpr uint64_t integrity_limit(Algorithm algorithm) {
  return algorithm == Algorithm::kAes256Gcm ? uint64_t{1} << 52 : uint64_t{1} << 36;
}

// The keys of up to three consecutive epochs, in slots epoch % 3.
class EpochKeys {
 public:
  EpochKeys(Algorithm algorithm, AeadKey::Direction direction) : algorithm_(algorithm), direction_(direction) {}

  bool install(uint64_t epoch, const uint8_t key[kKeySize], const uint8_t iv[kIvSize]);
  bool has(uint64_t epoch) const { return epoch != kNoEpoch && slots_[epoch % 3].epoch == epoch && slots_[epoch % 3].key; }
  AeadKey* get(uint64_t epoch) { return has(epoch) ? slots_[epoch % 3].key.get() : nullptr; }
  void drop(uint64_t epoch);
  Algorithm algorithm() const { return algorithm_; }

 private:
  struct Slot {
    uint64_t epoch = kNoEpoch;
    std::unique_ptr<AeadKey> key;
  };
  Algorithm algorithm_;
  AeadKey::Direction direction_;
  Slot slots_[3];
};

class DatagramSealer {
 public:
  DatagramSealer(Algorithm algorithm, const uint8_t token[kTokenSize], uint64_t first_record = 0);

  // The keys of `epoch`; only the current epoch and the next are taken (false otherwise, or when
  // OpenSSL cannot make the context).
  bool install(uint64_t epoch, const uint8_t key[kKeySize], const uint8_t iv[kIvSize]);
  // The epoch whose keys are wanted now (the current one, then the next), or kNoEpoch.
  uint64_t wanted_epoch() const;

  // Writes the sealed datagram of `frames` (the bytes after a token) to `out`: kSealOverhead +
  // kTokenSize + `length` bytes. Returns that size, or 0 when it cannot: `out` too small, no
  // keys for the record's epoch, record numbers exhausted, or OpenSSL failing. `frames` and `out`
  // must not overlap.
  size_t seal(const uint8_t* frames, size_t length, uint8_t* out, size_t capacity);

  uint64_t next_record() const { return next_record_; }
  uint64_t sealed() const { return sealed_; }

 private:
  EpochKeys keys_;
  uint8_t token_[kTokenSize];
  uint64_t next_record_;
  uint64_t sealed_ = 0;
};

enum class OpenResult : uint8_t {
  kOpened = 0,
  // Too short, of an epoch whose keys are not held, or failing authentication.
  kUnopened = 1,
  // A record number accepted before, or too old to tell.
  kReplayed = 2,
  // The integrity limit was reached: nothing is opened any more.
  kLimitReached = 3,
};

class DatagramOpener {
 public:
  // `limit` is integrity_limit(algorithm) but for tests, which cannot wait for 2^36 forgeries.
  DatagramOpener(Algorithm algorithm, const uint8_t token[kTokenSize], uint64_t limit);
  DatagramOpener(Algorithm algorithm, const uint8_t token[kTokenSize])
      : DatagramOpener(algorithm, token, integrity_limit(algorithm)) {}

  // The keys of `epoch`: one before, at or after that of the largest record accepted.
  bool install(uint64_t epoch, const uint8_t key[kKeySize], const uint8_t iv[kIvSize]);
  // The epoch whose keys are wanted now (the current one, then the next), or kNoEpoch.
  uint64_t wanted_epoch() const;

  // Opens `sealed` (a datagram past its token: record number, ciphertext, tag) in place: on
  // kOpened the frames are at sealed + kRecordNumberSize, `*frames_length` bytes. With `accept`
  // the record number is recorded as seen (a datagram to be delivered); without, the datagram is
  // only judged and nothing changes but the counters.
  OpenResult open(uint8_t* sealed, size_t length, bool accept, size_t* frames_length);

  const uint8_t* token() const { return token_; }
  uint64_t opened() const { return opened_; }
  uint64_t unopened() const { return unopened_; }
  uint64_t replayed() const { return replayed_; }
  uint64_t failed_authentication() const { return failed_authentication_; }
  bool limit_reached() const { return failed_authentication_ >= limit_; }
  uint64_t current_epoch() const { return epoch_of(window_.largest()); }

 private:
  EpochKeys keys_;
  reliable::AntiReplayWindow window_;
  uint8_t token_[kTokenSize];
  uint64_t limit_;
  uint64_t opened_ = 0;
  uint64_t unopened_ = 0;
  uint64_t replayed_ = 0;
  uint64_t failed_authentication_ = 0;
};

}  // namespace hybridwire::crypto
