// The senders of one received batch: each distinct source address gets an index (rows carry the
// index, and JS gets each address as text once per batch, not once per datagram).
//
// A batch holds up to 1024 datagrams, possibly from as many senders (a server's socket), so a
// lookup must not scan the senders before it: past a few senders they are found through a hash
// index (open addressing, seeded per table so that chosen source addresses cannot make them
// collide). The common cases stay cheap: a run from the sender just seen is one comparison, and a
// batch from a few senders never builds the index.
#pragma once
#ifdef _WIN32
#include <winsock2.h>
#include <ws2tcpip.h>
#else
#include <netinet/in.h>
#include <sys/socket.h>
#endif

#include <chrono>
#include <cstdint>
#include <cstring>
#include <vector>

namespace hybridwire::binding {

class SenderTable {
 public:
  SenderTable()
      : seed_(Mix(static_cast<uint64_t>(reinterpret_cast<uintptr_t>(this)) ^
                  static_cast<uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count()))) {}

  // The index of `address` in this batch, added if new.
  uint32_t IndexOf(const sockaddr* address) {
    if (!senders_.empty() && Same(senders_[last_], address)) return last_;
    uint32_t index;
    if (slots_.empty() || !indexed_) {
      index = Scan(address);
    } else {
      index = Find(address);
    }
    if (index == senders_.size()) Add(address);
    last_ = index;
    return index;
  }
  size_t size() const { return senders_.size(); }
  const sockaddr* at(size_t index) const { return reinterpret_cast<const sockaddr*>(&senders_[index]); }
  void Clear() {
    senders_.clear();
    last_ = 0;
    if (indexed_) std::memset(slots_.data(), 0, slots_.size() * sizeof slots_[0]);
    indexed_ = false;
  }
  // Address comparisons made so far: what lookups cost (test/unit/udp-senders.test.ts bounds it).
  uint64_t comparisons() const { return comparisons_; }

 private:
  // Up to this many senders a batch is scanned; from then on it is indexed.
  static constexpr size_t kScanLimit = 8;
  static constexpr size_t kFirstSlots = 64;

  static uint64_t Mix(uint64_t x) {  // MurmurHash3's 64-bit finalizer
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdULL;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ULL;
    x ^= x >> 33;
    return x;
  }

  uint64_t Hash(const sockaddr* address) const {
    if (address->sa_family == AF_INET) {
      const auto* v4 = reinterpret_cast<const sockaddr_in*>(address);
      uint32_t host;
      std::memcpy(&host, &v4->sin_addr, sizeof host);
      return Mix(seed_ ^ ((uint64_t{host} << 16) | v4->sin_port));
    }
    const auto* v6 = reinterpret_cast<const sockaddr_in6*>(address);
    uint64_t halves[2];
    std::memcpy(halves, &v6->sin6_addr, sizeof halves);
    uint64_t hash = Mix(seed_ ^ halves[0]);
    hash = Mix(hash ^ halves[1]);
    return Mix(hash ^ ((uint64_t{v6->sin6_scope_id} << 16) | v6->sin6_port));
  }

  bool Same(const sockaddr_storage& a, const sockaddr* b) {
    ++comparisons_;
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

  // The index of `address` among the senders, or size() if it is not one of them.
  uint32_t Scan(const sockaddr* address) {
    uint32_t index = 0;
    while (index < senders_.size() && !Same(senders_[index], address)) ++index;
    return index;
  }

  uint32_t Find(const sockaddr* address) {
    const size_t mask = slots_.size() - 1;
    for (size_t slot = Hash(address) & mask;; slot = (slot + 1) & mask) {
      const uint32_t entry = slots_[slot];
      if (entry == 0) return static_cast<uint32_t>(senders_.size());
      if (Same(senders_[entry - 1], address)) return entry - 1;
    }
  }

  void Add(const sockaddr* address) {
    sockaddr_storage copy;
    std::memset(&copy, 0, sizeof copy);
    std::memcpy(&copy, address, address->sa_family == AF_INET6 ? sizeof(sockaddr_in6) : sizeof(sockaddr_in));
    senders_.push_back(copy);
    if (senders_.size() < kScanLimit) return;
    // The index holds at most half its slots, so that probe runs stay short.
    if (slots_.size() < 2 * senders_.size()) {
      slots_.assign(slots_.empty() ? kFirstSlots : 2 * slots_.size(), 0);
      indexed_ = false;
    }
    if (!indexed_) {
      for (size_t i = 0; i + 1 < senders_.size(); ++i) Place(static_cast<uint32_t>(i));
      indexed_ = true;
    }
    Place(static_cast<uint32_t>(senders_.size() - 1));
  }

  void Place(uint32_t index) {
    const size_t mask = slots_.size() - 1;
    size_t slot = Hash(at(index)) & mask;
    while (slots_[slot] != 0) slot = (slot + 1) & mask;
    slots_[slot] = index + 1;
  }

  const uint64_t seed_;
  std::vector<sockaddr_storage> senders_;
  // The hash index: an entry is a sender's index + 1, 0 an empty slot. Allocated the first time a
  // batch has kScanLimit senders, and kept (emptied) for the next batches.
  std::vector<uint32_t> slots_;
  bool indexed_ = false;  // slots_ holds this batch's senders
  uint32_t last_ = 0;     // the sender of the previous lookup
  uint64_t comparisons_ = 0;
};

}  // namespace hybridwire::binding
