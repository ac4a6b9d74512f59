#include "binding/udp-receive.h"

#include <cstdlib>
#include <cstring>
#include <string>

#include "binding/udp-address.h"

namespace hybridwire::binding {
namespace {

// One receive area per JS environment (the main thread, each worker), shared by all its sockets:
// a socket reads into it and hands it to JS within one callback, and none other reads meanwhile
// (every read happens on that environment's loop, one callback at a time). So a process with
// thousands of client sockets has one area and one lent Buffer, not one of each per socket (V8
// counts each lent Buffer's megabyte as external memory, and collects more often for it). Kept in
// the addon's instance data; the environment's teardown lets go of it.
struct EnvArea {
  ReceiveArea* area = nullptr;
  Napi::ObjectReference lent;
  bool refused = false;  // the runtime allows no external Buffers: batches are copied
  ~EnvArea() {
    lent.Reset();
    if (area != nullptr) area->Release();
  }

  static EnvArea* Of(napi_env env) {
    void* data = nullptr;
    if (napi_get_instance_data(env, &data) == napi_ok && data != nullptr) return static_cast<EnvArea*>(data);
    auto* created = new EnvArea;
    if (napi_set_instance_data(env, created, [](napi_env, void* finalized, void*) { delete static_cast<EnvArea*>(finalized); }, nullptr) != napi_ok) {
      delete created;
      return nullptr;
    }
    return created;
  }
};

void OnLentFreed(napi_env, void*, void* hint) { static_cast<ReceiveArea*>(hint)->Release(); }

// The external Buffer over the environment's receive area, made on first use; nullptr if `area`
// is not that area or the runtime refuses external Buffers (batches are then copied).
napi_value Lend(napi_env env, ReceiveArea* area) {
  EnvArea* shared = EnvArea::Of(env);
  if (shared == nullptr || shared->refused || shared->area == nullptr || area != shared->area) return nullptr;
  if (shared->lent.IsEmpty()) {
    napi_value buffer;
    if (napi_create_external_buffer(env, kAreaBytes, area->data, &OnLentFreed, area, &buffer) != napi_ok) {
      bool pending = false;
      napi_is_exception_pending(env, &pending);
      if (pending) {
        napi_value ignored;
        napi_get_and_clear_last_exception(env, &ignored);
      }
      shared->refused = true;
      return nullptr;
    }
    ++area->holders;
    shared->lent = Napi::Persistent(Napi::Object(env, buffer));
  }
  return shared->lent.Value();
}

}  // namespace

ReceiveArea* ReceiveArea::Create() {
  auto* area = new ReceiveArea;
  // Only the pages datagrams land in are touched, so this costs far less memory than its size.
  area->data = static_cast<char*>(std::malloc(kAreaBytes));
  if (area->data == nullptr) {
    delete area;
    return nullptr;
  }
  return area;
}

void ReceiveArea::Release() {
  if (--holders > 0) return;
  std::free(data);
  delete this;
}

ReceiveArea* HoldEnvironmentArea(napi_env env) {
  EnvArea* shared = EnvArea::Of(env);
  if (shared == nullptr) return nullptr;
  if (shared->area == nullptr) shared->area = ReceiveArea::Create();
  if (shared->area == nullptr) return nullptr;
  ++shared->area->holders;
  return shared->area;
}

void ReceivedBatch::Add(const char* data, size_t length, const sockaddr* sender) {
  const uint32_t index = senders_.IndexOf(sender);
  received_.push_back({data, static_cast<uint32_t>(length), PortOf(sender), index});
}

void ReceivedBatch::Clear() {
  received_.clear();
  senders_.Clear();
}

size_t ReceivedBatch::Deliver(napi_env env, ReceiveArea* area, napi_ref rows_ref, napi_ref on_batch_ref,
                              napi_async_context context) {
  namespace socket_row = layout::socket_row;
  if (received_.empty()) return 0;
  napi_handle_scope scope;
  if (napi_open_handle_scope(env, &scope) != napi_ok) {
    Clear();
    return 0;
  }
  // The rows array is the caller's: take its memory afresh (it could have been detached).
  napi_value rows_value = nullptr;
  napi_value on_batch = nullptr;
  napi_typedarray_type rows_type;
  size_t rows_length = 0;
  void* rows_data = nullptr;
  if (napi_get_reference_value(env, rows_ref, &rows_value) != napi_ok || rows_value == nullptr ||
      napi_get_reference_value(env, on_batch_ref, &on_batch) != napi_ok || on_batch == nullptr ||
      napi_get_typedarray_info(env, rows_value, &rows_type, &rows_length, &rows_data, nullptr, nullptr) != napi_ok ||
      rows_type != napi_uint32_array || rows_data == nullptr || rows_length < received_.size() * socket_row::kWidth) {
    const size_t lost = received_.size();
    Clear();
    napi_close_handle_scope(env, scope);
    return lost;
  }
  uint32_t* rows = static_cast<uint32_t*>(rows_data);
  napi_value buffer = Lend(env, area);
  char* bytes = area->data;
  if (buffer == nullptr) {
    size_t total = 0;
    for (const Received& r : received_) total += r.length;
    void* copy = nullptr;
    if (napi_create_buffer(env, total, &copy, &buffer) != napi_ok) buffer = nullptr;
    bytes = static_cast<char*>(copy);
  }
  bool ok = buffer != nullptr;
  napi_value senders;
  ok = ok && napi_create_array_with_length(env, senders_.size(), &senders) == napi_ok;
  const size_t count = received_.size();
  if (ok) {
    const bool lent = bytes == area->data;
    size_t offset = 0;
    for (size_t i = 0; i < count; i++) {
      const Received& r = received_[i];
      uint32_t* row = rows + i * socket_row::kWidth;
      if (lent) {
        row[socket_row::kOffset] = static_cast<uint32_t>(r.data - bytes);
      } else {
        if (r.length > 0) std::memcpy(bytes + offset, r.data, r.length);
        row[socket_row::kOffset] = static_cast<uint32_t>(offset);
        offset += r.length;
      }
      row[socket_row::kLength] = r.length;
      row[socket_row::kPort] = r.port;
      row[socket_row::kSender] = r.sender;
    }
    for (size_t i = 0; i < senders_.size() && ok; i++) {
      std::string text;
      uint16_t port = 0;
      Describe(senders_.at(i), &text, &port);
      napi_value value;
      ok = napi_create_string_utf8(env, text.c_str(), text.size(), &value) == napi_ok &&
           napi_set_element(env, senders, static_cast<uint32_t>(i), value) == napi_ok;
    }
  }
  Clear();
  if (ok) {
    napi_value argv[3];
    argv[0] = buffer;
    napi_create_uint32(env, static_cast<uint32_t>(count), &argv[1]);
    argv[2] = senders;
    napi_value receiver;
    napi_value result;
    napi_get_global(env, &receiver);
    napi_make_callback(env, context, receiver, on_batch, 3, argv, &result);
    bool pending = false;
    napi_is_exception_pending(env, &pending);
    if (pending) {
      // A handler threw: report it as Node does for any event handler (uncaughtException).
      napi_value error;
      if (napi_get_and_clear_last_exception(env, &error) == napi_ok) napi_fatal_exception(env, error);
    }
  }
  napi_close_handle_scope(env, scope);
  return 0;
}

}  // namespace hybridwire::binding
