// lz4Compress(source, destination), lz4Decompress(source, destination) and lz4CompressBound(size)
// over caller-owned buffers: the native side reads and writes the caller's Uint8Arrays and never
// allocates or hands out memory. Each returns the number of bytes written to destination.
#include <cmath>
#include <string>

#include "binding/bindings.h"
#include "core/lz4.h"

namespace hybridwire::binding {
namespace {

// The (source, destination) arguments both codecs take.
struct Buffers {
  const uint8_t* source = nullptr;
  size_t source_length = 0;
  uint8_t* destination = nullptr;
  size_t destination_length = 0;
};

bool ReadBuffers(const Napi::CallbackInfo& info, Buffers* b) {
  return GetBytes(info[0], "source", &b->source, &b->source_length) &&
         GetMutableBytes(info[1], "destination", &b->destination, &b->destination_length);
}

Napi::Value Compress(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Buffers b;
  if (!ReadBuffers(info, &b)) return Napi::Value();

  const int64_t written = lz4_compress(b.source, b.source_length, b.destination, b.destination_length);
  if (written == kLz4InputTooLarge) {
    const std::string message =
        "source is larger than the " + std::to_string(kLz4MaxInputSize) + " bytes an LZ4 block can hold";
    return ThrowCoded(env, "ERR_OUT_OF_RANGE", message.c_str());
  }
  if (written == kLz4OutputTooLarge) {
    return ThrowCoded(env, "HW_ERR_LZ4_OUTPUT_TOO_LARGE",
                      "destination is too small for the compressed block (lz4CompressBound(source.length) "
                      "bytes always suffice)");
  }
  return Napi::Number::New(env, static_cast<double>(written));
}

Napi::Value Decompress(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Buffers b;
  if (!ReadBuffers(info, &b)) return Napi::Value();

  const int64_t written = lz4_decompress(b.source, b.source_length, b.destination, b.destination_length);
  if (written == kLz4Corrupt) return ThrowCoded(env, "HW_ERR_LZ4_CORRUPT", "source is not a valid LZ4 block");
  if (written == kLz4OutputTooLarge) {
    const std::string message =
        "the LZ4 block decompresses to more than the " + std::to_string(b.destination_length) + " bytes of destination";
    return ThrowCoded(env, "HW_ERR_LZ4_OUTPUT_TOO_LARGE", message.c_str());
  }
  return Napi::Number::New(env, static_cast<double>(written));
}

// The bound, or 0 for sizes above the largest input (as liblz4's LZ4_compressBound).
Napi::Value CompressBound(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!info[0].IsNumber()) return ThrowCoded(env, "ERR_INVALID_ARG_TYPE", "size must be a number");
  const double size = info[0].As<Napi::Number>().DoubleValue();
  if (!(size >= 0) || std::floor(size) != size) {
    return ThrowCoded(env, "ERR_OUT_OF_RANGE", "size must be a non-negative integer");
  }
  const size_t bound = size > static_cast<double>(kLz4MaxInputSize) ? 0 : lz4_compress_bound(static_cast<size_t>(size));
  return Napi::Number::New(env, static_cast<double>(bound));
}

}  // namespace

void InitLz4(Napi::Env env, Napi::Object exports) {
  exports.Set("lz4Compress", Napi::Function::New<Compress>(env, "lz4Compress"));
  exports.Set("lz4Decompress", Napi::Function::New<Decompress>(env, "lz4Decompress"));
  exports.Set("lz4CompressBound", Napi::Function::New<CompressBound>(env, "lz4CompressBound"));
}

}  // namespace hybridwire::binding
