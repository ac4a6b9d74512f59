// The Linux paths of the UDP socket binding, below libuv: sendmmsg with UDP GSO, recvmmsg with
// UDP GRO, the send queue drained when the kernel takes writes again, and the socket option that
// lets path MTU probes leave unfragmented. The socket object (udp-socket-binding.cc) owns the
// descriptor and decides when each runs.
#pragma once
#ifdef __linux__
#include <netinet/in.h>
#include <sys/socket.h>

#include <cstddef>
#include <cstdint>
#include <deque>

namespace hybridwire::binding::linux_udp {

// A datagram waiting for the kernel to take writes again, with its destination.
struct Pending {
  sockaddr_storage target;
  bool has_target;
  size_t length;
  char data[1];  // allocated with the datagram's length
};

// A copy of a datagram and its destination (none on a connected socket) for the queue; nullptr if
// memory ran out. Freed with std::free.
Pending* MakePending(const uint8_t* data, size_t length, const sockaddr* target);

// Writes datagrams laid back to back from `data` with sendmmsg, runs of equal lengths as one UDP
// GSO message each while *gso holds (a refusal turns it off for good, or sends that run plainly).
// Counts what it sends and loses in `stats` (socket statistics, layouts.h). Returns how many
// datagrams it dealt with before the kernel refused more writes for now (EAGAIN).
size_t SendMessages(int fd, const uint8_t* data, const uint32_t* lengths, size_t count, const sockaddr* target,
                    bool* gso, uint64_t* stats);

// Sends queued datagrams, oldest first, until the kernel refuses more for now; true once the queue
// is empty. What leaves (or is lost) is freed and taken off *queued_bytes.
bool DrainQueue(int fd, std::deque<Pending*>& queue, size_t* queued_bytes, uint64_t* stats);

// Receives what one recvmmsg call returns.
class DatagramSink {
 public:
  // A datagram (a GRO buffer is split into the datagrams it carries); false to stop reading.
  virtual bool OnDatagram(const char* data, size_t length, const sockaddr* sender) = 0;

 protected:
  ~DatagramSink() = default;
};

enum class ReadResult { kDrained, kMore, kStopped };

// One recvmmsg call into `area` (kChunks slots of kDatagramMax bytes, udp-receive.h), every
// datagram handed to the sink. kDrained: nothing more is waiting; kMore: there may be (all slots
// filled, or an error was counted); kStopped: the sink said stop.
ReadResult ReceiveMessages(int fd, char* area, bool gro, uint64_t* stats, DatagramSink& sink);

// Asks the kernel to coalesce runs of same-sized datagrams from one sender (UDP GRO, Linux 5.0).
bool EnableGro(int fd);

// Path MTU probes (docs/PROTOCOL.md 7.7) leave with the don't-fragment bit and without the
// kernel's path MTU cache (IP_PMTUDISC_PROBE), set for that one send; every other datagram keeps
// the socket's own setting.
//
// Should the socket's own setting fail to come back after a probe, every datagram would go on
// leaving unfragmentable and past the kernel's path MTU cache: probing stops for the socket
// (usable() turns false, and the failure is counted as a send error), and the setting is put back
// before the next send, as many times as it takes.
class ProbeOption {
 public:
  // Learns, once, whether the option can be set and put back on this socket.
  void Learn(int fd, bool ipv6);
  bool usable() const { return usable_; }
  // Sends one datagram as a probe, at once or not at all; false if it did not leave.
  bool Send(int fd, const uint8_t* data, size_t length, const sockaddr* target, uint64_t* stats);
  // Whether the socket's own setting still has to be put back (a restore failed).
  bool unrestored() const { return unrestored_; }
  // Tries to put the socket's own setting back; true once it is.
  bool Restore(int fd);

 private:
  bool usable_ = false;
  bool unrestored_ = false;
  int level_ = 0;
  int option_ = 0;
  int probe_value_ = 0;
  int default_value_ = 0;
};

}  // namespace hybridwire::binding::linux_udp
#endif
