// UdpSocket: a UDP socket on the addon's libuv loop, for the session's UDP path.
//
// On Linux the socket is read by this binding (recvmmsg with UDP GRO, through a uv_poll_t on the
// fd, libuv never polling it itself: udp-linux.h) and its send queue is its own; elsewhere libuv
// reads it (uv_udp_recv_start with UV_UDP_RECVMMSG) and queues sends (uv_udp_send).
//
// Node's dgram socket costs a JS callback, a Buffer and an address object per datagram received,
// and a JS send() (argument checks, a send request, often a nextTick) per datagram sent. The
// reliable-UDP endpoint already works in batches, so this socket does too:
// - receiving, it reads up to kChunks datagrams per system call and calls JS once per batch with
//   one socket row per datagram (layouts.h: offset, length, port, sender index) in a caller-owned
//   Uint32Array, the offsets into the receive area, which is lent to JS (udp-receive.h);
// - sending, it takes a whole flush (a slab, a start offset and a Uint32Array of lengths) and
//   writes it with one sendmmsg on Linux (runs of equal-length datagrams as one UDP GSO message
//   each), or uv_udp_try_send per datagram elsewhere. What the kernel does not take at once
//   (EAGAIN, ENOBUFS) is copied and queued, up to `queueLimit` bytes; past that it is dropped and
//   counted, as a full socket drops datagrams.
//
// This is the binding layer's only I/O; native/core stays sans-IO. Every JS-visible value is
// validated here; errors reach JS as Error objects with a `code` (libuv's name, e.g. EADDRINUSE).
#include <uv.h>

#include <cstdlib>
#include <cstring>
#include <deque>
#include <string>

#include "binding/bindings.h"
#include "binding/layouts.h"
#include "binding/udp-address.h"
#include "binding/udp-linux.h"
#include "binding/udp-receive.h"

namespace hybridwire::binding {
namespace {

constexpr size_t kMaxPayload = 65527;  // the largest UDP payload (IPv6; 65507 over IPv4)
constexpr size_t kReadRounds = 4;      // recvmmsg calls per readable event, then others' turn
using namespace layout::socket_stat;
constexpr size_t kStatCount = layout::socket_stat::kCount;

class UdpSocket;

// What libuv's callbacks may touch: it lives until the handle's close callback, which libuv runs
// after every send callback, so a queued send never outlives it (the JS object may go first).
struct Native {
  uv_udp_t handle;
  UdpSocket* owner = nullptr;
  // Handles still to finish closing; the last close callback frees this struct. (libuv runs close
  // callbacks in no promised order.)
  int open_handles = 1;
  // Registered while the handles exist, so that a worker's teardown waits for their close
  // callbacks before the addon's code is unloaded.
  napi_async_cleanup_hook_handle cleanup = nullptr;
  ReceiveArea* area = nullptr;
  size_t queued_bytes = 0;
  uint64_t stats[kStatCount] = {0};
#ifdef __linux__
  // Linux: the socket belongs to `handle`, but libuv never polls it. `poll` watches its fd and
  // this binding reads it (recvmmsg with UDP GRO) and drains `queue` when the kernel takes writes
  // again, so only one watcher ever exists per fd.
  uv_poll_t poll;
  bool poll_open = false;
  int poll_events = 0;
  std::deque<linux_udp::Pending*> queue;
#endif
};

struct QueuedSend {
  uv_udp_send_t request;
  size_t length;
  char data[1];  // allocated with the datagram's length
};

Napi::Value ThrowUv(Napi::Env env, int status, const char* what) {
  std::string message = std::string(what) + ": " + uv_strerror(status);
  return ThrowCoded(env, uv_err_name(status), message.c_str());
}

class UdpSocket : public Napi::ObjectWrap<UdpSocket>
#ifdef __linux__
    , private linux_udp::DatagramSink
#endif
{
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "UdpSocket",
                       {
                           InstanceMethod<&UdpSocket::Bind>("bind"),
                           InstanceMethod<&UdpSocket::Connect>("connect"),
                           InstanceMethod<&UdpSocket::SetBufferSizes>("setBufferSizes"),
                           InstanceMethod<&UdpSocket::LocalPort>("localPort"),
                           InstanceMethod<&UdpSocket::Target>("target"),
                           InstanceMethod<&UdpSocket::SendBatch>("sendBatch"),
                           InstanceMethod<&UdpSocket::Start>("start"),
                           InstanceMethod<&UdpSocket::Close>("close"),
                           InstanceMethod<&UdpSocket::Ref>("ref"),
                           InstanceMethod<&UdpSocket::Unref>("unref"),
                           InstanceMethod<&UdpSocket::Stats>("stats"),
                           InstanceMethod<&UdpSocket::DontFragment>("dontFragment"),
                       });
  }

