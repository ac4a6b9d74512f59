// crc32c(data, seed?) and the per-path variants used by tests to compare implementations.
//
// Written against the plain napi_* C API rather than node-addon-api: for a 64-byte input the call
// is nearly all of the cost, and the wrappers (CallbackInfo, argument checks through Napi::Value,
// a Napi::Number result) would add to it (bench/RESULTS.md, "Costs the code relies on").
#include <node_api.h>

#include "binding/bindings.h"
#include "core/crc32c.h"

namespace hybridwire::binding {
namespace {

using Crc32cFunction = uint32_t (*)(uint32_t, const uint8_t*, size_t);

napi_value ThrowInvalidArgType(napi_env env, const char* message) {
  napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", message);
  return nullptr;
}

template <Crc32cFunction Compute>
napi_value Crc32c(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  if (napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr) != napi_ok) return nullptr;
  napi_typedarray_type type;
  size_t length = 0;
  void* data = nullptr;
  if (argc < 1 ||
      napi_get_typedarray_info(env, argv[0], &type, &length, &data, nullptr, nullptr) != napi_ok ||
      type != napi_uint8_array) {
    return ThrowInvalidArgType(env, "data must be a Uint8Array or Buffer");
  }
  uint32_t seed = 0;
  // The status check doubles as the type check: only a non-number fails, and undefined means 0.
  if (argc > 1 && napi_get_value_uint32(env, argv[1], &seed) != napi_ok) {
    napi_valuetype seed_type;
    if (napi_typeof(env, argv[1], &seed_type) != napi_ok || seed_type != napi_undefined) {
      return ThrowInvalidArgType(env, "seed must be a number (a previous crc32c)");
    }
  }
  napi_value result;
  napi_create_uint32(env, Compute(seed, static_cast<const uint8_t*>(data), length), &result);
  return result;
}

napi_value HardwareAvailable(napi_env env, napi_callback_info) {
  napi_value result;
  napi_get_boolean(env, crc32c_hardware_available(), &result);
  return result;
}

}  // namespace

void InitCrc32c(Napi::Env env, Napi::Object exports) {
  ExportFunction(env, exports, "crc32c", Crc32c<crc32c>);
  ExportFunction(env, exports, "crc32cSoftware", Crc32c<crc32c_software>);
  ExportFunction(env, exports, "crc32cHardware", Crc32c<crc32c_hardware>);
  ExportFunction(env, exports, "crc32cHardwareAvailable", HardwareAvailable);
}

}  // namespace hybridwire::binding
