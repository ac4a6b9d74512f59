// Sequence numbers, acknowledgements and the window of a sequenced stream (TCP delivery modes).
//
// Step-by-step mode is a window of one message; burst mode a window of N. The stream below is
// reliable and ordered, so there is no retransmission here: the window bounds how far a sender
// runs ahead of what the receiver has processed, and the receiver checks that sequence numbers
// arrive without gaps. Sequence numbers are u32 and wrap; comparisons are modulo 2^32.
#pragma once
#include <cstdint>

namespace hybridwire {

class SendWindow {
 public:
  explicit SendWindow(uint32_t window) : window_(window == 0 ? 1 : window) {}

  // Reserves up to `wanted` sequence numbers; returns how many were granted (maybe 0).
  // The first granted number is next_sequence() as it was before the call.
  uint32_t reserve(uint32_t wanted);

  // Applies a cumulative acknowledgement ("every sequence number below `next_expected` has been
  // processed"). Returns the number of newly acknowledged messages, or -1 if the ack is for
  // messages never sent (a protocol error).
  int64_t acknowledge(uint32_t next_expected);

  uint32_t next_sequence() const { return next_; }
  uint32_t in_flight() const { return next_ - acked_; }
  uint32_t available() const { return window_ - in_flight(); }
  uint32_t window() const { return window_; }

 private:
  uint32_t window_;
  uint32_t next_ = 0;   // next sequence number to assign
  uint32_t acked_ = 0;  // every number below this is acknowledged
};

// True for the frame types that take a sequence number on a stream: MESSAGE and TYPE_DEF.
bool is_sequenced_frame(uint32_t type);

class ReceiveWindow {
 public:
  explicit ReceiveWindow(uint32_t window) : window_(window == 0 ? 1 : window) {}

  // Checks the sequence numbers of the sequenced frames (MESSAGE, TYPE_DEF) among `count` decoded
  // frame rows (frame::kRowWidth values each). Returns the index of the first row out of order,
  // or `count` if all follow on. Accepted numbers advance the stream.
  uint32_t accept(const uint32_t* rows, uint32_t count);

  // The value to put in the next ACK, and whether one is owed since the last call of acked().
  uint32_t next_expected() const { return expected_; }
  bool ack_due() const { return expected_ != acked_; }
  // Received but unacknowledged messages; a sender that respects the window never exceeds it.
  uint32_t unacknowledged() const { return expected_ - acked_; }
  bool over_window() const { return unacknowledged() > window_; }
  void acked() { acked_ = expected_; }

 private:
  uint32_t window_;
  uint32_t expected_ = 0;
  uint32_t acked_ = 0;
};

}  // namespace hybridwire
