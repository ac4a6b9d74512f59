// UdpSocket: a UDP socket on the addon's libuv loop, for the session's UDP path.
//
// On Linux the socket is read by this file (recvmmsg with UDP GRO, through a uv_poll_t on the
// fd, libuv never polling it itself) and its send queue is this file's own; elsewhere libuv reads it
// (uv_udp_recv_start with UV_UDP_RECVMMSG) and queues sends (uv_udp_send).
//
// Node's dgram socket costs a JS callback, a Buffer and an address object per datagram received,
// and a JS send() (argument checks, a send request, often a nextTick) per datagram sent. The
// reliable-UDP endpoint already works in batches, so this socket does too:
// - receiving, it asks libuv for recvmmsg (UV_UDP_RECVMMSG: up to kChunks datagrams per system
//   call) and calls JS once per batch with one row per datagram (offset, length, port, sender
//   index) in a caller-owned Uint32Array, the offsets into a Buffer that is *lent*: it is the
//   receive area itself (an external Buffer over it, the same object every time; one area per JS
//   environment, shared by its sockets, see EnvArea), valid only during the call and written by
//   the next read. JS copies what it keeps. (Copying each batch into a fresh Buffer cost the
//   receiver of 16 KiB messages a sixth of its time.) The area is freed when the environment, the
//   sockets' handles and that Buffer have all let go, so a Buffer kept against the rules reads
//   stale bytes, never freed memory. Where external Buffers are not allowed, each batch is copied
//   into a new Buffer instead;
// - sending, it takes a whole flush (a slab, a start offset and a Uint32Array of lengths) and
//   writes it with one sendmmsg on Linux (runs of equal-length datagrams as one UDP GSO message
//   each), or uv_udp_try_send per datagram elsewhere. What the
//   kernel does not take at once (EAGAIN, ENOBUFS) is copied and queued through uv_udp_send, up
//   to `queueLimit` bytes; past that it is dropped and counted, as a full socket drops datagrams.
//
// This is the binding layer's only I/O; native/core stays sans-IO. Every JS-visible value is
// validated here; errors reach JS as Error objects with a `code` (libuv's name, e.g. EADDRINUSE).
#include <uv.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <string>
#include <vector>

#ifdef __linux__
#include <netinet/in.h>
#include <netinet/udp.h>
#include <sys/socket.h>

#include <cerrno>
#ifndef UDP_SEGMENT
#define UDP_SEGMENT 103
#endif
#ifndef SOL_UDP
#define SOL_UDP 17
#endif
#ifndef UDP_GRO
#define UDP_GRO 104
#endif
#endif

#include "binding/bindings.h"
#include "binding/layouts.h"

namespace hybridwire::binding {
namespace {

constexpr size_t kDatagramMax = 64 * 1024;  // libuv's stride between recvmmsg chunks
constexpr size_t kMaxPayload = 65527;       // the largest UDP payload (IPv6; 65507 over IPv4)
constexpr size_t kChunks = 16;              // datagrams per recvmmsg call
constexpr size_t kMaxRows = layout::kSocketRows;  // datagrams per JS call (GRO can pack 64 in one read)
constexpr size_t kReadRounds = 4;           // recvmmsg calls per readable event, then others' turn
constexpr size_t kMaxSendBatch = 64;        // messages per sendmmsg call
constexpr size_t kMaxGsoSegments = 64;      // the kernel's UDP_MAX_SEGMENTS
constexpr size_t kMaxGsoBytes = 65000;      // one GSO message must fit an IP datagram
using namespace layout::socket_stat;
namespace socket_row = layout::socket_row;
constexpr size_t kStatCount = layout::socket_stat::kCount;

// The receive area, shared by the socket's handles and the external Buffer that lends it to JS:
// freed by whichever lets go last (both on the JS thread).
struct ReceiveArea {
  char* data = nullptr;
  int holders = 1;

  static ReceiveArea* Create() {
    auto* area = new ReceiveArea;
    // Only the pages datagrams land in are touched, so this costs far less memory than its size.
    area->data = static_cast<char*>(std::malloc(kChunks * kDatagramMax));
    if (area->data == nullptr) {
      delete area;
      return nullptr;
    }
    return area;
  }

