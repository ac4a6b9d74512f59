// Socket addresses for the UDP socket binding: parsing JS's (address, port) into a sockaddr,
// describing a sockaddr back as JS prints it, and their sizes and ports.
#pragma once
#include <uv.h>

#include <cstddef>
#include <cstdint>
#include <string>

namespace hybridwire::binding {

// Decodes a sockaddr into its port and a printable address ("fe80::1%eth0" for a scoped IPv6
// address, as Node's dgram prints it); false for other families.
bool Describe(const sockaddr* address, std::string* text, uint16_t* port);

// The bytes of a sockaddr of this family (IPv4 or IPv6).
inline size_t AddressLength(const sockaddr* address) {
  return address->sa_family == AF_INET6 ? sizeof(sockaddr_in6) : sizeof(sockaddr_in);
}

inline uint16_t PortOf(const sockaddr* address) {
  return address->sa_family == AF_INET ? ntohs(reinterpret_cast<const sockaddr_in*>(address)->sin_port)
                                       : ntohs(reinterpret_cast<const sockaddr_in6*>(address)->sin6_port);
}

// Parses "address" and port into a sockaddr; IPv6 when the text has a colon. Returns 0 or a libuv
// error.
int ParseAddress(const std::string& text, int port, sockaddr_storage* out);

}  // namespace hybridwire::binding
