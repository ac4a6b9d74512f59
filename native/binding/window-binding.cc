// DeliveryWindow: a SendWindow and a ReceiveWindow for one connection. Every mutating call
// refreshes a shared Uint32Array of the window's state, so JS reads it without crossing again:
// [nextSequence, inFlight, available, nextExpected, unacknowledged].
#include "binding/bindings.h"
#include "core/delivery-window.h"
#include "core/frame-codec.h"

namespace hybridwire::binding {
namespace {

class DeliveryWindow : public Napi::ObjectWrap<DeliveryWindow> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "DeliveryWindow",
                       {
                           InstanceMethod<&DeliveryWindow::Reserve>("reserve"),
                           InstanceMethod<&DeliveryWindow::Acknowledge>("acknowledge"),
                           InstanceMethod<&DeliveryWindow::Accept>("accept"),
                           InstanceMethod<&DeliveryWindow::Acked>("acked"),
                       });
  }

  // new DeliveryWindow(sendWindow, receiveWindow, state: Uint32Array(5))
  explicit DeliveryWindow(const Napi::CallbackInfo& info)
      : Napi::ObjectWrap<DeliveryWindow>(info),
        send_(info[0].As<Napi::Number>().Uint32Value()),
        receive_(info[1].As<Napi::Number>().Uint32Value()) {
    if (!info[2].IsTypedArray() ||
        info[2].As<Napi::TypedArray>().TypedArrayType() != napi_uint32_array ||
        info[2].As<Napi::Uint32Array>().ElementLength() < 5) {
      ThrowCoded(info.Env(), "ERR_INVALID_ARG_TYPE", "state must be a Uint32Array of 5 values");
      return;
    }
    // The reference keeps the array alive; a non-resizable ArrayBuffer's memory never moves.
    state_ = Napi::Reference<Napi::Uint32Array>::New(info[2].As<Napi::Uint32Array>(), 1);
    state_data_ = info[2].As<Napi::Uint32Array>().Data();
    Publish();
  }

 private:
  void Publish() {
    uint32_t* state = state_data_;
    if (state == nullptr) return;
    state[0] = send_.next_sequence();
    state[1] = send_.in_flight();
    state[2] = send_.available();
    state[3] = receive_.next_expected();
    state[4] = receive_.unacknowledged();
  }

  // reserve(wanted) -> granted; the first granted sequence number is the old state[0].
  Napi::Value Reserve(const Napi::CallbackInfo& info) {
    uint32_t granted = send_.reserve(info[0].As<Napi::Number>().Uint32Value());
    Publish();
    return Napi::Number::New(info.Env(), granted);
  }

  // acknowledge(nextExpected) -> newly acknowledged count, or -1 for an impossible ack.
  Napi::Value Acknowledge(const Napi::CallbackInfo& info) {
    int64_t newly = send_.acknowledge(info[0].As<Napi::Number>().Uint32Value());
    Publish();
    return Napi::Number::New(info.Env(), static_cast<double>(newly));
  }

  // accept(rows, count) -> index of the first out-of-order row, or count.
  Napi::Value Accept(const Napi::CallbackInfo& info) {
    if (!info[0].IsTypedArray() ||
        info[0].As<Napi::TypedArray>().TypedArrayType() != napi_uint32_array) {
      return ThrowCoded(info.Env(), "ERR_INVALID_ARG_TYPE", "rows must be a Uint32Array");
    }
    Napi::Uint32Array rows = info[0].As<Napi::Uint32Array>();
    uint32_t count = info[1].As<Napi::Number>().Uint32Value();
    size_t capacity = rows.ElementLength() / frame::kRowWidth;
    if (count > capacity) return ThrowCoded(info.Env(), "ERR_OUT_OF_RANGE", "count exceeds the rows given");
    uint32_t accepted = receive_.accept(rows.Data(), count);
    Publish();
    return Napi::Number::New(info.Env(), accepted);
  }

  // acked(): the next ACK carries state[3]; clears the owed-ack count.
  Napi::Value Acked(const Napi::CallbackInfo& info) {
    receive_.acked();
    Publish();
    return info.Env().Undefined();
  }

  SendWindow send_;
  ReceiveWindow receive_;
  Napi::Reference<Napi::Uint32Array> state_;
  uint32_t* state_data_ = nullptr;
};

}  // namespace

void InitWindow(Napi::Env env, Napi::Object exports) {
  exports.Set("DeliveryWindow", DeliveryWindow::Define(env));
}

}  // namespace hybridwire::binding