  // new UdpSocket(ipv6: boolean, rows: Uint32Array (kMaxRows socket rows), queueLimit: number,
  //               onBatch: (buffer, count, senders: string[]) => void)
  explicit UdpSocket(const Napi::CallbackInfo& info) : Napi::ObjectWrap<UdpSocket>(info) {
    Napi::Env env = info.Env();
    uint32_t* rows = nullptr;
    size_t row_count = 0;
    if (!GetUint32Array(info[1], "rows", &rows, &row_count)) return;
    if (row_count < layout::socket_row::kWidth * kMaxRows) {
      ThrowCoded(env, "ERR_INVALID_ARG_VALUE", "rows must hold 4096 or more values");
      return;
    }
    if (!info[3].IsFunction()) {
      ThrowCoded(env, "ERR_INVALID_ARG_TYPE", "onBatch must be a function");
      return;
    }
    uint64_t limit = 0;
    if (!GetWholeNumber(env, info[2], "queueLimit", kMaxWholeNumber, &limit)) return;
    queue_limit_ = static_cast<size_t>(limit);
    rows_ref_ = Napi::Persistent(info[1].As<Napi::Object>());
    on_batch_ = Napi::Persistent(info[3].As<Napi::Function>());
    uv_loop_t* loop = nullptr;
    if (napi_get_uv_event_loop(env, &loop) != napi_ok || loop == nullptr) {
      ThrowCoded(env, "HW_ERR_NATIVE", "no event loop");
      return;
    }
    native_ = new Native;
    ipv6_ = info[0].ToBoolean().Value();
    unsigned int flags = (ipv6_ ? AF_INET6 : AF_INET) | UV_UDP_RECVMMSG;
    int status = uv_udp_init_ex(loop, &native_->handle, flags);
    if (status != 0) {
      delete native_;
      native_ = nullptr;
      ThrowUv(env, status, "cannot create a UDP socket");
      return;
    }
    native_->owner = this;
    native_->handle.data = native_;
    handle_ = &native_->handle;
#ifdef __linux__
    if (std::getenv("HYBRIDWIRE_UDP_NO_GSO") != nullptr) gso_ = false;
    uv_os_fd_t fd;
    if (uv_fileno(reinterpret_cast<uv_handle_t*>(handle_), &fd) == 0) {
      fd_ = fd;
      probe_.Learn(fd_, ipv6_);
    }
    if (std::getenv("HYBRIDWIRE_UDP_LIBUV") == nullptr && fd_ >= 0 && uv_poll_init_socket(loop, &native_->poll, fd_) == 0) {
      native_->poll.data = native_;
      native_->poll_open = true;
      // UDP GRO: runs of same-sized datagrams from one sender arrive as one buffer plus their
      // size, so a GSO sender's run costs the kernel one pass on this side too.
      if (std::getenv("HYBRIDWIRE_UDP_NO_GRO") == nullptr) gro_ = linux_udp::EnableGro(fd_);
    }
#endif
    napi_value name;
    napi_create_string_utf8(env, "hybridwire:UdpSocket", NAPI_AUTO_LENGTH, &name);
    napi_async_init(env, info.This(), name, &async_context_);
    napi_add_async_cleanup_hook(env, &UdpSocket::OnEnvCleanup, native_, &native_->cleanup);
  }

