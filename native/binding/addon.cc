// The N-API entry point: each concern registers its own functions.
#include <napi.h>

#include "binding/bindings.h"

namespace {

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  hybridwire::binding::InitCrc32c(env, exports);
  hybridwire::binding::InitLz4(env, exports);
  hybridwire::binding::InitFrame(env, exports);
  hybridwire::binding::InitReliable(env, exports);
  hybridwire::binding::InitUdpSocket(env, exports);
  hybridwire::binding::InitLayouts(env, exports);
  hybridwire::binding::InitSeal(env, exports);
  return exports;
}

}  // namespace

NODE_API_MODULE(hybridwire, Init)
