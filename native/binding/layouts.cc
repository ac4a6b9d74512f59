// Exports the layouts of native/binding/layouts.h as `layouts`, an object of objects of numbers
// ({ socketRow: { OFFSET: 0, ..., WIDTH: 4 }, ... }), so that a test can hold the TypeScript side
// (ts/native/layouts.ts) to them.
#include "binding/layouts.h"

#include "binding/bindings.h"
#include "core/reliable/endpoint.h"

namespace hybridwire::binding {
namespace {

using reliable::SendStatus;
static_assert(layout::send_status::kOk == static_cast<uint32_t>(SendStatus::kOk) &&
                  layout::send_status::kWouldBlock == static_cast<uint32_t>(SendStatus::kWouldBlock) &&
                  layout::send_status::kTooLarge == static_cast<uint32_t>(SendStatus::kTooLarge) &&
                  layout::send_status::kInvalid == static_cast<uint32_t>(SendStatus::kInvalid),
              "send statuses are reliable::SendStatus");

}  // namespace

void InitLayouts(Napi::Env env, Napi::Object exports) {
  Napi::Object layouts = Napi::Object::New(env);
#define HYBRIDWIRE_LAYOUT_EXPORT(constant, name, ...) group.Set(#name, static_cast<double>(constant));
  {
    using namespace layout::socket_row;
    Napi::Object group = Napi::Object::New(env);
    HYBRIDWIRE_SOCKET_ROW(HYBRIDWIRE_LAYOUT_EXPORT)
    group.Set("WIDTH", static_cast<double>(kWidth));
    layouts.Set("socketRow", group);
  }
  {
    using namespace layout::delivery_row;
    Napi::Object group = Napi::Object::New(env);
    HYBRIDWIRE_DELIVERY_ROW(HYBRIDWIRE_LAYOUT_EXPORT)
    group.Set("WIDTH", static_cast<double>(kWidth));
    layouts.Set("deliveryRow", group);
  }
  {
    using namespace layout::delivery_kind;
    Napi::Object group = Napi::Object::New(env);
    HYBRIDWIRE_DELIVERY_KIND(HYBRIDWIRE_LAYOUT_EXPORT)
    layouts.Set("deliveryKind", group);
  }
  {
    using namespace layout::endpoint_state;
    Napi::Object group = Napi::Object::New(env);
    HYBRIDWIRE_ENDPOINT_STATE(HYBRIDWIRE_LAYOUT_EXPORT)
    group.Set("COUNT", static_cast<double>(kCount));
    layouts.Set("endpointState", group);
  }
  {
    using namespace layout::endpoint_option;
    Napi::Object group = Napi::Object::New(env);
    HYBRIDWIRE_ENDPOINT_OPTION(HYBRIDWIRE_LAYOUT_EXPORT)
    group.Set("COUNT", static_cast<double>(kCount));
    layouts.Set("endpointOption", group);
  }
  {
    using namespace layout::endpoint_stat;
    Napi::Object group = Napi::Object::New(env);
    HYBRIDWIRE_ENDPOINT_STAT(HYBRIDWIRE_LAYOUT_EXPORT)
    group.Set("COUNT", static_cast<double>(kCount));
    layouts.Set("endpointStat", group);
  }
  {
    using namespace layout::socket_stat;
    Napi::Object group = Napi::Object::New(env);
    HYBRIDWIRE_SOCKET_STAT(HYBRIDWIRE_LAYOUT_EXPORT)
    group.Set("COUNT", static_cast<double>(kCount));
    layouts.Set("socketStat", group);
  }
  {
    using namespace layout::send_status;
    Napi::Object group = Napi::Object::New(env);
    HYBRIDWIRE_SEND_STATUS(HYBRIDWIRE_LAYOUT_EXPORT)
    layouts.Set("sendStatus", group);
  }
#undef HYBRIDWIRE_LAYOUT_EXPORT
  Napi::Object constants = Napi::Object::New(env);
  constants.Set("SOCKET_ROWS", static_cast<double>(layout::kSocketRows));
  constants.Set("DONT_FRAGMENT", static_cast<double>(layout::kDontFragment));
  layouts.Set("constants", constants);
  exports.Set("layouts", layouts);
}

}  // namespace hybridwire::binding