  ~UdpSocket() override { Shutdown(); }

 private:
  // The environment is going away (a worker ends): close the handles now; the last close
  // callback removes this hook, which lets teardown go on.
  static void OnEnvCleanup(napi_async_cleanup_hook_handle, void* data) {
    auto* native = static_cast<Native*>(data);
    if (native->owner != nullptr) native->owner->Shutdown();
  }

  static void OnHandleClosed(uv_handle_t* handle) {
    auto* native = static_cast<Native*>(handle->data);
    if (--native->open_handles > 0) return;
    napi_async_cleanup_hook_handle cleanup = native->cleanup;
    if (native->area != nullptr) native->area->Release();
    delete native;
    if (cleanup != nullptr) napi_remove_async_cleanup_hook(cleanup);
  }

  // Stops receiving and closes the handles (the struct they share is freed by the last close
  // callback, with the receive buffer and anything still queued).
  void Shutdown() {
    if (handle_ != nullptr) {
      uv_udp_recv_stop(handle_);
      std::memcpy(final_stats_, native_->stats, sizeof final_stats_);
      native_->owner = nullptr;
#ifdef __linux__
      if (native_->poll_open) {
        uv_poll_stop(&native_->poll);
        ++native_->open_handles;
        uv_close(reinterpret_cast<uv_handle_t*>(&native_->poll), &UdpSocket::OnHandleClosed);
        for (linux_udp::Pending* pending : native_->queue) std::free(pending);
        native_->queue.clear();
        native_->poll_open = false;
      }
#endif
      uv_close(reinterpret_cast<uv_handle_t*>(handle_), &UdpSocket::OnHandleClosed);
      handle_ = nullptr;
      native_ = nullptr;
    }
    if (async_context_ != nullptr) {
      napi_async_destroy(Env(), async_context_);
      async_context_ = nullptr;
    }
  }

  // Whether datagrams flagged kDontFragment (path MTU probes) can leave unfragmented.
  Napi::Value DontFragment(const Napi::CallbackInfo& info) {
#ifdef __linux__
    return Napi::Boolean::New(info.Env(), probe_.usable());
#else
    return Napi::Boolean::New(info.Env(), false);
#endif
  }

  bool Open(Napi::Env env) {
    if (handle_ != nullptr) return true;
    ThrowCoded(env, "ERR_SOCKET_DGRAM_NOT_RUNNING", "the UDP socket is closed");
    return false;
  }

  bool ReadAddress(const Napi::CallbackInfo& info, size_t index, sockaddr_storage* out) {
    Napi::Env env = info.Env();
    if (!info[index].IsString() || !info[index + 1].IsNumber()) {
      ThrowCoded(env, "ERR_INVALID_ARG_TYPE", "expected an address string and a port number");
      return false;
    }
    double port = info[index + 1].As<Napi::Number>().DoubleValue();
    if (!(port >= 0 && port <= 65535) || port != static_cast<int>(port)) {
      ThrowCoded(env, "ERR_SOCKET_BAD_PORT", "port must be an integer from 0 to 65535");
      return false;
    }
    int status = ParseAddress(info[index].As<Napi::String>().Utf8Value(), static_cast<int>(port), out);
    if (status != 0) {
      ThrowUv(env, status, "not an IP address");
      return false;
    }
    return true;
  }

  // bind(address, port): binds (dual-stack for "::"); throws with libuv's code on failure.
  Napi::Value Bind(const Napi::CallbackInfo& info) {
    if (!Open(info.Env())) return info.Env().Undefined();
    sockaddr_storage address;
    if (!ReadAddress(info, 0, &address)) return info.Env().Undefined();
    int status = uv_udp_bind(handle_, reinterpret_cast<const sockaddr*>(&address), 0);
    if (status != 0) return ThrowUv(info.Env(), status, "cannot bind the UDP socket");
    return info.Env().Undefined();
  }

