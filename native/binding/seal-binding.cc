// DatagramSealer and DatagramOpener: the sealed datagrams of native/core/crypto/datagram-seal.h
// for JS (wrapped by ts/transport/datagram-seal.ts), one crossing per batch of datagrams.
//
// Each object writes its state after every call into a Float64Array its wrapper gave it when it
// was made, at the indexes named below (mirrored by the wrapper's SEALER_* and OPENER_* names):
// epochs and counters are read there, without a crossing of their own.
#include <cstring>

#include "binding/bindings.h"
#include "binding/layouts.h"
#include "core/crypto/datagram-seal.h"

namespace hybridwire::binding {
namespace {

using crypto::Algorithm;
using crypto::kNoEpoch;
using crypto::OpenResult;
using layout::kDontFragment;
namespace socket_row = layout::socket_row;
constexpr size_t kSocketRowWidth = socket_row::kWidth;

// DatagramSealer state.
constexpr size_t kSealerWantedEpoch = 0;  // -1: none
constexpr size_t kSealerNextRecord = 1;
constexpr size_t kSealerSealed = 2;
constexpr size_t kSealerStateSize = 3;
// DatagramOpener state.
constexpr size_t kOpenerKept = 0;          // after openRows()
constexpr size_t kOpenerFramesLength = 1;  // after open()
constexpr size_t kOpenerWantedEpoch = 2;   // -1: none
constexpr size_t kOpenerOpened = 3;
constexpr size_t kOpenerUnopened = 4;
constexpr size_t kOpenerReplayed = 5;
constexpr size_t kOpenerFailedAuthentication = 6;
constexpr size_t kOpenerLimitReached = 7;
constexpr size_t kOpenerEpoch = 8;
constexpr size_t kOpenerStateSize = 9;

double EpochValue(uint64_t epoch) { return epoch == kNoEpoch ? -1.0 : static_cast<double>(epoch); }

// A count or index argument: a number from 0 up, anything else 0 (never a cast of NaN or less).
size_t IndexArg(const Napi::Value& value) {
  const double number = value.IsNumber() ? value.As<Napi::Number>().DoubleValue() : 0;
  return number > 0 && number < 4294967296.0 ? static_cast<size_t>(number) : 0;
}

// Reads (algorithm, token, state) of both constructors; throws and returns false when wrong.
bool ParseCommon(const Napi::CallbackInfo& info, size_t state_size, Algorithm* algorithm, const uint8_t** token,
                 double** state) {
  Napi::Env env = info.Env();
  const uint32_t value = info[0].IsNumber() ? info[0].As<Napi::Number>().Uint32Value() : 2;
  if (value > 1) {
    ThrowCoded(env, "ERR_INVALID_ARG_VALUE", "algorithm must be 0 (AES-256-GCM) or 1 (ChaCha20-Poly1305)");
    return false;
  }
  *algorithm = static_cast<Algorithm>(value);
  size_t token_length = 0;
  if (!GetBytes(info[1], "token", token, &token_length)) return false;
  if (token_length != crypto::kTokenSize) {
    ThrowCoded(env, "ERR_INVALID_ARG_VALUE", "token must be 8 bytes");
    return false;
  }
  if (!info[2].IsTypedArray() || info[2].As<Napi::TypedArray>().TypedArrayType() != napi_float64_array ||
      info[2].As<Napi::Float64Array>().ElementLength() < state_size) {
    ThrowCoded(env, "ERR_INVALID_ARG_TYPE", "state must be a Float64Array large enough");
    return false;
  }
  *state = info[2].As<Napi::Float64Array>().Data();
  return true;
}

// install(epoch, key: Uint8Array(32), iv: Uint8Array(12)) for either object.
template <typename Core>
Napi::Value InstallKeys(const Napi::CallbackInfo& info, Core& core) {
  const double epoch = info[0].IsNumber() ? info[0].As<Napi::Number>().DoubleValue() : -1;
  const uint8_t* key = nullptr;
  const uint8_t* iv = nullptr;
  size_t key_length = 0;
  size_t iv_length = 0;
  if (!GetBytes(info[1], "key", &key, &key_length) || !GetBytes(info[2], "iv", &iv, &iv_length)) return Napi::Value();
  if (key_length != crypto::kKeySize || iv_length != crypto::kIvSize || !(epoch >= 0 && epoch < 9.0e15)) {
    return ThrowCoded(info.Env(), "ERR_INVALID_ARG_VALUE", "install takes an epoch, a 32-byte key and a 12-byte IV");
  }
  return Napi::Boolean::New(info.Env(), core.install(static_cast<uint64_t>(epoch), key, iv));
}

class DatagramSealer : public Napi::ObjectWrap<DatagramSealer> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "DatagramSealer",
                       {
                           InstanceMethod<&DatagramSealer::Install>("install"),
                           InstanceMethod<&DatagramSealer::SealBatch>("sealBatch"),
                           InstanceMethod<&DatagramSealer::Seal>("seal"),
                       });
  }

  // new DatagramSealer(algorithm, token: Uint8Array(8), state: Float64Array(3), firstRecord)
  explicit DatagramSealer(const Napi::CallbackInfo& info) : Napi::ObjectWrap<DatagramSealer>(info) {
    Algorithm algorithm = Algorithm::kAes256Gcm;
    const uint8_t* token = nullptr;
    if (!ParseCommon(info, kSealerStateSize, &algorithm, &token, &state_)) return;
    const double first = info[3].IsNumber() ? info[3].As<Napi::Number>().DoubleValue() : 0;
    state_ref_ = Napi::Persistent(info[2].As<Napi::Object>());
    sealer_ = std::make_unique<crypto::DatagramSealer>(
        algorithm, token, first > 0 && first < 9.0e15 ? static_cast<uint64_t>(first) : 0);
    Publish();
  }

 private:
  Napi::Value Install(const Napi::CallbackInfo& info) {
    if (!sealer_) return ThrowCoded(info.Env(), "ERR_INVALID_STATE", "the sealer was not made");
    Napi::Value result = InstallKeys(info, *sealer_);
    Publish();
    return result;
  }

  // sealBatch(slab, offset, lengths, count, out, outLengths) -> bytes written to out from 0, or
  // -1 when a datagram could not be sealed. The datagrams are laid back to back in slab from
  // offset, each with its token first; a length may carry kDontFragment, which is kept.
  Napi::Value SealBatch(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (!sealer_) return ThrowCoded(env, "ERR_INVALID_STATE", "the sealer was not made");
    const uint8_t* slab = nullptr;
    size_t slab_length = 0;
    const uint32_t* lengths = nullptr;
    size_t length_count = 0;
    uint8_t* out = nullptr;
    size_t out_length = 0;
    uint32_t* out_lengths = nullptr;
    size_t out_length_count = 0;
    if (!FastArg(info[0], "slab must be a Uint8Array", &slab, &slab_length) ||
        !FastArg(info[2], "lengths must be a Uint32Array", &lengths, &length_count) ||
        !FastArg(info[4], "out must be a Uint8Array", &out, &out_length) ||
        !FastArg(info[5], "outLengths must be a Uint32Array", &out_lengths, &out_length_count)) {
      return Napi::Value();
    }
    const size_t count = IndexArg(info[3]);
    size_t position = IndexArg(info[1]);
    if (count > length_count || count > out_length_count || position > slab_length) {
      return ThrowCoded(env, "ERR_OUT_OF_RANGE", "count or offset beyond the arrays");
    }
    size_t written = 0;
    double result = 0;
    for (size_t i = 0; i < count; ++i) {
      const uint32_t flag = lengths[i] & kDontFragment;
      const size_t length = lengths[i] & ~kDontFragment;
      if (length < crypto::kTokenSize || length > slab_length - position) {
        result = -1;
        break;
      }
      const size_t sealed = sealer_->seal(slab + position + crypto::kTokenSize, length - crypto::kTokenSize,
                                          out + written, out_length - written);
      if (sealed == 0) {
        result = -1;
        break;
      }
      out_lengths[i] = static_cast<uint32_t>(sealed) | flag;
      position += length;
      written += sealed;
    }
    Publish();
    return Napi::Number::New(env, result < 0 ? -1 : static_cast<double>(written));
  }

  // seal(datagram, out) -> the sealed size written to out, or -1. `datagram` starts with its token.
  Napi::Value Seal(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (!sealer_) return ThrowCoded(env, "ERR_INVALID_STATE", "the sealer was not made");
    const uint8_t* datagram = nullptr;
    size_t length = 0;
    uint8_t* out = nullptr;
    size_t out_length = 0;
    if (!GetBytes(info[0], "datagram", &datagram, &length) || !GetMutableBytes(info[1], "out", &out, &out_length)) {
      return Napi::Value();
    }
    if (length < crypto::kTokenSize) return ThrowCoded(env, "ERR_INVALID_ARG_VALUE", "datagram must start with a token");
    const size_t sealed = sealer_->seal(datagram + crypto::kTokenSize, length - crypto::kTokenSize, out, out_length);
    Publish();
    return Napi::Number::New(env, sealed == 0 ? -1 : static_cast<double>(sealed));
  }

  void Publish() {
    state_[kSealerWantedEpoch] = EpochValue(sealer_->wanted_epoch());
    state_[kSealerNextRecord] = static_cast<double>(sealer_->next_record());
    state_[kSealerSealed] = static_cast<double>(sealer_->sealed());
  }

  std::unique_ptr<crypto::DatagramSealer> sealer_;
  Napi::ObjectReference state_ref_;
  double* state_ = nullptr;
};

