// Errors with codes, and typed-array arguments read with one napi_get_typedarray_info call each
// (the node-addon-api accessors make several, which cost more than the work of a small call).
#include "binding/bindings.h"

#include <cmath>
#include <cstdio>
#include <string>

namespace hybridwire::binding {

Napi::Value ThrowCoded(Napi::Env env, const char* code, const char* message) {
  Napi::Error error = Napi::Error::New(env, message);
  error.Set("code", Napi::String::New(env, code));
  error.ThrowAsJavaScriptException();
  return Napi::Value();
}

void ExportFunction(napi_env env, napi_value exports, const char* name, napi_callback callback) {
  napi_value function;
  napi_create_function(env, name, NAPI_AUTO_LENGTH, callback, nullptr, &function);
  napi_set_named_property(env, exports, name, function);
}

namespace {

bool GetTypedArray(const Napi::Value& value, napi_typedarray_type expected, const char* what,
                   const char* kind, void** data, size_t* count) {
  napi_typedarray_type type;
  size_t length = 0;
  void* pointer = nullptr;
  napi_status status =
      napi_get_typedarray_info(value.Env(), value, &type, &length, &pointer, nullptr, nullptr);
  if (status != napi_ok || type != expected) {
    std::string message = std::string(what) + " must be a " + kind;
    ThrowCoded(value.Env(), "ERR_INVALID_ARG_TYPE", message.c_str());
    return false;
  }
  // A zero-length view may have no backing store; callers must still get a valid pointer.
  static uint8_t empty[8] = {};
  *data = pointer != nullptr ? pointer : empty;
  *count = length;
  return true;
}

}  // namespace

bool GetMutableBytes(const Napi::Value& value, const char* what, uint8_t** data, size_t* length) {
  void* pointer = nullptr;
  if (!GetTypedArray(value, napi_uint8_array, what, "Uint8Array or Buffer", &pointer, length)) return false;
  *data = static_cast<uint8_t*>(pointer);
  return true;
}

bool GetBytes(const Napi::Value& value, const char* what, const uint8_t** data, size_t* length) {
  uint8_t* mutable_data = nullptr;
  if (!GetMutableBytes(value, what, &mutable_data, length)) return false;
  *data = mutable_data;
  return true;
}

bool IsWholeNumber(double number, uint64_t max) {
  return number >= 0 && number <= static_cast<double>(max) && std::trunc(number) == number;
}

bool GetWholeNumber(napi_env env, napi_value value, const char* what, uint64_t max, uint64_t* out) {
  double number = 0;
  if (napi_get_value_double(env, value, &number) != napi_ok) {
    std::string message = std::string(what) + " must be a number";
    ThrowCoded(env, "ERR_INVALID_ARG_TYPE", message.c_str());
    return false;
  }
  if (!IsWholeNumber(number, max)) {
    char text[160];
    std::snprintf(text, sizeof text, "%s must be a whole number from 0 to %llu, got %.17g", what,
                  static_cast<unsigned long long>(max), number);
    ThrowCoded(env, "ERR_OUT_OF_RANGE", text);
    return false;
  }
  *out = static_cast<uint64_t>(number);
  return true;
}

bool GetUint32Array(const Napi::Value& value, const char* what, uint32_t** data, size_t* count) {
  void* pointer = nullptr;
  if (!GetTypedArray(value, napi_uint32_array, what, "Uint32Array", &pointer, count)) return false;
  *data = static_cast<uint32_t*>(pointer);
  return true;
}

}  // namespace hybridwire::binding
