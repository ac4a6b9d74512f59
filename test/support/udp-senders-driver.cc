// Drives native/binding/udp-senders.h for test/unit/udp-senders.test.ts:
//   udp-senders-driver <4|6> <senders> <rounds>
// Looks up `senders` distinct addresses (ports and addresses both varying), `rounds` times each,
// checks that every lookup gives the address's own index, and prints the comparisons it took.
#include <arpa/inet.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "binding/udp-senders.h"

int main(int argc, char** argv) {
  if (argc != 4) return 2;
  const bool ipv6 = std::atoi(argv[1]) == 6;
  const int count = std::atoi(argv[2]);
  const int rounds = std::atoi(argv[3]);
  std::vector<sockaddr_storage> addresses(static_cast<size_t>(count));
  for (int i = 0; i < count; i++) {
    sockaddr_storage& address = addresses[static_cast<size_t>(i)];
    std::memset(&address, 0, sizeof address);
    if (ipv6) {
      auto* v6 = reinterpret_cast<sockaddr_in6*>(&address);
      v6->sin6_family = AF_INET6;
      v6->sin6_port = htons(static_cast<uint16_t>(4000 + i % 7));
      v6->sin6_addr.s6_addr[0] = 0xfd;
      v6->sin6_addr.s6_addr[14] = static_cast<uint8_t>(i >> 8);
      v6->sin6_addr.s6_addr[15] = static_cast<uint8_t>(i);
    } else {
      auto* v4 = reinterpret_cast<sockaddr_in*>(&address);
      v4->sin_family = AF_INET;
      v4->sin_port = htons(static_cast<uint16_t>(4000 + i % 7));
      v4->sin_addr.s_addr = htonl(0x0a000000u + static_cast<uint32_t>(i));
    }
  }
  hybridwire::binding::SenderTable table;
  for (int round = 0; round < rounds; round++) {
    for (int i = 0; i < count; i++) {
      const uint32_t index = table.IndexOf(reinterpret_cast<const sockaddr*>(&addresses[static_cast<size_t>(i)]));
      if (index != static_cast<uint32_t>(i)) {
        std::fprintf(stderr, "address %d got index %u\n", i, index);
        return 1;
      }
    }
  }
  if (table.size() != static_cast<size_t>(count)) return 1;
  // A cleared table starts again from index 0.
  table.Clear();
  if (count > 0 && table.IndexOf(reinterpret_cast<const sockaddr*>(&addresses.back())) != 0) return 1;
  std::printf("%llu\n", static_cast<unsigned long long>(table.comparisons()));
  return 0;
}
