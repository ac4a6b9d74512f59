// Placeholder replaced by the LZ4 implementation.
#include "binding/bindings.h"

namespace hybridwire::binding {
void InitLz4(Napi::Env, Napi::Object) {}
}  // namespace hybridwire::binding
