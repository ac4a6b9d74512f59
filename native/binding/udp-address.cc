#include "binding/udp-address.h"

#include <cstring>

namespace hybridwire::binding {

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

int ParseAddress(const std::string& text, int port, sockaddr_storage* out) {
  std::memset(out, 0, sizeof *out);
  if (text.find(':') != std::string::npos) {
    return uv_ip6_addr(text.c_str(), port, reinterpret_cast<sockaddr_in6*>(out));
  }
  return uv_ip4_addr(text.c_str(), port, reinterpret_cast<sockaddr_in*>(out));
}

}  // namespace hybridwire::binding
