// The senders of one received batch: each distinct source address gets an index (rows carry the
// index, and JS gets each address as text once per batch, not once per datagram).
#pragma once
#ifdef _WIN32
#include <winsock2.h>
#include <ws2tcpip.h>
#else
#include <netinet/in.h>
#include <sys/socket.h>
#endif

#include <cstdint>
#include <cstring>
#include <vector>

namespace hybridwire::binding {

class SenderTable {
 public:
  // The index of `address` in this batch, added if new.
  uint32_t IndexOf(const sockaddr* address) {
    uint32_t index = 0;
    while (index < senders_.size() && !Same(senders_[index], address)) ++index;
    if (index == senders_.size()) {
      sockaddr_storage copy;
      std::memset(&copy, 0, sizeof copy);
      std::memcpy(&copy, address, address->sa_family == AF_INET6 ? sizeof(sockaddr_in6) : sizeof(sockaddr_in));
      senders_.push_back(copy);
    }
    return index;
  }
  size_t size() const { return senders_.size(); }
  const sockaddr* at(size_t index) const { return reinterpret_cast<const sockaddr*>(&senders_[index]); }
  void Clear() { senders_.clear(); }

 private:
  static bool Same(const sockaddr_storage& a, const sockaddr* b) {
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

  std::vector<sockaddr_storage> senders_;
};

}  // namespace hybridwire::binding
