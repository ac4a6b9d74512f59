// Registration functions of the binding files, called once from addon.cc.
#pragma once
#include <napi.h>

#include <cstdint>

namespace hybridwire::binding {

void InitCrc32c(Napi::Env env, Napi::Object exports);
void InitLz4(Napi::Env env, Napi::Object exports);
void InitFrame(Napi::Env env, Napi::Object exports);
void InitReliable(Napi::Env env, Napi::Object exports);
void InitUdpSocket(Napi::Env env, Napi::Object exports);
void InitLayouts(Napi::Env env, Napi::Object exports);
void InitSeal(Napi::Env env, Napi::Object exports);

// Throws a JS Error whose `code` property is `code` and returns an empty value; used by every
// binding so that native errors reach JS with stable codes.
Napi::Value ThrowCoded(Napi::Env env, const char* code, const char* message);

// Reads a Uint8Array argument (Buffer included) without copying. Returns false and throws a
// TypeError naming `what` if the value is not one.
bool GetBytes(const Napi::Value& value, const char* what, const uint8_t** data, size_t* length);
bool GetMutableBytes(const Napi::Value& value, const char* what, uint8_t** data, size_t* length);
// Sets exports[name] to a function written against the plain napi C API.
void ExportFunction(napi_env env, napi_value exports, const char* name, napi_callback callback);

// Reads a Uint32Array argument; `count` is its number of elements.
bool GetUint32Array(const Napi::Value& value, const char* what, uint32_t** data, size_t* count);

// The largest whole number a JS number holds exactly (2^53).
constexpr uint64_t kMaxWholeNumber = uint64_t{1} << 53;
// Reads a whole number from 0 to `max` (at most kMaxWholeNumber): no NaN, negative, fractional or
// too large value ever becomes a size or an index. Otherwise throws a JS error, ERR_INVALID_ARG_TYPE
// (not a number) or ERR_OUT_OF_RANGE, naming `what`, and returns false.
bool GetWholeNumber(napi_env env, napi_value value, const char* what, uint64_t max, uint64_t* out);
// Whether `number` is a whole number from 0 to `max`, for callers that report the error themselves.
bool IsWholeNumber(double number, uint64_t max);

// For hot internal calls, whose JS wrappers pass the right kinds of arrays (the public functions
// use the checked readers above): the memory of a typed-array argument, as `count` values of T. napi_get_buffer_info takes any
// ArrayBufferView and skips napi_get_typedarray_info's test of the view against the typed-array
// kinds one by one, a cost that counts in calls made once per chunk (bench/micro/
// frame-decode.bench.mjs measures it).
// The element type is not checked: whatever the view, only its own bytes are read or written, at
// T's alignment, so a wrong kind of array can give wrong results but never reach other memory.
template <typename T>
inline bool TypedArg(napi_env env, napi_value value, T** data, size_t* count) {
  void* pointer = nullptr;
  size_t bytes = 0;
  if (napi_get_buffer_info(env, value, &pointer, &bytes) != napi_ok) return false;
  static T empty[1] = {};
  if (pointer == nullptr || bytes < sizeof(T)) {
    *data = empty;
    *count = 0;
    return true;
  }
  if (reinterpret_cast<uintptr_t>(pointer) % alignof(T) != 0) return false;
  *data = static_cast<T*>(pointer);
  *count = bytes / sizeof(T);
  return true;
}

// TypedArg for node-addon-api callers: throws ERR_INVALID_ARG_TYPE naming `what` when it fails.
template <typename T>
inline bool FastArg(const Napi::Value& value, const char* what, T** data, size_t* count) {
  if (TypedArg(value.Env(), static_cast<napi_value>(value), data, count)) return true;
  ThrowCoded(value.Env(), "ERR_INVALID_ARG_TYPE", what);
  return false;
}

}  // namespace hybridwire::binding
