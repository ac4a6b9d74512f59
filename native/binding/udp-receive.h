// The receive side of the UDP socket binding: the area datagrams are read into, and the batch
// that hands them to JS in one call.
//
// The area is *lent* to JS: an external Buffer over it (the same object every time; one area per
// JS environment, shared by its sockets), valid only during the call and written by the next read.
// JS copies what it keeps. (Copying each batch into a fresh Buffer was a large share of the time
// of a receiver of large messages: bench/RESULTS.md.) The area is freed when the environment, the
// sockets' handles and that Buffer have all let go, so a Buffer kept against the rules reads stale
// bytes, never freed memory. Where external Buffers are not allowed, each batch is copied into a
// new Buffer instead.
#pragma once
#include <napi.h>
#include <uv.h>

#include <cstddef>
#include <cstdint>
#include <vector>

#include "binding/layouts.h"
#include "binding/udp-senders.h"

namespace hybridwire::binding {

constexpr size_t kDatagramMax = 64 * 1024;  // libuv's stride between recvmmsg chunks
constexpr size_t kChunks = 16;              // datagrams per recvmmsg call
constexpr size_t kAreaBytes = kChunks * kDatagramMax;
constexpr size_t kMaxRows = layout::kSocketRows;  // datagrams per JS call (GRO can pack 64 in one read)

// The receive area, shared by the sockets' handles and the external Buffer that lends it to JS:
// freed by whichever lets go last (all on the JS thread).
struct ReceiveArea {
  char* data = nullptr;
  int holders = 1;

  static ReceiveArea* Create();
  void Release();
};

// The receive area of the socket's JS environment (made on first use), held for the caller, who
// releases it when its handles close; nullptr if there is none.
ReceiveArea* HoldEnvironmentArea(napi_env env);

// Datagrams received since the last delivery, as socket rows (layouts.h) to be, with the table of
// their senders.
class ReceivedBatch {
 public:
  bool empty() const { return received_.empty(); }
  bool full() const { return received_.size() >= kMaxRows; }
  size_t size() const { return received_.size(); }
  void Add(const char* data, size_t length, const sockaddr* sender);
  void Clear();

  // Writes the rows into `rows` (a Uint32Array) and calls on_batch(buffer, count, senders) through
  // `context`, in a handle scope of its own (it runs from libuv's callbacks): the buffer is the
  // lent area when the datagrams are in it, else a copy. An exception thrown by on_batch reaches
  // 'uncaughtException', as any event handler's does. Returns how many datagrams could not be
  // handed over (the rows array no longer fits them).
  size_t Deliver(napi_env env, ReceiveArea* area, napi_ref rows, napi_ref on_batch, napi_async_context context);

 private:
  struct Received {
    const char* data;
    uint32_t length;
    uint16_t port;
    uint32_t sender;
  };

  std::vector<Received> received_;
  SenderTable senders_;
};

}  // namespace hybridwire::binding