  // connect(address, port): only that peer's datagrams arrive, and sends need no target.
  Napi::Value Connect(const Napi::CallbackInfo& info) {
    if (!Open(info.Env())) return info.Env().Undefined();
    sockaddr_storage address;
    if (!ReadAddress(info, 0, &address)) return info.Env().Undefined();
    int status = uv_udp_connect(handle_, reinterpret_cast<const sockaddr*>(&address));
    if (status != 0) return ThrowUv(info.Env(), status, "cannot connect the UDP socket");
    connected_ = true;
    return info.Env().Undefined();
  }

  // setBufferSizes(receive, send): SO_RCVBUF / SO_SNDBUF (0 leaves one as it is).
  Napi::Value SetBufferSizes(const Napi::CallbackInfo& info) {
    if (!Open(info.Env())) return info.Env().Undefined();
    for (int i = 0; i < 2; i++) {
      uint64_t size = 0;
      if (!GetWholeNumber(info.Env(), info[i], i == 0 ? "receive" : "send", INT32_MAX, &size)) return info.Env().Undefined();
      int value = static_cast<int>(size);
      if (value == 0) continue;
      int status = i == 0 ? uv_recv_buffer_size(reinterpret_cast<uv_handle_t*>(handle_), &value)
                          : uv_send_buffer_size(reinterpret_cast<uv_handle_t*>(handle_), &value);
      if (status != 0) return ThrowUv(info.Env(), status, "cannot set the UDP socket buffer size");
    }
    return info.Env().Undefined();
  }

  Napi::Value LocalPort(const Napi::CallbackInfo& info) {
    if (!Open(info.Env())) return info.Env().Undefined();
    sockaddr_storage address;
    int length = sizeof address;
    int status = uv_udp_getsockname(handle_, reinterpret_cast<sockaddr*>(&address), &length);
    if (status != 0) return ThrowUv(info.Env(), status, "cannot read the UDP socket's address");
    std::string text;
    uint16_t port = 0;
    Describe(reinterpret_cast<sockaddr*>(&address), &text, &port);
    return Napi::Number::New(info.Env(), port);
  }

  // target(address, port): a Buffer holding the parsed sockaddr, for sendBatch.
  Napi::Value Target(const Napi::CallbackInfo& info) {
    sockaddr_storage address;
    if (!ReadAddress(info, 0, &address)) return info.Env().Undefined();
    return Napi::Buffer<uint8_t>::Copy(info.Env(), reinterpret_cast<uint8_t*>(&address), sizeof address);
  }

