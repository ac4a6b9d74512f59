#include "binding/bindings.h"

namespace hybridwire::binding {

Napi::Value ThrowCoded(Napi::Env env, const char* code, const char* message) {
  Napi::Error error = Napi::Error::New(env, message);
  error.Set("code", Napi::String::New(env, code));
  error.ThrowAsJavaScriptException();
  return Napi::Value();
}

bool GetMutableBytes(const Napi::Value& value, const char* what, uint8_t** data, size_t* length) {
  if (!value.IsTypedArray() || value.As<Napi::TypedArray>().TypedArrayType() != napi_uint8_array) {
    std::string message = std::string(what) + " must be a Uint8Array or Buffer";
    Napi::Error error = Napi::TypeError::New(value.Env(), message);
    error.Set("code", Napi::String::New(value.Env(), "ERR_INVALID_ARG_TYPE"));
    error.ThrowAsJavaScriptException();
    return false;
  }
  Napi::Uint8Array array = value.As<Napi::Uint8Array>();
  *data = array.Data();
  *length = array.ByteLength();
  return true;
}

bool GetBytes(const Napi::Value& value, const char* what, const uint8_t** data, size_t* length) {
  uint8_t* mutable_data = nullptr;
  if (!GetMutableBytes(value, what, &mutable_data, length)) return false;
  *data = mutable_data;
  return true;
}

}  // namespace hybridwire::binding
