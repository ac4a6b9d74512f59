#include "core/crypto/aead.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include <climits>

namespace hybridwire::crypto {

void make_nonce(const uint8_t iv[kIvSize], uint64_t record, uint8_t nonce[kIvSize]) {
  for (size_t i = 0; i < kIvSize; ++i) nonce[i] = iv[i];
  for (size_t i = 0; i < 8; ++i) nonce[kIvSize - 1 - i] ^= static_cast<uint8_t>(record >> (8 * i));
}

AeadKey::AeadKey(Algorithm algorithm, Direction direction, const uint8_t key[kKeySize], const uint8_t iv[kIvSize]) {
  EVP_CIPHER_CTX* context = EVP_CIPHER_CTX_new();
  if (context == nullptr) return;
  const EVP_CIPHER* cipher = algorithm == Algorithm::kAes256Gcm ? EVP_aes_256_gcm() : EVP_chacha20_poly1305();
  // The key is set once; each record sets only its nonce (OpenSSL keeps the key schedule). Both
  // ciphers take a 12-byte nonce by default.
  const int encrypt = direction == Direction::kSeal ? 1 : 0;
  if (cipher == nullptr || EVP_CipherInit_ex(context, cipher, nullptr, key, nullptr, encrypt) != 1) {
    EVP_CIPHER_CTX_free(context);
    return;
  }
  context_ = context;
  for (size_t i = 0; i < kIvSize; ++i) iv_[i] = iv[i];
}

AeadKey::~AeadKey() {
  EVP_CIPHER_CTX_free(context_);  // clears the key schedule
  OPENSSL_cleanse(iv_, sizeof iv_);
}

bool AeadKey::seal(uint64_t record, const uint8_t* aad, size_t aad_length, const uint8_t* in, size_t length,
                   uint8_t* out, uint8_t tag[kTagSize]) {
  if (context_ == nullptr || length > INT_MAX || aad_length > INT_MAX) return false;
  uint8_t nonce[kIvSize];
  make_nonce(iv_, record, nonce);
  int written = 0;
  int final_written = 0;
  return EVP_CipherInit_ex(context_, nullptr, nullptr, nullptr, nonce, 1) == 1 &&
         EVP_CipherUpdate(context_, nullptr, &written, aad, static_cast<int>(aad_length)) == 1 &&
         (length == 0 || EVP_CipherUpdate(context_, out, &written, in, static_cast<int>(length)) == 1) &&
         EVP_CipherFinal_ex(context_, out + (length == 0 ? 0 : written), &final_written) == 1 &&
         EVP_CIPHER_CTX_ctrl(context_, EVP_CTRL_AEAD_GET_TAG, static_cast<int>(kTagSize), tag) == 1;
}

bool AeadKey::open(uint64_t record, const uint8_t* aad, size_t aad_length, const uint8_t* in, size_t length,
                   const uint8_t tag[kTagSize], uint8_t* out) {
  if (context_ == nullptr || length > INT_MAX || aad_length > INT_MAX) return false;
  uint8_t nonce[kIvSize];
  make_nonce(iv_, record, nonce);
  // OpenSSL's interface takes the expected tag through a non-const pointer; it only reads it.
  uint8_t expected[kTagSize];
  for (size_t i = 0; i < kTagSize; ++i) expected[i] = tag[i];
  int written = 0;
  int final_written = 0;
  return EVP_CipherInit_ex(context_, nullptr, nullptr, nullptr, nonce, 0) == 1 &&
         EVP_CipherUpdate(context_, nullptr, &written, aad, static_cast<int>(aad_length)) == 1 &&
         (length == 0 || EVP_CipherUpdate(context_, out, &written, in, static_cast<int>(length)) == 1) &&
         EVP_CIPHER_CTX_ctrl(context_, EVP_CTRL_AEAD_SET_TAG, static_cast<int>(kTagSize), expected) == 1 &&
         EVP_CipherFinal_ex(context_, out + (length == 0 ? 0 : written), &final_written) == 1;
}

}  // namespace hybridwire::crypto