  // sendBatch(slab, offset, lengths, count, target?): sends `count` datagrams laid back to back
  // in `slab` from `offset`; target is a Buffer from target(), or undefined once connected.
  // Returns how many went to the kernel at once (the rest are queued or dropped).
  Napi::Value SendBatch(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (!Open(env)) return env.Undefined();
    const uint8_t* slab = nullptr;
    size_t slab_length = 0;
    uint32_t* lengths = nullptr;
    size_t length_count = 0;
    if (!FastArg(info[0], "slab must be a Uint8Array", &slab, &slab_length)) return env.Undefined();
    if (!FastArg(info[2], "lengths must be a Uint32Array", &lengths, &length_count)) return env.Undefined();
    uint64_t offset = 0;
    uint64_t count = 0;
    if (!GetWholeNumber(env, info[1], "offset", slab_length, &offset) ||
        !GetWholeNumber(env, info[3], "count", length_count, &count)) {
      return env.Undefined();
    }
    const sockaddr* target = nullptr;
    sockaddr_storage target_copy;
    if (info.Length() > 4 && !info[4].IsUndefined() && !info[4].IsNull()) {
      const uint8_t* bytes = nullptr;
      size_t bytes_length = 0;
      if (!FastArg(info[4], "target must come from target()", &bytes, &bytes_length)) return env.Undefined();
      if (bytes_length < sizeof(sockaddr_storage)) return ThrowCoded(env, "ERR_INVALID_ARG_VALUE", "target must come from target()");
      // Copied: a Buffer's bytes carry no alignment promise.
      std::memcpy(&target_copy, bytes, sizeof target_copy);
      target = reinterpret_cast<const sockaddr*>(&target_copy);
      if (target->sa_family != AF_INET && target->sa_family != AF_INET6) {
        return ThrowCoded(env, "ERR_INVALID_ARG_VALUE", "target must come from target()");
      }
    } else if (!connected_) {
      return ThrowCoded(env, "ERR_SOCKET_DGRAM_NOT_CONNECTED", "an unconnected socket needs a target");
    }
    // Every datagram must lie inside the slab. A length may carry kDontFragment (a path MTU
    // probe): that datagram leaves alone, unfragmented, or not at all (it is never queued).
    size_t end = offset;
    bool flagged = false;
    for (size_t i = 0; i < count; i++) {
      const uint32_t length = lengths[i] & ~layout::kDontFragment;
      flagged = flagged || (lengths[i] & layout::kDontFragment) != 0;
      if (length > kMaxPayload || length > slab_length - end) {
        return ThrowCoded(env, "ERR_OUT_OF_RANGE", "datagram lengths run past the slab");
      }
      end += length;
    }
    if (connected_) target = nullptr;
    if (!flagged) return Napi::Number::New(env, static_cast<double>(SendOrQueue(slab + offset, lengths, count, target)));
    size_t sent = 0;
    size_t position = offset;
    for (size_t first = 0; first < count;) {
      size_t last = first;
      while (last < count && (lengths[last] & layout::kDontFragment) == 0) ++last;
      if (last > first) {
        sent += SendOrQueue(slab + position, lengths + first, last - first, target);
        for (size_t i = first; i < last; i++) position += lengths[i];
      }
      if (last == count) break;
      const uint32_t length = lengths[last] & ~layout::kDontFragment;
      if (SendProbe(slab + position, length, target)) ++sent;
      position += length;
      first = last + 1;
    }
    return Napi::Number::New(env, static_cast<double>(sent));
  }

  // Sends what the kernel takes now and queues the rest; returns how many were sent now.
  size_t SendOrQueue(const uint8_t* data, const uint32_t* lengths, size_t count, const sockaddr* target) {
    size_t sent = SendNow(data, lengths, count, target);
    size_t position = 0;
    for (size_t i = 0; i < sent; i++) position += lengths[i];
    for (size_t i = sent; i < count; i++) {
      Queue(data + position, lengths[i], target);
      position += lengths[i];
    }
    return sent;
  }

  // Sends one datagram without fragmentation, at once or not at all (a lost probe is only a
  // failed probe). Where that cannot be asked for, nothing is sent.
  bool SendProbe(const uint8_t* data, size_t length, const sockaddr* target) {
#ifdef __linux__
    if (!probe_.usable() || uv_udp_get_send_queue_count(handle_) > 0 || !native_->queue.empty()) {
      ++native_->stats[kSendErrors];
      return false;
    }
    return probe_.Send(fd_, data, length, target, native_->stats);
#else
    (void)data;
    (void)length;
    (void)target;
    ++native_->stats[kSendErrors];
    return false;
#endif
  }

