// Registration functions of the binding files, called once from addon.cc.
#pragma once
#include <napi.h>

namespace hybridwire::binding {

void InitCrc32c(Napi::Env env, Napi::Object exports);
void InitLz4(Napi::Env env, Napi::Object exports);
void InitFrame(Napi::Env env, Napi::Object exports);
void InitReliable(Napi::Env env, Napi::Object exports);
void InitUdpSocket(Napi::Env env, Napi::Object exports);

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

}  // namespace hybridwire::binding