  void Release() {
    if (--holders > 0) return;
    std::free(data);
    delete this;
  }
};

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

struct Received {
  const char* data;
  uint32_t length;
  uint16_t port;
  uint32_t sender;
};

class UdpSocket;

// A datagram waiting for the kernel to take writes again (Linux path), with its destination.
struct Pending {
  sockaddr_storage target;
  bool has_target;
  size_t length;
  char data[1];  // allocated with the datagram's length
};

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
  // this file reads it (recvmmsg with UDP GRO) and drains `queue` when the kernel takes writes
  // again, so only one watcher ever exists per fd.
  uv_poll_t poll;
  bool poll_open = false;
  int poll_events = 0;
  std::deque<Pending*> queue;
#endif
};

struct QueuedSend {
  uv_udp_send_t request;
  size_t length;
  char data[1];  // allocated with the datagram's length
};

// Decodes a sockaddr into its port and a printable address; false for other families.
bool Describe(const sockaddr* address, std::string* text, uint16_t* port) {
  char buffer[INET6_ADDRSTRLEN + UV_IF_NAMESIZE + 2] = {0};
  if (address->sa_family == AF_INET) {
    const auto* v4 = reinterpret_cast<const sockaddr_in*>(address);
    if (uv_ip4_name(v4, buffer, sizeof buffer) != 0) return false;
    *port = ntohs(v4->sin_port);
  } else if (address->sa_family == AF_INET6) {
    const auto* v6 = reinterpret_cast<const sockaddr_in6*>(address);
    if (uv_ip6_name(v6, buffer, sizeof buffer) != 0) return false;
    *port = ntohs(v6->sin6_port);
    if (v6->sin6_scope_id != 0) {
      // A link-local peer is only reachable through its interface: keep it, as Node's dgram does
      // ("fe80::1%eth0"), so that the address parses back into the same destination.
      char scope[UV_IF_NAMESIZE] = {0};
      size_t scope_length = sizeof scope;
      if (uv_if_indextoiid(v6->sin6_scope_id, scope, &scope_length) == 0) {
        *text = std::string(buffer) + "%" + scope;
        return true;
      }
    }
  } else {
    return false;
  }
  *text = buffer;
  return true;
}

bool SameAddress(const sockaddr_storage& a, const sockaddr* b) {
  if (a.ss_family != b->sa_family) return false;
  if (b->sa_family == AF_INET) {
    const auto* x = reinterpret_cast<const sockaddr_in*>(&a);
    const auto* y = reinterpret_cast<const sockaddr_in*>(b);
    return x->sin_port == y->sin_port && x->sin_addr.s_addr == y->sin_addr.s_addr;
  }
  const auto* x = reinterpret_cast<const sockaddr_in6*>(&a);
  const auto* y = reinterpret_cast<const sockaddr_in6*>(b);
  return x->sin6_port == y->sin6_port && x->sin6_scope_id == y->sin6_scope_id &&
         std::memcmp(&x->sin6_addr, &y->sin6_addr, sizeof x->sin6_addr) == 0;
}

size_t AddressLength(const sockaddr* address) {
  return address->sa_family == AF_INET6 ? sizeof(sockaddr_in6) : sizeof(sockaddr_in);
}

// Parses "address" and port into a sockaddr; IPv6 when the text has a colon.
int ParseAddress(const std::string& text, int port, sockaddr_storage* out) {
  std::memset(out, 0, sizeof *out);
  if (text.find(':') != std::string::npos) {
    return uv_ip6_addr(text.c_str(), port, reinterpret_cast<sockaddr_in6*>(out));
  }
  return uv_ip4_addr(text.c_str(), port, reinterpret_cast<sockaddr_in*>(out));
}

Napi::Value ThrowUv(Napi::Env env, int status, const char* what) {
  std::string message = std::string(what) + ": " + uv_strerror(status);
  return ThrowCoded(env, uv_err_name(status), message.c_str());
}

class UdpSocket : public Napi::ObjectWrap<UdpSocket> {
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
    if (row_count < socket_row::kWidth * kMaxRows) {
      ThrowCoded(env, "ERR_INVALID_ARG_VALUE", "rows must hold 4096 or more values");
      return;
    }
    if (!info[3].IsFunction()) {
      ThrowCoded(env, "ERR_INVALID_ARG_TYPE", "onBatch must be a function");
      return;
    }
    double limit = info[2].IsNumber() ? info[2].As<Napi::Number>().DoubleValue() : 0;
    queue_limit_ = limit > 0 && limit < 1e15 ? static_cast<size_t>(limit) : 0;
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
      // Path MTU probes (docs/PROTOCOL.md 7.7) leave with the don't-fragment bit and without the
      // kernel's path MTU cache (IP_PMTUDISC_PROBE), set for that one send; every other datagram
      // keeps the socket's own setting. Whether that works is learned here, once.
      socklen_t size = sizeof pmtu_default_;
      probe_level_ = ipv6_ ? IPPROTO_IPV6 : IPPROTO_IP;
      probe_option_ = ipv6_ ? IPV6_MTU_DISCOVER : IP_MTU_DISCOVER;
      probe_value_ = ipv6_ ? IPV6_PMTUDISC_PROBE : IP_PMTUDISC_PROBE;
      dont_fragment_ = getsockopt(fd, probe_level_, probe_option_, &pmtu_default_, &size) == 0 &&
                       setsockopt(fd, probe_level_, probe_option_, &probe_value_, sizeof probe_value_) == 0 &&
                       setsockopt(fd, probe_level_, probe_option_, &pmtu_default_, sizeof pmtu_default_) == 0;
    }
    if (std::getenv("HYBRIDWIRE_UDP_LIBUV") == nullptr && fd_ >= 0 && uv_poll_init_socket(loop, &native_->poll, fd_) == 0) {
      native_->poll.data = native_;
      native_->poll_open = true;
      if (std::getenv("HYBRIDWIRE_UDP_NO_GRO") == nullptr) {
        // UDP GRO: runs of same-sized datagrams from one sender arrive as one buffer plus their
        // size, so a GSO sender's run costs the kernel one pass on this side too.
        int on = 1;
        gro_ = setsockopt(fd_, SOL_UDP, UDP_GRO, &on, sizeof on) == 0;
      }
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
        for (Pending* pending : native_->queue) std::free(pending);
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

  // Whether datagrams flagged layout::kDontFragment (path MTU probes) can leave unfragmented.
  Napi::Value DontFragment(const Napi::CallbackInfo& info) { return Napi::Boolean::New(info.Env(), dont_fragment_); }

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
      int value = info[i].IsNumber() ? info[i].As<Napi::Number>().Int32Value() : 0;
      if (value <= 0) continue;
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
    double offset_number = info[1].IsNumber() ? info[1].As<Napi::Number>().DoubleValue() : -1;
    double count_number = info[3].IsNumber() ? info[3].As<Napi::Number>().DoubleValue() : -1;
    if (!(offset_number >= 0 && offset_number <= static_cast<double>(slab_length)) ||
        !(count_number >= 0 && count_number <= static_cast<double>(length_count))) {
      return ThrowCoded(env, "ERR_OUT_OF_RANGE", "offset or count out of range");
    }
    size_t offset = static_cast<size_t>(offset_number);
    size_t count = static_cast<size_t>(count_number);
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
    // Every datagram must lie inside the slab. A length may carry layout::kDontFragment (a path MTU
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
    if (!dont_fragment_ || uv_udp_get_send_queue_count(handle_) > 0 || !native_->queue.empty()) {
      ++native_->stats[kSendErrors];
      return false;
    }
    setsockopt(fd_, probe_level_, probe_option_, &probe_value_, sizeof probe_value_);
    ssize_t result;
    do {
      result = sendto(fd_, data, length, MSG_DONTWAIT, target,
                      target != nullptr ? static_cast<socklen_t>(AddressLength(target)) : 0);
    } while (result < 0 && errno == EINTR);
    setsockopt(fd_, probe_level_, probe_option_, &pmtu_default_, sizeof pmtu_default_);
    ++native_->stats[result < 0 ? kSendErrors : kDatagramsSent];
    return result >= 0;
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
    // Behind queued datagrams, new ones queue too, so that they leave in order.
    if (uv_udp_get_send_queue_count(handle_) > 0) return 0;
#ifdef __linux__
    if (native_->poll_open) {
      if (!native_->queue.empty()) return 0;
      return SendLinux(fd_, data, lengths, count, target);
    }
    uv_os_fd_t fd;
    if (uv_fileno(reinterpret_cast<uv_handle_t*>(handle_), &fd) == 0) return SendLinux(fd, data, lengths, count, target);
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

#ifdef __linux__
  // One sendmmsg carries up to kMaxSendBatch messages, and with UDP GSO (UDP_SEGMENT, Linux 4.18)
  // each message is a run of datagrams: consecutive ones of one length, the last possibly shorter,
  // that the kernel cuts apart after a single pass through the stack (a flush of full datagrams
  // is mostly such runs). Where GSO is refused (no checksum offload, a segment above the device
  // MTU) it is switched off for this socket and every datagram goes as a message of its own.
  size_t SendLinux(int fd, const uint8_t* data, const uint32_t* lengths, size_t count, const sockaddr* target) {
    mmsghdr messages[kMaxSendBatch];
    iovec vectors[kMaxSendBatch];
    size_t run_lengths[kMaxSendBatch];
    alignas(cmsghdr) char controls[kMaxSendBatch][CMSG_SPACE(sizeof(uint16_t))];
    const socklen_t name_length = target != nullptr ? static_cast<socklen_t>(AddressLength(target)) : 0;
    size_t sent = 0;
    const uint8_t* cursor = data;
    size_t plain_until = 0;  // datagrams before this index go one message each (a refused run)
    while (sent < count) {
      size_t used = 0;
      size_t next = sent;
      const uint8_t* position = cursor;
      while (next < count && used < kMaxSendBatch) {
        const size_t size = lengths[next];
        size_t run = 1;
        size_t bytes = size;
        if (gso_ && size > 0 && next >= plain_until) {
          while (next + run < count && run < kMaxGsoSegments) {
            const size_t following = lengths[next + run];
            if (following == 0 || following > size || bytes + following > kMaxGsoBytes) break;
            bytes += following;
            ++run;
            if (following < size) break;  // only the last segment may be shorter
          }
        }
        mmsghdr& message = messages[used];
        std::memset(&message, 0, sizeof message);
        vectors[used].iov_base = const_cast<uint8_t*>(position);
        vectors[used].iov_len = bytes;
        message.msg_hdr.msg_iov = &vectors[used];
        message.msg_hdr.msg_iovlen = 1;
        if (target != nullptr) {
          message.msg_hdr.msg_name = const_cast<sockaddr*>(target);
          message.msg_hdr.msg_namelen = name_length;
        }
        if (run > 1) {
          message.msg_hdr.msg_control = controls[used];
          message.msg_hdr.msg_controllen = sizeof controls[used];
          cmsghdr* control = CMSG_FIRSTHDR(&message.msg_hdr);
          control->cmsg_level = SOL_UDP;
          control->cmsg_type = UDP_SEGMENT;
          control->cmsg_len = CMSG_LEN(sizeof(uint16_t));
          const uint16_t segment = static_cast<uint16_t>(size);
          std::memcpy(CMSG_DATA(control), &segment, sizeof segment);
        }
        run_lengths[used] = run;
        position += bytes;
        next += run;
        ++used;
      }
      int result;
      do {
        result = sendmmsg(fd, messages, static_cast<unsigned int>(used), 0);
      } while (result < 0 && errno == EINTR);
      if (result <= 0) {
        const int error = result < 0 ? errno : EAGAIN;
        if (error == EAGAIN || error == EWOULDBLOCK) return sent;
        if (run_lengths[0] > 1 &&
            (error == EIO || error == EINVAL || error == EMSGSIZE || error == EOPNOTSUPP || error == ENOPROTOOPT)) {
          // EINVAL and EMSGSIZE may be about this destination only (a segment above its path
          // MTU, which a plain datagram may still cross in IP fragments): send this run as plain
          // datagrams. The others mean no GSO here at all.
          if (error != EINVAL && error != EMSGSIZE) gso_ = false;
          plain_until = sent + run_lengths[0];
          continue;
        }
        // ENOBUFS: a full device queue dropped it, as it drops datagrams; retrying from the
        // queue would spin, since the socket itself still polls writable. Other errors
        // (ECONNREFUSED after an ICMP answer, EMSGSIZE...) lose this message only.
        native_->stats[kSendErrors] += run_lengths[0];
        sent += run_lengths[0];
        cursor += vectors[0].iov_len;
        continue;
      }
      for (int i = 0; i < result; i++) {
        sent += run_lengths[i];
        cursor += vectors[i].iov_len;
        native_->stats[kDatagramsSent] += run_lengths[i];
      }
    }
    return sent;
  }
#endif

  // Copies a datagram the kernel would not take into a queued send, within queue_limit_ bytes.
  void Queue(const uint8_t* data, size_t length, const sockaddr* target) {
    if (native_->queued_bytes + length > queue_limit_) {
      ++native_->stats[kQueueDrops];
      return;
    }
#ifdef __linux__
    if (native_->poll_open) {
      auto* pending = static_cast<Pending*>(std::malloc(sizeof(Pending) + length));
      if (pending == nullptr) {
        ++native_->stats[kQueueDrops];
        return;
      }
      pending->has_target = target != nullptr;
      if (target != nullptr) std::memcpy(&pending->target, target, AddressLength(target));
      pending->length = length;
      std::memcpy(pending->data, data, length);
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
    if (events & UV_WRITABLE) self->DrainQueue();
    if ((events & UV_READABLE) && self->native_ != nullptr) self->ReadAll();
  }

  // Sends what waited for the kernel to take writes; stops watching for that once all went.
  void DrainQueue() {
    auto& queue = native_->queue;
    while (!queue.empty()) {
      Pending* pending = queue.front();
      const sockaddr* target = pending->has_target ? reinterpret_cast<const sockaddr*>(&pending->target) : nullptr;
      ssize_t result;
      do {
        result = sendto(fd_, pending->data, pending->length, 0, target,
                        target != nullptr ? static_cast<socklen_t>(AddressLength(target)) : 0);
      } while (result < 0 && errno == EINTR);
      if (result < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
      // ENOBUFS and other errors lose this datagram (see SendLinux).
      ++native_->stats[result < 0 ? kSendErrors : kDatagramsSent];
      native_->queued_bytes -= pending->length;
      queue.pop_front();
      std::free(pending);
    }
    WatchPoll(native_->poll_events & ~UV_WRITABLE);
  }

  // Reads what is waiting, kReadRounds recvmmsg calls at most (then the loop's other handles get
  // their turn), splitting GRO buffers into the datagrams they carry; one JS call per read.
  void ReadAll() {
    if (!HoldArea(Env(), native_)) return;
    char* base = native_->area->data;
    for (size_t round = 0; round < kReadRounds; round++) {
      mmsghdr messages[kChunks];
      iovec vectors[kChunks];
      sockaddr_storage names[kChunks];
      alignas(cmsghdr) char controls[kChunks][CMSG_SPACE(sizeof(int))];
      for (size_t i = 0; i < kChunks; i++) {
        vectors[i].iov_base = base + i * kDatagramMax;
        vectors[i].iov_len = kDatagramMax;
        std::memset(&messages[i], 0, sizeof messages[i]);
        messages[i].msg_hdr.msg_name = &names[i];
        messages[i].msg_hdr.msg_namelen = sizeof names[i];
        messages[i].msg_hdr.msg_iov = &vectors[i];
        messages[i].msg_hdr.msg_iovlen = 1;
        if (gro_) {
          messages[i].msg_hdr.msg_control = controls[i];
          messages[i].msg_hdr.msg_controllen = sizeof controls[i];
        }
      }
      int count;
      do {
        count = recvmmsg(fd_, messages, kChunks, MSG_DONTWAIT, nullptr);
      } while (count < 0 && errno == EINTR);
      if (count < 0) {
        if (errno == EAGAIN || errno == EWOULDBLOCK) return;
        // An ICMP error reported on this socket (ECONNREFUSED...): counted, and reading goes on.
        ++native_->stats[kReceiveErrors];
        continue;
      }
      for (int i = 0; i < count; i++) {
        const msghdr& header = messages[i].msg_hdr;
        const size_t length = messages[i].msg_len;
        const char* data = base + static_cast<size_t>(i) * kDatagramMax;
        // A cut control message could hide the GRO segment size, and the buffer would pass as one.
        if ((header.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) != 0 || header.msg_namelen == 0) {
          ++native_->stats[kReceiveErrors];
          continue;
        }
        size_t segment = 0;
        for (cmsghdr* control = CMSG_FIRSTHDR(&header); control != nullptr;
             control = CMSG_NXTHDR(const_cast<msghdr*>(&header), control)) {
          if (control->cmsg_level == SOL_UDP && control->cmsg_type == UDP_GRO && control->cmsg_len >= CMSG_LEN(sizeof(int))) {
            int size = 0;
            std::memcpy(&size, CMSG_DATA(control), sizeof size);
            if (size > 0) segment = static_cast<size_t>(size);
          }
        }
        const auto* sender = reinterpret_cast<const sockaddr*>(&names[i]);
        if (segment == 0 || segment >= length) segment = length > 0 ? length : 1;
        for (size_t offset = 0; offset < length || (length == 0 && offset == 0); offset += segment) {
          // The rows are full: hand these over first (the buffer is not read again until later).
          if (received_.size() >= kMaxRows) {
            Deliver();
            if (native_ == nullptr) return;  // a handler closed the socket
          }
          Collect(data + offset, std::min(segment, length - offset), sender);
          if (length == 0) break;
        }
      }
      Deliver();
      if (native_ == nullptr) return;
      if (static_cast<size_t>(count) < kChunks) return;
    }
  }
#endif

  static void OnAlloc(uv_handle_t* handle, size_t, uv_buf_t* buffer) {
    auto* native = static_cast<Native*>(handle->data);
    const bool held = native->area != nullptr || (native->owner != nullptr && HoldArea(native->owner->Env(), native));
    *buffer = held ? uv_buf_init(native->area->data, kChunks * kDatagramMax) : uv_buf_init(nullptr, 0);
  }

  // Gives the socket its environment's receive area (made on first use), holding it until the
  // handles close; false if there is none.
  static bool HoldArea(napi_env env, Native* native) {
    if (native->area != nullptr) return true;
    EnvArea* shared = EnvArea::Of(env);
    if (shared == nullptr) return false;
    if (shared->area == nullptr) shared->area = ReceiveArea::Create();
    if (shared->area == nullptr) return false;
    native->area = shared->area;
    ++native->area->holders;
    return true;
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
    if (!(flags & UV_UDP_MMSG_CHUNK) || self->received_.size() >= kChunks) self->Deliver();
  }

  void Collect(const char* data, size_t length, const sockaddr* address) {
    uint32_t sender = 0;
    while (sender < senders_.size() && !SameAddress(senders_[sender], address)) ++sender;
    if (sender == senders_.size()) {
      sockaddr_storage copy;
      std::memset(&copy, 0, sizeof copy);
      std::memcpy(&copy, address, AddressLength(address));
      senders_.push_back(copy);
    }
    uint16_t port = address->sa_family == AF_INET ? ntohs(reinterpret_cast<const sockaddr_in*>(address)->sin_port)
                                                  : ntohs(reinterpret_cast<const sockaddr_in6*>(address)->sin6_port);
    received_.push_back({data, static_cast<uint32_t>(length), port, sender});
    ++native_->stats[kDatagramsReceived];
  }

  // Calls onBatch(buffer, count, senders): the lent receive area (or a copy of the datagrams).
  void Deliver() {
    if (received_.empty()) return;
    napi_env env = Env();
    napi_handle_scope scope;
    if (napi_open_handle_scope(env, &scope) != napi_ok) {
      received_.clear();
      senders_.clear();
      return;
    }
    // The rows array is the caller's: take its memory afresh (it could have been detached).
    napi_typedarray_type rows_type;
    size_t rows_length = 0;
    void* rows_data = nullptr;
    if (napi_get_typedarray_info(env, rows_ref_.Value(), &rows_type, &rows_length, &rows_data, nullptr, nullptr) != napi_ok ||
        rows_type != napi_uint32_array || rows_data == nullptr || rows_length < received_.size() * socket_row::kWidth) {
      native_->stats[kReceiveErrors] += received_.size();
      received_.clear();
      senders_.clear();
      napi_close_handle_scope(env, scope);
      return;
    }
    uint32_t* rows = static_cast<uint32_t*>(rows_data);
    napi_value buffer = Lent(env);
    char* bytes = native_->area->data;
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
    size_t count = received_.size();
    if (ok) {
      const bool lent = bytes == native_->area->data;
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
        Describe(reinterpret_cast<const sockaddr*>(&senders_[i]), &text, &port);
        napi_value value;
        ok = napi_create_string_utf8(env, text.c_str(), text.size(), &value) == napi_ok &&
             napi_set_element(env, senders, static_cast<uint32_t>(i), value) == napi_ok;
      }
    }
    received_.clear();
    senders_.clear();
    if (ok) {
      napi_value argv[3];
      argv[0] = buffer;
      napi_create_uint32(env, static_cast<uint32_t>(count), &argv[1]);
      argv[2] = senders;
      napi_value receiver;
      napi_value result;
      napi_get_global(env, &receiver);
      napi_make_callback(env, async_context_, receiver, on_batch_.Value(), 3, argv, &result);
      bool pending = false;
      napi_is_exception_pending(env, &pending);
      if (pending) {
        // A handler threw: report it as Node does for any event handler (uncaughtException).
        napi_value error;
        if (napi_get_and_clear_last_exception(env, &error) == napi_ok) napi_fatal_exception(env, error);
      }
    }
    napi_close_handle_scope(env, scope);
  }

  // The external Buffer over the environment's receive area, made on first use; nullptr if the
  // runtime refuses external Buffers (batches are then copied).
  napi_value Lent(napi_env env) {
    EnvArea* shared = EnvArea::Of(env);
    if (shared == nullptr || shared->refused || shared->area == nullptr || native_->area != shared->area) return nullptr;
    if (shared->lent.IsEmpty()) {
      ReceiveArea* area = shared->area;
      napi_value buffer;
      if (napi_create_external_buffer(env, kChunks * kDatagramMax, area->data, &UdpSocket::OnLentFreed, area, &buffer) != napi_ok) {
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

  static void OnLentFreed(napi_env, void*, void* hint) { static_cast<ReceiveArea*>(hint)->Release(); }

  Native* native_ = nullptr;
  uv_udp_t* handle_ = nullptr;
  napi_async_context async_context_ = nullptr;
  bool connected_ = false;
  bool receiving_ = false;
  bool ipv6_ = false;
  // Path MTU probes: the socket option and value that send without fragmentation, and the
  // socket's own value, restored after each probe.
  bool dont_fragment_ = false;
  int probe_level_ = 0;
  int probe_option_ = 0;
  int probe_value_ = 0;
  int pmtu_default_ = 0;
#ifdef __linux__
  bool gso_ = true;
  bool gro_ = false;
  // The socket's descriptor; read and written here only on the poll path (poll_open), and for probes.
  int fd_ = -1;
#endif
  size_t queue_limit_ = 0;
  Napi::ObjectReference rows_ref_;
  Napi::FunctionReference on_batch_;
  std::vector<Received> received_;
  std::vector<sockaddr_storage> senders_;
  uint64_t final_stats_[kStatCount] = {0};  // the counters as they were at close
};

}  // namespace

void InitUdpSocket(Napi::Env env, Napi::Object exports) {
  exports.Set("UdpSocket", UdpSocket::Define(env));
}

}  // namespace hybridwire::binding