  // Writes what the kernel takes without blocking; returns how many datagrams that was.
  size_t SendNow(const uint8_t* data, const uint32_t* lengths, size_t count, const sockaddr* target) {
#ifdef __linux__
    // A probe's setting that could not be taken off is taken off before anything else leaves.
    if (probe_.unrestored()) probe_.Restore(fd_);
#endif
    // Behind queued datagrams, new ones queue too, so that they leave in order.
    if (uv_udp_get_send_queue_count(handle_) > 0) return 0;
#ifdef __linux__
    if (native_->poll_open) {
      if (!native_->queue.empty()) return 0;
      return linux_udp::SendMessages(fd_, data, lengths, count, target, &gso_, native_->stats);
    }
    uv_os_fd_t fd;
    if (uv_fileno(reinterpret_cast<uv_handle_t*>(handle_), &fd) == 0) {
      return linux_udp::SendMessages(fd, data, lengths, count, target, &gso_, native_->stats);
    }
#endif
    size_t sent = 0;
    const uint8_t* cursor = data;
    for (; sent < count; sent++) {
      uv_buf_t buffer = uv_buf_init(reinterpret_cast<char*>(const_cast<uint8_t*>(cursor)), lengths[sent]);
      int result = uv_udp_try_send(handle_, &buffer, 1, target);
      if (result == UV_EAGAIN || result == UV_ENOSYS || result == UV_ENOBUFS) return sent;
      if (result < 0) ++native_->stats[kSendErrors];
      else ++native_->stats[kDatagramsSent];
      cursor += lengths[sent];
    }
    return sent;
  }

  // Copies a datagram the kernel would not take into a queued send, within queue_limit_ bytes.
  void Queue(const uint8_t* data, size_t length, const sockaddr* target) {
    if (native_->queued_bytes + length > queue_limit_) {
      ++native_->stats[kQueueDrops];
      return;
    }
#ifdef __linux__
    if (native_->poll_open) {
      linux_udp::Pending* pending = linux_udp::MakePending(data, length, target);
      if (pending == nullptr) {
        ++native_->stats[kQueueDrops];
        return;
      }
      native_->queue.push_back(pending);
      native_->queued_bytes += length;
      ++native_->stats[kQueued];
      WatchPoll(native_->poll_events | UV_WRITABLE);
      return;
    }
#endif
    auto* send = static_cast<QueuedSend*>(std::malloc(sizeof(QueuedSend) + length));
    if (send == nullptr) {
      ++native_->stats[kQueueDrops];
      return;
    }
    std::memcpy(send->data, data, length);
    send->length = length;
    uv_buf_t buffer = uv_buf_init(send->data, static_cast<unsigned int>(length));
    int status = uv_udp_send(&send->request, handle_, &buffer, 1, target, [](uv_udp_send_t* request, int status) {
      auto* done = reinterpret_cast<QueuedSend*>(request);
      auto* native = static_cast<Native*>(request->handle->data);
      native->queued_bytes -= done->length;
      if (status != UV_ECANCELED) ++native->stats[status == 0 ? kDatagramsSent : kSendErrors];
      std::free(done);
    });
    if (status != 0) {
      std::free(send);
      ++native_->stats[kSendErrors];
      return;
    }
    native_->queued_bytes += length;
    ++native_->stats[kQueued];
  }

  // start(): begins receiving; the socket then keeps itself alive until close().
  Napi::Value Start(const Napi::CallbackInfo& info) {
    if (!Open(info.Env())) return info.Env().Undefined();
    if (receiving_) return info.Env().Undefined();
    int status;
#ifdef __linux__
    if (native_->poll_open) {
      // As libuv's own receive does: a socket never bound is bound to any address, any port.
      sockaddr_storage local;
      int local_length = sizeof local;
      if (uv_udp_getsockname(handle_, reinterpret_cast<sockaddr*>(&local), &local_length) == 0 &&
          reinterpret_cast<sockaddr_in*>(&local)->sin_port == 0) {
        ParseAddress(ipv6_ ? "::" : "0.0.0.0", 0, &local);
        status = uv_udp_bind(handle_, reinterpret_cast<const sockaddr*>(&local), 0);
        if (status != 0) return ThrowUv(info.Env(), status, "cannot bind the UDP socket");
      }
      status = WatchPoll(native_->poll_events | UV_READABLE);
    } else {
      status = uv_udp_recv_start(handle_, &UdpSocket::OnAlloc, &UdpSocket::OnReceive);
    }
#else
    status = uv_udp_recv_start(handle_, &UdpSocket::OnAlloc, &UdpSocket::OnReceive);
#endif
    if (status != 0) return ThrowUv(info.Env(), status, "cannot receive on the UDP socket");
    receiving_ = true;
    Napi::ObjectWrap<UdpSocket>::Ref();
    return info.Env().Undefined();
  }

