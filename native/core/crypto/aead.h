// One AEAD key of one direction: AES-256-GCM or ChaCha20-Poly1305, done by OpenSSL's EVP
// interface (never by code of ours). In an addon the symbols are those of the OpenSSL that Node
// itself links and exports; in native/fuzz, the system's libcrypto.
//
// The nonce of record number r is the key's 12-byte IV XOR r as 12 big-endian bytes (r in the
// last 8), as TLS 1.3 (RFC 8446 section 5.3) and QUIC (RFC 9001 section 5.3) build theirs: a
// record number used once per key gives a nonce used once per key.
#pragma once
#include <cstddef>
#include <cstdint>

// OpenSSL's context type, declared here so that this header does not pull in OpenSSL's.
struct evp_cipher_ctx_st;

namespace hybridwire::crypto {

enum class Algorithm : uint8_t { kAes256Gcm = 0, kChaCha20Poly1305 = 1 };

constexpr size_t kKeySize = 32;
constexpr size_t kIvSize = 12;
constexpr size_t kTagSize = 16;

// The nonce of `record` under `iv` (see the top of this file).
void make_nonce(const uint8_t iv[kIvSize], uint64_t record, uint8_t nonce[kIvSize]);

class AeadKey {
 public:
  enum class Direction { kSeal, kOpen };

  // An unusable key (valid() false) when OpenSSL cannot make the context.
  AeadKey(Algorithm algorithm, Direction direction, const uint8_t key[kKeySize], const uint8_t iv[kIvSize]);
  ~AeadKey();
  AeadKey(const AeadKey&) = delete;
  AeadKey& operator=(const AeadKey&) = delete;

  bool valid() const { return context_ != nullptr; }

  // Encrypts `length` bytes of `in` into `out` (which may be `in` itself) and writes the tag to
  // `tag`, authenticating `aad` too. False if OpenSSL fails (the output is then meaningless).
  bool seal(uint64_t record, const uint8_t* aad, size_t aad_length, const uint8_t* in, size_t length,
            uint8_t* out, uint8_t tag[kTagSize]);

  // Decrypts `length` bytes of `in` into `out` (which may be `in` itself) and checks `tag`. False
  // when the tag does not match (or OpenSSL fails): `out` then holds garbage, to be dropped.
  bool open(uint64_t record, const uint8_t* aad, size_t aad_length, const uint8_t* in, size_t length,
            const uint8_t tag[kTagSize], uint8_t* out);

 private:
  evp_cipher_ctx_st* context_ = nullptr;
  uint8_t iv_[kIvSize] = {};
};

}  // namespace hybridwire::crypto
