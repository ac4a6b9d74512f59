#ifdef __linux__
#include "binding/udp-linux.h"

#include <netinet/udp.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "binding/layouts.h"
#include "binding/udp-address.h"
#include "binding/udp-receive.h"

#ifndef UDP_SEGMENT
#define UDP_SEGMENT 103
#endif
#ifndef SOL_UDP
#define SOL_UDP 17
#endif
#ifndef UDP_GRO
#define UDP_GRO 104
#endif

namespace hybridwire::binding::linux_udp {
namespace {

using namespace layout::socket_stat;

constexpr size_t kMaxSendBatch = 64;    // messages per sendmmsg call
constexpr size_t kMaxGsoSegments = 64;  // the kernel's UDP_MAX_SEGMENTS
constexpr size_t kMaxGsoBytes = 65000;  // one GSO message must fit an IP datagram

socklen_t NameLength(const sockaddr* target) {
  return target != nullptr ? static_cast<socklen_t>(AddressLength(target)) : 0;
}

}  // namespace

Pending* MakePending(const uint8_t* data, size_t length, const sockaddr* target) {
  auto* pending = static_cast<Pending*>(std::malloc(sizeof(Pending) + length));
  if (pending == nullptr) return nullptr;
  pending->has_target = target != nullptr;
  if (target != nullptr) std::memcpy(&pending->target, target, AddressLength(target));
  pending->length = length;
  std::memcpy(pending->data, data, length);
  return pending;
}

// One sendmmsg carries up to kMaxSendBatch messages, and with UDP GSO (UDP_SEGMENT, Linux 4.18)
// each message is a run of datagrams: consecutive ones of one length, the last possibly shorter,
// that the kernel cuts apart after a single pass through the stack (a flush of full datagrams
// is mostly such runs). Where GSO is refused (no checksum offload, a segment above the device
// MTU) it is switched off for this socket and every datagram goes as a message of its own.
size_t SendMessages(int fd, const uint8_t* data, const uint32_t* lengths, size_t count, const sockaddr* target,
                    bool* gso, uint64_t* stats) {
  mmsghdr messages[kMaxSendBatch];
  iovec vectors[kMaxSendBatch];
  size_t run_lengths[kMaxSendBatch];
  alignas(cmsghdr) char controls[kMaxSendBatch][CMSG_SPACE(sizeof(uint16_t))];
  const socklen_t name_length = NameLength(target);
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
      if (*gso && size > 0 && next >= plain_until) {
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
        if (error != EINVAL && error != EMSGSIZE) *gso = false;
        plain_until = sent + run_lengths[0];
        continue;
      }
      // ENOBUFS: a full device queue dropped it, as it drops datagrams; retrying from the
      // queue would spin, since the socket itself still polls writable. Other errors
      // (ECONNREFUSED after an ICMP answer, EMSGSIZE...) lose this message only.
      stats[kSendErrors] += run_lengths[0];
      sent += run_lengths[0];
      cursor += vectors[0].iov_len;
      continue;
    }
    for (int i = 0; i < result; i++) {
      sent += run_lengths[i];
      cursor += vectors[i].iov_len;
      stats[kDatagramsSent] += run_lengths[i];
    }
  }
  return sent;
}