  Napi::Value Close(const Napi::CallbackInfo& info) {
    if (handle_ == nullptr) return info.Env().Undefined();
    Shutdown();
    if (receiving_) {
      receiving_ = false;
      Napi::ObjectWrap<UdpSocket>::Unref();
    }
    return info.Env().Undefined();
  }

  Napi::Value Ref(const Napi::CallbackInfo& info) {
    if (handle_ != nullptr) {
      uv_ref(reinterpret_cast<uv_handle_t*>(handle_));
#ifdef __linux__
      if (native_->poll_open) uv_ref(reinterpret_cast<uv_handle_t*>(&native_->poll));
#endif
    }
    return info.Env().Undefined();
  }

  // Lets the process exit while the socket is open (both handles: on Linux the poll is what runs).
  Napi::Value Unref(const Napi::CallbackInfo& info) {
    if (handle_ != nullptr) {
      uv_unref(reinterpret_cast<uv_handle_t*>(handle_));
#ifdef __linux__
      if (native_->poll_open) uv_unref(reinterpret_cast<uv_handle_t*>(&native_->poll));
#endif
    }
    return info.Env().Undefined();
  }

  // stats(out: Float64Array): the socket statistics of layouts.h: datagrams sent, received,
  // queued, dropped (queue full), send errors, receive errors.
  Napi::Value Stats(const Napi::CallbackInfo& info) {
    if (!info[0].IsTypedArray() || info[0].As<Napi::TypedArray>().TypedArrayType() != napi_float64_array ||
        info[0].As<Napi::Float64Array>().ElementLength() < kStatCount) {
      return ThrowCoded(info.Env(), "ERR_INVALID_ARG_TYPE", "stats needs a Float64Array of the socket statistics");
    }
    double* out = info[0].As<Napi::Float64Array>().Data();
    const uint64_t* stats = native_ != nullptr ? native_->stats : final_stats_;
    for (size_t i = 0; i < kStatCount; i++) out[i] = static_cast<double>(stats[i]);
    return info.Env().Undefined();
  }

#ifdef __linux__
  int WatchPoll(int events) {
    if (events == native_->poll_events) return 0;
    native_->poll_events = events;
    if (events == 0) return uv_poll_stop(&native_->poll);
    return uv_poll_start(&native_->poll, events, &UdpSocket::OnPoll);
  }

  static void OnPoll(uv_poll_t* poll, int status, int events) {
    UdpSocket* self = static_cast<Native*>(poll->data)->owner;
    if (self == nullptr) return;
    if (status < 0) {
      // libuv stops the watcher on a socket error (an ICMP error on a connected socket): read and
      // clear the error, count it, and watch again.
      int error = 0;
      socklen_t length = sizeof error;
      getsockopt(self->fd_, SOL_SOCKET, SO_ERROR, &error, &length);
      ++self->native_->stats[kReceiveErrors];
      const int wanted = self->native_->poll_events;
      self->native_->poll_events = 0;
      self->WatchPoll(wanted);
      return;
    }
    if (events & UV_WRITABLE) {
      if (self->probe_.unrestored()) self->probe_.Restore(self->fd_);
      // Once everything queued has gone, stop watching for the kernel to take writes.
      if (linux_udp::DrainQueue(self->fd_, self->native_->queue, &self->native_->queued_bytes, self->native_->stats)) {
        self->WatchPoll(self->native_->poll_events & ~UV_WRITABLE);
      }
    }
    if ((events & UV_READABLE) && self->native_ != nullptr) self->ReadAll();
  }