class DatagramOpener : public Napi::ObjectWrap<DatagramOpener> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "DatagramOpener",
                       {
                           InstanceMethod<&DatagramOpener::Install>("install"),
                           InstanceMethod<&DatagramOpener::OpenRows>("openRows"),
                           InstanceMethod<&DatagramOpener::Open>("open"),
                       });
  }

  // new DatagramOpener(algorithm, token: Uint8Array(8), state: Float64Array(9), integrityLimit?)
  explicit DatagramOpener(const Napi::CallbackInfo& info) : Napi::ObjectWrap<DatagramOpener>(info) {
    Algorithm algorithm = Algorithm::kAes256Gcm;
    const uint8_t* token = nullptr;
    if (!ParseCommon(info, kOpenerStateSize, &algorithm, &token, &state_)) return;
    const double limit = info[3].IsNumber() ? info[3].As<Napi::Number>().DoubleValue() : 0;
    state_ref_ = Napi::Persistent(info[2].As<Napi::Object>());
    // A lower limit only, for tests: the RFC's is the most any session gets.
    const uint64_t ceiling = crypto::integrity_limit(algorithm);
    opener_ = std::make_unique<crypto::DatagramOpener>(
        algorithm, token, limit >= 1 && limit < static_cast<double>(ceiling) ? static_cast<uint64_t>(limit) : ceiling);
    Publish();
  }

 private:
  Napi::Value Install(const Napi::CallbackInfo& info) {
    if (!opener_) return ThrowCoded(info.Env(), "ERR_INVALID_STATE", "the opener was not made");
    Napi::Value result = InstallKeys(info, *opener_);
    Publish();
    return result;
  }

  // openRows(bytes, rows, from, to) -> the index of the first datagram not taken. Takes the
  // datagrams of a socket batch (rows: offset, length, port, sender) from `from` for as long as
  // they carry this opener's token and come from the first one's sender; opens each in place and
  // keeps those that open, their rows rewritten from `from` on (state kept: how many) to describe
  // the opened datagram as an unsealed one: the token, moved up against the frames, then the
  // frames. Those that do not open are dropped and counted. Stops early at the integrity limit.
  Napi::Value OpenRows(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (!opener_) return ThrowCoded(env, "ERR_INVALID_STATE", "the opener was not made");
    uint8_t* bytes = nullptr;
    size_t bytes_length = 0;
    uint32_t* rows = nullptr;
    size_t row_values = 0;
    if (!FastArg(info[0], "bytes must be a Uint8Array", &bytes, &bytes_length) ||
        !FastArg(info[1], "rows must be a Uint32Array", &rows, &row_values)) {
      return Napi::Value();
    }
    const size_t available = row_values / kSocketRowWidth;
    size_t from = IndexArg(info[2]);
    size_t to = IndexArg(info[3]);
    if (to > available) to = available;
    if (from > to) from = to;
    const uint32_t port = from < to ? rows[from * kSocketRowWidth + socket_row::kPort] : 0;
    const uint32_t sender = from < to ? rows[from * kSocketRowWidth + socket_row::kSender] : 0;
    size_t kept = 0;
    size_t index = from;
    for (; index < to; ++index) {
      const uint32_t* row = rows + index * kSocketRowWidth;
      const size_t offset = row[socket_row::kOffset];
      const size_t length = row[socket_row::kLength];
      if (offset > bytes_length || length > bytes_length - offset || length < crypto::kTokenSize ||
          row[socket_row::kPort] != port || row[socket_row::kSender] != sender ||
          std::memcmp(bytes + offset, opener_->token(), crypto::kTokenSize) != 0) {
        break;
      }
      uint8_t* sealed = bytes + offset + crypto::kTokenSize;
      size_t frames_length = 0;
      const OpenResult result = opener_->open(sealed, length - crypto::kTokenSize, true, &frames_length);
      if (result == OpenResult::kLimitReached) {
        ++index;
        break;
      }
      if (result != OpenResult::kOpened) continue;
      // The token goes where the record number was, just before the frames.
      std::memcpy(sealed, opener_->token(), crypto::kTokenSize);
      uint32_t* out = rows + (from + kept) * kSocketRowWidth;
      out[socket_row::kOffset] = static_cast<uint32_t>(offset + crypto::kRecordNumberSize);
      out[socket_row::kLength] = static_cast<uint32_t>(crypto::kTokenSize + frames_length);
      out[socket_row::kPort] = port;
      out[socket_row::kSender] = sender;
      ++kept;
    }
    state_[kOpenerKept] = static_cast<double>(kept);
    Publish();
    return Napi::Number::New(env, static_cast<double>(index));
  }

  // open(sealed, accept) -> OpenResult; `sealed` is a datagram past its token, opened in place:
  // the frames are then at sealed[8, 8 + state framesLength). Without `accept`, only judged.
  Napi::Value Open(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (!opener_) return ThrowCoded(env, "ERR_INVALID_STATE", "the opener was not made");
    uint8_t* sealed = nullptr;
    size_t length = 0;
    if (!GetMutableBytes(info[0], "sealed", &sealed, &length)) return Napi::Value();
    size_t frames_length = 0;
    const OpenResult result = opener_->open(sealed, length, info[1].ToBoolean().Value(), &frames_length);
    state_[kOpenerFramesLength] = static_cast<double>(frames_length);
    Publish();
    return Napi::Number::New(env, static_cast<double>(result));
  }

  void Publish() {
    state_[kOpenerWantedEpoch] = EpochValue(opener_->wanted_epoch());
    state_[kOpenerOpened] = static_cast<double>(opener_->opened());
    state_[kOpenerUnopened] = static_cast<double>(opener_->unopened());
    state_[kOpenerReplayed] = static_cast<double>(opener_->replayed());
    state_[kOpenerFailedAuthentication] = static_cast<double>(opener_->failed_authentication());
    state_[kOpenerLimitReached] = opener_->limit_reached() ? 1 : 0;
    state_[kOpenerEpoch] = static_cast<double>(opener_->current_epoch());
  }

  std::unique_ptr<crypto::DatagramOpener> opener_;
  Napi::ObjectReference state_ref_;
  double* state_ = nullptr;
};

}  // namespace

void InitSeal(Napi::Env env, Napi::Object exports) {
  exports.Set("DatagramSealer", DatagramSealer::Define(env));
  exports.Set("DatagramOpener", DatagramOpener::Define(env));
}

}  // namespace hybridwire::binding