bool DrainQueue(int fd, std::deque<Pending*>& queue, size_t* queued_bytes, uint64_t* stats) {
  while (!queue.empty()) {
    Pending* pending = queue.front();
    const sockaddr* target = pending->has_target ? reinterpret_cast<const sockaddr*>(&pending->target) : nullptr;
    ssize_t result;
    do {
      result = sendto(fd, pending->data, pending->length, 0, target, NameLength(target));
    } while (result < 0 && errno == EINTR);
    if (result < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return false;
    // ENOBUFS and other errors lose this datagram (see SendMessages).
    ++stats[result < 0 ? kSendErrors : kDatagramsSent];
    *queued_bytes -= pending->length;
    queue.pop_front();
    std::free(pending);
  }
  return true;
}

ReadResult ReceiveMessages(int fd, char* area, bool gro, uint64_t* stats, DatagramSink& sink) {
  mmsghdr messages[kChunks];
  iovec vectors[kChunks];
  sockaddr_storage names[kChunks];
  alignas(cmsghdr) char controls[kChunks][CMSG_SPACE(sizeof(int))];
  for (size_t i = 0; i < kChunks; i++) {
    vectors[i].iov_base = area + i * kDatagramMax;
    vectors[i].iov_len = kDatagramMax;
    std::memset(&messages[i], 0, sizeof messages[i]);
    messages[i].msg_hdr.msg_name = &names[i];
    messages[i].msg_hdr.msg_namelen = sizeof names[i];
    messages[i].msg_hdr.msg_iov = &vectors[i];
    messages[i].msg_hdr.msg_iovlen = 1;
    if (gro) {
      messages[i].msg_hdr.msg_control = controls[i];
      messages[i].msg_hdr.msg_controllen = sizeof controls[i];
    }
  }
  int count;
  do {
    count = recvmmsg(fd, messages, kChunks, MSG_DONTWAIT, nullptr);
  } while (count < 0 && errno == EINTR);
  if (count < 0) {
    if (errno == EAGAIN || errno == EWOULDBLOCK) return ReadResult::kDrained;
    // An ICMP error reported on this socket (ECONNREFUSED...): counted, and reading goes on.
    ++stats[kReceiveErrors];
    return ReadResult::kMore;
  }
  for (int i = 0; i < count; i++) {
    const msghdr& header = messages[i].msg_hdr;
    const size_t length = messages[i].msg_len;
    const char* data = area + static_cast<size_t>(i) * kDatagramMax;
    // A cut control message could hide the GRO segment size, and the buffer would pass as one.
    if ((header.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) != 0 || header.msg_namelen == 0) {
      ++stats[kReceiveErrors];
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
      if (!sink.OnDatagram(data + offset, std::min(segment, length - offset), sender)) return ReadResult::kStopped;
      if (length == 0) break;
    }
  }
  return static_cast<size_t>(count) < kChunks ? ReadResult::kDrained : ReadResult::kMore;
}

bool EnableGro(int fd) {
  int on = 1;
  return setsockopt(fd, SOL_UDP, UDP_GRO, &on, sizeof on) == 0;
}

void ProbeOption::Learn(int fd, bool ipv6) {
  level_ = ipv6 ? IPPROTO_IPV6 : IPPROTO_IP;
  option_ = ipv6 ? IPV6_MTU_DISCOVER : IP_MTU_DISCOVER;
  probe_value_ = ipv6 ? IPV6_PMTUDISC_PROBE : IP_PMTUDISC_PROBE;
  socklen_t size = sizeof default_value_;
  usable_ = getsockopt(fd, level_, option_, &default_value_, &size) == 0 &&
            setsockopt(fd, level_, option_, &probe_value_, sizeof probe_value_) == 0 &&
            setsockopt(fd, level_, option_, &default_value_, sizeof default_value_) == 0;
}

bool ProbeOption::Send(int fd, const uint8_t* data, size_t length, const sockaddr* target, uint64_t* stats) {
  // Without the probe setting the datagram could leave in IP fragments, and its answer would
  // vouch for a size the path does not carry: then it does not leave at all.
  if (setsockopt(fd, level_, option_, &probe_value_, sizeof probe_value_) != 0) {
    ++stats[kSendErrors];
    return false;
  }
  ssize_t result;
  do {
    result = sendto(fd, data, length, MSG_DONTWAIT, target, NameLength(target));
  } while (result < 0 && errno == EINTR);
  ++stats[result < 0 ? kSendErrors : kDatagramsSent];
  if (!Restore(fd)) {
    usable_ = false;
    ++stats[kSendErrors];
  }
  return result >= 0;
}

bool ProbeOption::Restore(int fd) {
  unrestored_ = setsockopt(fd, level_, option_, &default_value_, sizeof default_value_) != 0;
  return !unrestored_;
}

}  // namespace hybridwire::binding::linux_udp
#endif