  // Reads what is waiting, kReadRounds recvmmsg calls at most (then the loop's other handles get
  // their turn); one JS call per read.
  void ReadAll() {
    if (!HoldArea()) return;
    for (size_t round = 0; round < kReadRounds; round++) {
      const linux_udp::ReadResult result = linux_udp::ReceiveMessages(fd_, native_->area->data, gro_, native_->stats, *this);
      if (result == linux_udp::ReadResult::kStopped) return;
      Deliver();
      if (native_ == nullptr || result == linux_udp::ReadResult::kDrained) return;
    }
  }

  bool OnDatagram(const char* data, size_t length, const sockaddr* sender) override {
    // The rows are full: hand these over first (the area is not read again until later).
    if (batch_.full()) {
      Deliver();
      if (native_ == nullptr) return false;  // a handler closed the socket
    }
    Collect(data, length, sender);
    return true;
  }
#endif

  static void OnAlloc(uv_handle_t* handle, size_t, uv_buf_t* buffer) {
    auto* native = static_cast<Native*>(handle->data);
    const bool held = native->area != nullptr || (native->owner != nullptr && native->owner->HoldArea());
    *buffer = held ? uv_buf_init(native->area->data, kAreaBytes) : uv_buf_init(nullptr, 0);
  }

  // Gives the socket its environment's receive area, held until the handles close; false if
  // there is none.
  bool HoldArea() {
    if (native_->area == nullptr) native_->area = HoldEnvironmentArea(Env());
    return native_->area != nullptr;
  }

  static void OnReceive(uv_udp_t* handle, ssize_t nread, const uv_buf_t* buffer, const sockaddr* address, unsigned flags) {
    UdpSocket* self = static_cast<Native*>(handle->data)->owner;
    if (self == nullptr) return;
    if (flags & UV_UDP_MMSG_FREE) {
      self->Deliver();
      return;
    }
    if (nread < 0) {
      ++self->native_->stats[kReceiveErrors];
      return;
    }
    if (address == nullptr) return;  // nothing more to read
    if (flags & UV_UDP_PARTIAL) {
      ++self->native_->stats[kReceiveErrors];
    } else {
      self->Collect(buffer->base, static_cast<size_t>(nread), address);
    }
    // Without recvmmsg each datagram comes alone: deliver it now.
    if (!(flags & UV_UDP_MMSG_CHUNK) || self->batch_.size() >= kChunks) self->Deliver();
  }

  void Collect(const char* data, size_t length, const sockaddr* address) {
    batch_.Add(data, length, address);
    ++native_->stats[kDatagramsReceived];
  }

  // Calls onBatch(buffer, count, senders) with what was collected.
  void Deliver() {
    if (batch_.empty()) return;
    const size_t lost = batch_.Deliver(Env(), native_->area, rows_ref_, on_batch_, async_context_);
    // The handler may have closed the socket; what was lost never reached it.
    if (lost > 0 && native_ != nullptr) native_->stats[kReceiveErrors] += lost;
  }

  Native* native_ = nullptr;
  uv_udp_t* handle_ = nullptr;
  napi_async_context async_context_ = nullptr;
  bool connected_ = false;
  bool receiving_ = false;
  bool ipv6_ = false;
#ifdef __linux__
  bool gso_ = true;
  bool gro_ = false;
  // The socket's descriptor; read and written here only on the poll path (poll_open), and for probes.
  int fd_ = -1;
  linux_udp::ProbeOption probe_;
#endif
  size_t queue_limit_ = 0;
  Napi::ObjectReference rows_ref_;
  Napi::FunctionReference on_batch_;
  ReceivedBatch batch_;
  uint64_t final_stats_[kStatCount] = {0};  // the counters as they were at close
};

}  // namespace

void InitUdpSocket(Napi::Env env, Napi::Object exports) {
  exports.Set("UdpSocket", UdpSocket::Define(env));
}

}  // namespace hybridwire::binding
