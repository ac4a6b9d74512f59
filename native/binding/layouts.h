// Every array layout that crosses N-API between the UDP socket, the reliable endpoint and their
// TypeScript wrappers, named once here; ts/native/layouts.ts names them once on the other side.
//
// Each list below is an X-macro: X(constant, JS name) in order, so that one list gives the C++
// enumeration (the index of each value), its count, and the object `layouts` the addon exports
// (native/binding/layouts.cc), which test/unit/layouts.test.ts compares with the TypeScript module.
// The statistics list names the reliable::Stats field that fills each value as well.
#pragma once
#include <cstddef>
#include <cstdint>

namespace hybridwire::binding::layout {

// A row per datagram of a received UdpSocket batch, written by the socket and read by the reliable
// endpoint's receiveRows.
#define HYBRIDWIRE_SOCKET_ROW(X) \
  X(kOffset, OFFSET)             \
  X(kLength, LENGTH)             \
  X(kPort, PORT)                 \
  X(kSender, SENDER)

// A row per delivery of the reliable endpoint (a message, or a frame it does not own).
#define HYBRIDWIRE_DELIVERY_ROW(X) \
  X(kKind, KIND)                   \
  X(kOffset, OFFSET)               \
  X(kLength, LENGTH)               \
  X(kChannel, CHANNEL)             \
  X(kModeOrType, MODE_OR_TYPE)     \
  X(kFlags, FLAGS)                 \
  X(kSequence, SEQUENCE)

// Where a delivery's bytes are (the KIND value of a delivery row).
#define HYBRIDWIRE_DELIVERY_KIND(X) \
  X(kInDatagram, IN_DATAGRAM)       \
  X(kInOutput, IN_OUTPUT)           \
  X(kFrame, FRAME)                  \
  X(kFrameInOutput, FRAME_IN_OUTPUT) \
  X(kOwnBuffer, OWN_BUFFER)

// The endpoint's state array, written by the endpoint after each call that can change it.
#define HYBRIDWIRE_ENDPOINT_STATE(X)  \
  X(kPendingCount, PENDING_COUNT)     \
  X(kPendingBytes, PENDING_BYTES)     \
  X(kStoppedAt, STOPPED_AT)           \
  X(kBytesFed, BYTES_FED)             \
  X(kDatagramLimit, DATAGRAM_LIMIT)

// The endpoint's constructor options (a Float64Array).
#define HYBRIDWIRE_ENDPOINT_OPTION(X)             \
  X(kMtu, MTU)                                    \
  X(kWindow, WINDOW)                              \
  X(kSendBufferBytes, SEND_BUFFER_BYTES)          \
  X(kReassemblyBytes, REASSEMBLY_BYTES)           \
  X(kReassemblyTimeoutUs, REASSEMBLY_TIMEOUT_US)  \
  X(kMaxAckDelayUs, MAX_ACK_DELAY_US)             \
  X(kMinRtoUs, MIN_RTO_US)                        \
  X(kMaxRtoUs, MAX_RTO_US)                        \
  X(kSpan, SPAN)                                  \
  X(kMaxMtu, MAX_MTU)                             \
  X(kWireOverhead, WIRE_OVERHEAD)

// The endpoint's statistics (a Float64Array): X(constant, JS name, reliable::Stats field).
#define HYBRIDWIRE_ENDPOINT_STAT(X)                                       \
  X(kSrttUs, SRTT_US, srtt_us)                                            \
  X(kRttvarUs, RTTVAR_US, rttvar_us)                                      \
  X(kMinRttUs, MIN_RTT_US, min_rtt_us)                                    \
  X(kRtoUs, RTO_US, rto_us)                                               \
  X(kCwnd, CWND, cwnd)                                                    \
  X(kBytesInFlight, BYTES_IN_FLIGHT, bytes_in_flight)                     \
  X(kMessagesInFlight, MESSAGES_IN_FLIGHT, messages_in_flight)            \
  X(kSendBufferBytes, SEND_BUFFER_BYTES, send_buffer_bytes)               \
  X(kReassemblyBytes, REASSEMBLY_BYTES, reassembly_bytes)                 \
  X(kDatagramsSent, DATAGRAMS_SENT, datagrams_sent)                       \
  X(kBytesSent, BYTES_SENT, bytes_sent)                                   \
  X(kDatagramsReceived, DATAGRAMS_RECEIVED, datagrams_received)           \
  X(kBytesReceived, BYTES_RECEIVED, bytes_received)                       \
  X(kMessagesSent, MESSAGES_SENT, messages_sent)                          \
  X(kMessagesDelivered, MESSAGES_DELIVERED, messages_delivered)           \
  X(kFramesDelivered, FRAMES_DELIVERED, frames_delivered)                 \
  X(kRetransmissions, RETRANSMISSIONS, retransmissions)                   \
  X(kLost, LOST, lost)                                                    \
  X(kTimeouts, TIMEOUTS, timeouts)                                        \
  X(kDropsBadChecksum, DROPS_BAD_CHECKSUM, drops_bad_checksum)            \
  X(kDropsMalformed, DROPS_MALFORMED, drops_malformed)                    \
  X(kDropsDuplicate, DROPS_DUPLICATE, drops_duplicate)                    \
  X(kDropsStale, DROPS_STALE, drops_stale)                                \
  X(kDropsWindowOverflow, DROPS_WINDOW_OVERFLOW, drops_window_overflow)   \
  X(kDropsReassemblyOverflow, DROPS_REASSEMBLY_OVERFLOW, drops_reassembly_overflow) \
  X(kDropsExpired, DROPS_EXPIRED, drops_expired)                          \
  X(kDropsSendBuffer, DROPS_SEND_BUFFER, drops_send_buffer)               \
  X(kSpuriousLosses, SPURIOUS_LOSSES, spurious_losses)                    \
  X(kPathMtu, PATH_MTU, path_mtu)                                         \
  X(kMtuProbesSent, MTU_PROBES_SENT, mtu_probes_sent)                     \
  X(kMtuProbesLost, MTU_PROBES_LOST, mtu_probes_lost)

// The UDP socket's statistics (a Float64Array).
#define HYBRIDWIRE_SOCKET_STAT(X)           \
  X(kDatagramsSent, DATAGRAMS_SENT)         \
  X(kDatagramsReceived, DATAGRAMS_RECEIVED) \
  X(kQueued, QUEUED)                        \
  X(kQueueDrops, QUEUE_DROPS)               \
  X(kSendErrors, SEND_ERRORS)               \
  X(kReceiveErrors, RECEIVE_ERRORS)

// What ReliableEndpoint.send and sendParts return.
#define HYBRIDWIRE_SEND_STATUS(X) \
  X(kOk, OK)                      \
  X(kWouldBlock, WOULD_BLOCK)     \
  X(kTooLarge, TOO_LARGE)         \
  X(kInvalid, INVALID)

#define HYBRIDWIRE_LAYOUT_ENUMERATOR(constant, ...) constant,
namespace socket_row { enum : uint32_t { HYBRIDWIRE_SOCKET_ROW(HYBRIDWIRE_LAYOUT_ENUMERATOR) kWidth }; }
namespace delivery_row { enum : uint32_t { HYBRIDWIRE_DELIVERY_ROW(HYBRIDWIRE_LAYOUT_ENUMERATOR) kWidth }; }
namespace delivery_kind { enum : uint32_t { HYBRIDWIRE_DELIVERY_KIND(HYBRIDWIRE_LAYOUT_ENUMERATOR) kCount }; }
namespace endpoint_state { enum : uint32_t { HYBRIDWIRE_ENDPOINT_STATE(HYBRIDWIRE_LAYOUT_ENUMERATOR) kCount }; }
namespace endpoint_option { enum : uint32_t { HYBRIDWIRE_ENDPOINT_OPTION(HYBRIDWIRE_LAYOUT_ENUMERATOR) kCount }; }
namespace endpoint_stat { enum : uint32_t { HYBRIDWIRE_ENDPOINT_STAT(HYBRIDWIRE_LAYOUT_ENUMERATOR) kCount }; }
namespace socket_stat { enum : uint32_t { HYBRIDWIRE_SOCKET_STAT(HYBRIDWIRE_LAYOUT_ENUMERATOR) kCount }; }
namespace send_status { enum : uint32_t { HYBRIDWIRE_SEND_STATUS(HYBRIDWIRE_LAYOUT_ENUMERATOR) kCount }; }
#undef HYBRIDWIRE_LAYOUT_ENUMERATOR

// Rows a UdpSocket hands over in one batch at most: its rows array must hold this many.
constexpr size_t kSocketRows = 1024;
// In a datagram length of a flush or a socket batch: send it without IP fragmentation (a path MTU
// probe). The length is the other bits.
constexpr uint32_t kDontFragment = 0x80000000u;

}  // namespace hybridwire::binding::layout
