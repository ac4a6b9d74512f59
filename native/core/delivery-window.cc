#include "core/delivery-window.h"

#include <cstddef>

#include "core/frame-codec.h"

namespace hybridwire {
namespace {
constexpr uint32_t kFrameTypeMessage = 0x04;
constexpr uint32_t kFrameTypeTypeDef = 0x0A;
constexpr size_t kRowType = 2;
constexpr size_t kRowSequence = 5;
}  // namespace

uint32_t SendWindow::reserve(uint32_t wanted) {
  uint32_t granted = wanted < available() ? wanted : available();
  next_ += granted;
  return granted;
}

int64_t SendWindow::acknowledge(uint32_t next_expected) {
  uint32_t newly = next_expected - acked_;
  if (newly > in_flight()) return -1;
  acked_ = next_expected;
  return newly;
}

bool is_sequenced_frame(uint32_t type) {
  return type == kFrameTypeMessage || type == kFrameTypeTypeDef;
}

uint32_t ReceiveWindow::accept(const uint32_t* rows, uint32_t count) {
  for (uint32_t i = 0; i < count; ++i) {
    const uint32_t* row = rows + static_cast<size_t>(i) * frame::kRowWidth;
    if (!is_sequenced_frame(row[kRowType])) continue;
    if (row[kRowSequence] != expected_) return i;
    ++expected_;
  }
  return count;
}

}  // namespace hybridwire
