// crc32c(data, seed?) and the per-path variants used by tests to compare implementations.
#include "binding/bindings.h"
#include "core/crc32c.h"

namespace hybridwire::binding {
namespace {

using Crc32cFunction = uint32_t (*)(uint32_t, const uint8_t*, size_t);

template <Crc32cFunction Compute>
Napi::Value Crc32c(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const uint8_t* data = nullptr;
  size_t length = 0;
  if (!GetBytes(info[0], "data", &data, &length)) return Napi::Value();
  uint32_t seed = 0;
  if (info.Length() > 1 && !info[1].IsUndefined()) {
    if (!info[1].IsNumber()) {
      return ThrowCoded(env, "ERR_INVALID_ARG_TYPE", "seed must be a number (a previous crc32c)");
    }
    seed = info[1].As<Napi::Number>().Uint32Value();
  }
  return Napi::Number::New(env, Compute(seed, data, length));
}

Napi::Value HardwareAvailable(const Napi::CallbackInfo& info) {
  return Napi::Boolean::New(info.Env(), crc32c_hardware_available());
}

}  // namespace

void InitCrc32c(Napi::Env env, Napi::Object exports) {
  exports.Set("crc32c", Napi::Function::New<Crc32c<crc32c>>(env, "crc32c"));
  exports.Set("crc32cSoftware", Napi::Function::New<Crc32c<crc32c_software>>(env, "crc32cSoftware"));
  exports.Set("crc32cHardware", Napi::Function::New<Crc32c<crc32c_hardware>>(env, "crc32cHardware"));
  exports.Set("crc32cHardwareAvailable", Napi::Function::New<HardwareAvailable>(env, "crc32cHardwareAvailable"));
}

}  // namespace hybridwire::binding
