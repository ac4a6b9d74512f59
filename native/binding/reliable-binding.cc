// ReliableEndpoint: the reliable-UDP state machine of native/core/reliable for JS, one N-API
// crossing per datagram received, per flush and per timer, plus one per message sent.
//
// Deliveries are written as delivery rows (layouts.h) into a caller-owned Uint32Array: kind,
// offset, length, channel, mode (messages) or frame type (frames), flags, sequence. By kind:
// kInDatagram: message bytes at `offset` in the datagram given to receive(); kInOutput: message
// bytes at `offset` in the caller-owned output buffer (copied there: reassembled or held for
// order); kFrame: a frame of a type this layer does not own, payload at `offset` in the datagram;
// kFrameInOutput: such a frame, its payload copied to the output buffer; kOwnBuffer: message bytes
// (reassembled or held for order, at least kOwnBufferMin of them) copied into a Buffer of their
// own, stored at index `offset` of the caller-owned extras array: one copy where the output
// buffer costs two (into it, then out of it into the message's Buffer).
// When rows or output bytes run out, the rest are kept (copied) and taken with takePending().
//
// receiveRows() feeds a run of a socket batch in one crossing: the datagrams laid out by the
// UDP socket's rows (layouts.h), while they carry this endpoint's token and come from the first
// one's sender.
#include <cstring>
#include <deque>
#include <optional>
#include <vector>

#include "binding/bindings.h"
#include "binding/layouts.h"
#include "core/reliable/endpoint.h"

namespace hybridwire::binding {
namespace {

using reliable::Endpoint;
using reliable::Mode;

using namespace layout::delivery_kind;
namespace delivery_row = layout::delivery_row;
namespace endpoint_option = layout::endpoint_option;
namespace endpoint_state = layout::endpoint_state;
namespace socket_row = layout::socket_row;
constexpr size_t kRowWidth = delivery_row::kWidth;
constexpr size_t kOwnBufferMin = 4096;

// A whole number argument (bindings.h); false with a JS error thrown otherwise.
bool Whole(const Napi::Value& value, const char* what, uint64_t max, uint64_t* out) {
  return GetWholeNumber(value.Env(), value, what, max, out);
}

// Marks ReassemblyBudget objects, so that an endpoint never takes another object for one.
constexpr napi_type_tag kBudgetTag = {0x6879627269647769, 0x7265627564676574};

class ReassemblyBudget : public Napi::ObjectWrap<ReassemblyBudget> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "ReassemblyBudget",
                       {
                           InstanceMethod<&ReassemblyBudget::Used>("used"),
                           InstanceMethod<&ReassemblyBudget::Holders>("holders"),
                           InstanceMethod<&ReassemblyBudget::Refused>("refused"),
                       });
  }

  // new ReassemblyBudget(bytes)
  explicit ReassemblyBudget(const Napi::CallbackInfo& info)
      : Napi::ObjectWrap<ReassemblyBudget>(info), budget_(Limit(info)) {
    napi_type_tag_object(info.Env(), info.This(), &kBudgetTag);
  }

  reliable::MemoryBudget* budget() { return &budget_; }

 private:
  // The limit, or 0 with a JS error thrown (`new` then throws it).
  static uint64_t Limit(const Napi::CallbackInfo& info) {
    uint64_t bytes = 0;
    return Whole(info[0], "bytes", kMaxWholeNumber, &bytes) ? bytes : 0;
  }

  Napi::Value Used(const Napi::CallbackInfo& info) {
    return Napi::Number::New(info.Env(), static_cast<double>(budget_.used()));
  }
  // The endpoints holding memory in the budget.
  Napi::Value Holders(const Napi::CallbackInfo& info) {
    return Napi::Number::New(info.Env(), static_cast<double>(budget_.holders()));
  }
  // The charges it refused (over the total, or over a fair share: memory-budget.h).
  Napi::Value Refused(const Napi::CallbackInfo& info) {
    return Napi::Number::New(info.Env(), static_cast<double>(budget_.refused()));
  }

  reliable::MemoryBudget budget_;
};

class ReliableEndpoint : public Napi::ObjectWrap<ReliableEndpoint>, private reliable::DeliverySink {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "ReliableEndpoint",
                       {
                           InstanceMethod<&ReliableEndpoint::SetOutputs>("setOutputs"),
                           InstanceMethod<&ReliableEndpoint::Send>("send"),
                           InstanceMethod<&ReliableEndpoint::SendParts>("sendParts"),
                           InstanceMethod<&ReliableEndpoint::HasRoom>("hasRoom"),
                           InstanceMethod<&ReliableEndpoint::DropOldestUnreliable>("dropOldestUnreliable"),
                           InstanceMethod<&ReliableEndpoint::Receive>("receive"),
                           InstanceMethod<&ReliableEndpoint::ReceiveRows>("receiveRows"),
                           InstanceMethod<&ReliableEndpoint::TakePending>("takePending"),
                           InstanceMethod<&ReliableEndpoint::Flush>("flush"),
                           InstanceMethod<&ReliableEndpoint::NextDeadline>("nextDeadline"),
                           InstanceMethod<&ReliableEndpoint::OnTimeout>("onTimeout"),
                           InstanceMethod<&ReliableEndpoint::Stats>("stats"),
                           InstanceMethod<&ReliableEndpoint::Close>("close"),
                       });
  }

  // new ReliableEndpoint(token: Uint8Array(8), options: Float64Array, budget?: ReassemblyBudget)
  // options: as layouts.h's endpoint options, whole numbers (validated by the JS wrapper; clamped
  // here to what is safe).
  explicit ReliableEndpoint(const Napi::CallbackInfo& info)
      : Napi::ObjectWrap<ReliableEndpoint>(info), endpoint_(std::in_place, ParseOptions(info)) {
    // Holds the shared budget while the endpoint has charges against it (released when
    // endpoint_, declared after this reference, is destroyed first, or by close()).
    if (info.Length() > 2 && info[2].IsObject()) budget_ref_ = Napi::Persistent(info[2].As<Napi::Object>());
  }

 private:
  static reliable::Options ParseOptions(const Napi::CallbackInfo& info) {
    reliable::Options options;
    Napi::Env env = info.Env();
    const uint8_t* token = nullptr;
    size_t token_length = 0;
    if (!GetBytes(info[0], "token", &token, &token_length)) return options;
    if (token_length != reliable::kTokenSize) {
      ThrowCoded(env, "ERR_INVALID_ARG_VALUE", "token must be 8 bytes");
      return options;
    }
    std::memcpy(options.token, token, reliable::kTokenSize);
    if (!info[1].IsTypedArray() || info[1].As<Napi::TypedArray>().TypedArrayType() != napi_float64_array ||
        info[1].As<Napi::Float64Array>().ElementLength() < endpoint_option::kCount) {
      ThrowCoded(env, "ERR_INVALID_ARG_TYPE", "options must be a Float64Array of the endpoint options");
      return options;
    }
    const double* values = info[1].As<Napi::Float64Array>().Data();
    for (size_t i = 0; i < endpoint_option::kCount; ++i) {
      if (!IsWholeNumber(values[i], kMaxWholeNumber)) {
        ThrowCoded(env, "ERR_OUT_OF_RANGE", "options must be whole numbers from 0 to 2^53");
        return options;
      }
    }
    auto get = [&](size_t index) { return static_cast<uint64_t>(values[index]); };
    using namespace endpoint_option;
    options.mtu = static_cast<uint32_t>(std::min<uint64_t>(get(kMtu), reliable::kMaxMtu));
    options.window = static_cast<uint32_t>(std::min<uint64_t>(get(kWindow), UINT32_MAX));
    options.send_buffer_bytes = get(kSendBufferBytes);
    options.reassembly_bytes = get(kReassemblyBytes);
    options.reassembly_timeout_us = get(kReassemblyTimeoutUs);
    options.max_ack_delay_us = get(kMaxAckDelayUs);
    options.min_rto_us = get(kMinRtoUs);
    options.max_rto_us = get(kMaxRtoUs);
    options.span = reliable::clamp_span(static_cast<uint32_t>(std::min<uint64_t>(get(kSpan), UINT32_MAX)));
    options.max_mtu = static_cast<uint32_t>(std::min<uint64_t>(get(kMaxMtu), reliable::kMaxMtu));
    options.wire_overhead = static_cast<uint32_t>(std::min<uint64_t>(get(kWireOverhead), reliable::kMaxMtu));
    if (info.Length() > 2 && info[2].IsObject()) {
      Napi::Object object = info[2].As<Napi::Object>();
      bool tagged = false;
      if (napi_check_object_type_tag(env, object, &kBudgetTag, &tagged) != napi_ok || !tagged) {
        ThrowCoded(env, "ERR_INVALID_ARG_TYPE", "budget must be a ReassemblyBudget");
        return options;
      }
      options.shared_budget = ReassemblyBudget::Unwrap(object)->budget();
    }
    return options;
  }

  // setOutputs(output: Uint8Array, rows: Uint32Array, state: Uint32Array, extras?: unknown[]).
  // Kept (referenced) until replaced. state (layouts.h) receives the pending deliveries and the
  // bytes of the next pending one, after receiveRows() the index it stopped at and the bytes it
  // consumed, and the largest datagram the next flush may write (flush's `out` must have that
  // much room). Without extras, every copied delivery goes through the output buffer.
  Napi::Value SetOutputs(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (!Open(env)) return Napi::Value();
    uint8_t* output = nullptr;
    size_t output_length = 0;
    uint32_t* rows = nullptr;
    size_t row_values = 0;
    uint32_t* state = nullptr;
    size_t state_values = 0;
    if (!GetMutableBytes(info[0], "output", &output, &output_length)) return Napi::Value();
    if (!GetUint32Array(info[1], "rows", &rows, &row_values)) return Napi::Value();
    if (!GetUint32Array(info[2], "state", &state, &state_values)) return Napi::Value();
    if (row_values < kRowWidth || state_values < endpoint_state::kCount) {
      return ThrowCoded(env, "ERR_OUT_OF_RANGE", "rows must hold a row and state every state value");
    }
    if (info.Length() > 3 && info[3].IsArray()) {
      extras_ref_ = Napi::Persistent(info[3].As<Napi::Object>());
    } else {
      extras_ref_.Reset();
    }
    output_ref_ = Napi::Persistent(info[0].As<Napi::Object>());
    rows_ref_ = Napi::Persistent(info[1].As<Napi::Object>());
    state_ref_ = Napi::Persistent(info[2].As<Napi::Object>());
    output_ = output;
    output_capacity_ = output_length;
    rows_ = rows;
    row_capacity_ = row_values / kRowWidth;
    state_ = state;
    state_[endpoint_state::kDatagramLimit] = endpoint_->datagram_limit();
    return env.Undefined();
  }

  // send(payload, mode, channel, flags) -> 0 ok, 1 would block, 2 too large, 3 invalid
  Napi::Value Send(const Napi::CallbackInfo& info) {
    if (!Open(info.Env())) return Napi::Value();
    const uint8_t* data = nullptr;
    size_t length = 0;
    if (!FastArg(info[0], "payload must be a Uint8Array", &data, &length)) return Napi::Value();
    uint64_t mode = 0;
    uint64_t channel = 0;
    uint64_t flags = 0;
    if (!Whole(info[1], "mode", UINT32_MAX, &mode) || !Whole(info[2], "channel", UINT32_MAX, &channel) ||
        !Whole(info[3], "flags", UINT32_MAX, &flags)) {
      return Napi::Value();
    }
    reliable::SendStatus status = reliable::SendStatus::kInvalid;
    if (mode <= 2 && channel < reliable::kChannels && flags <= 0xFF) {
      status = endpoint_->send(data, length, static_cast<Mode>(mode), static_cast<uint8_t>(channel),
                              static_cast<uint8_t>(flags));
    }
    return Napi::Number::New(info.Env(), static_cast<double>(status));
  }

  // sendParts(prefix: Uint8Array, prefixLength, body: Uint8Array | string, mode, channel, flags)
  // -> status: send() of prefix[0, prefixLength) followed by the body (a string as UTF-8), copied
  // once into the endpoint's send buffer rather than joined in a fresh JS Buffer per message.
  Napi::Value SendParts(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (!Open(env)) return Napi::Value();
    const uint8_t* prefix = nullptr;
    size_t prefix_capacity = 0;
    if (!FastArg(info[0], "prefix must be a Uint8Array", &prefix, &prefix_capacity)) return Napi::Value();
    uint64_t prefix_length = 0;
    uint64_t mode = 0;
    uint64_t channel = 0;
    uint64_t flags = 0;
    if (!Whole(info[1], "prefixLength", prefix_capacity, &prefix_length) || !Whole(info[3], "mode", UINT32_MAX, &mode) ||
        !Whole(info[4], "channel", UINT32_MAX, &channel) || !Whole(info[5], "flags", UINT32_MAX, &flags)) {
      return Napi::Value();
    }
    if (mode > 2 || channel >= reliable::kChannels || flags > 0xFF) {
      return Napi::Number::New(env, static_cast<double>(reliable::SendStatus::kInvalid));
    }
    const uint8_t* body = nullptr;
    size_t body_length = 0;
    if (info[2].IsString()) {
      // A string is encoded into the scratch buffer first (napi writes a terminating NUL too).
      napi_get_value_string_utf8(env, info[2], nullptr, 0, &body_length);
      scratch_.resize(body_length + 1);
      napi_get_value_string_utf8(env, info[2], reinterpret_cast<char*>(scratch_.data()), body_length + 1, &body_length);
      body = scratch_.data();
    } else if (!FastArg(info[2], "body must be a Uint8Array or a string", &body, &body_length)) {
      return Napi::Value();
    }
    reliable::SendStatus status = endpoint_->send(prefix, prefix_length, body, body_length, static_cast<Mode>(mode),
                                                 static_cast<uint8_t>(channel), static_cast<uint8_t>(flags));
    // A one-off huge string does not pin its size here.
    if (scratch_.capacity() > kScratchKeep) std::vector<uint8_t>().swap(scratch_);
    return Napi::Number::New(env, static_cast<double>(status));
  }

  Napi::Value HasRoom(const Napi::CallbackInfo& info) {
    if (!Open(info.Env())) return Napi::Value();
    uint64_t size = 0;
    if (!Whole(info[0], "size", kMaxWholeNumber, &size)) return Napi::Value();
    return Napi::Boolean::New(info.Env(), endpoint_->has_room(size));
  }

  Napi::Value DropOldestUnreliable(const Napi::CallbackInfo& info) {
    if (!Open(info.Env())) return Napi::Value();
    uint64_t size = 0;
    if (!Whole(info[0], "size", kMaxWholeNumber, &size)) return Napi::Value();
    return Napi::Number::New(info.Env(), static_cast<double>(endpoint_->drop_oldest_unreliable(size)));
  }

  // Deliveries of the next call start afresh: rows, output and extras from their beginning, and
  // views allowed into [data, data + length).
  void BeginDelivery(napi_env env, const uint8_t* data, size_t length) {
    datagram_ = data;
    datagram_length_ = length;
    row_count_ = 0;
    output_used_ = 0;
    extra_count_ = 0;
    env_ = env;
  }

  // receive(datagramWithoutToken, nowUs) -> rows written
  Napi::Value Receive(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (!Open(env)) return Napi::Value();
    if (rows_ == nullptr) return ThrowCoded(env, "ERR_INVALID_STATE", "setOutputs() must be called first");
    const uint8_t* data = nullptr;
    size_t length = 0;
    uint64_t now = 0;
    if (!FastArg(info[0], "datagram must be a Uint8Array", &data, &length)) return Napi::Value();
    if (!Whole(info[1], "nowUs", kMaxWholeNumber, &now)) return Napi::Value();
    BeginDelivery(env, data, length);
    endpoint_->receive(data, length, now, *this);
    datagram_ = nullptr;
    PublishPending();
    return Napi::Number::New(env, static_cast<double>(row_count_));
  }

  // receiveRows(bytes, rows: Uint32Array, from, to, nowUs, maxDatagrams, maxBytes) -> rows written.
  // Feeds the datagrams of socket rows [from, to) (offset and length into bytes), token included,
  // while each carries this endpoint's token and comes from the sender (port and sender index) of
  // the first: the caller has matched the first to this endpoint, and stops at anything else.
  // Stops too after maxDatagrams (at least one) or maxBytes, or once half the delivery rows or
  // output are used, so that the caller can deliver and send acknowledgements in between. The
  // state's kStoppedAt gets the index it stopped at, kBytesFed the bytes (tokens included) it fed.
  // Deliveries' offsets are into `bytes`.
  Napi::Value ReceiveRows(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (!Open(env)) return Napi::Value();
    if (rows_ == nullptr) return ThrowCoded(env, "ERR_INVALID_STATE", "setOutputs() must be called first");
    const uint8_t* bytes = nullptr;
    size_t bytes_length = 0;
    const uint32_t* socket_rows = nullptr;
    size_t socket_values = 0;
    if (!FastArg(info[0], "bytes must be a Uint8Array", &bytes, &bytes_length)) return Napi::Value();
    if (!FastArg(info[1], "rows must be a Uint32Array", &socket_rows, &socket_values)) return Napi::Value();
    const size_t available = socket_values / socket_row::kWidth;
    uint64_t from = 0;
    uint64_t to = 0;
    uint64_t now = 0;
    uint64_t max_datagrams = 0;
    uint64_t max_bytes = 0;
    if (!Whole(info[2], "from", kMaxWholeNumber, &from) || !Whole(info[3], "to", kMaxWholeNumber, &to) ||
        !Whole(info[4], "nowUs", kMaxWholeNumber, &now) || !Whole(info[5], "maxDatagrams", kMaxWholeNumber, &max_datagrams) ||
        !Whole(info[6], "maxBytes", kMaxWholeNumber, &max_bytes)) {
      return Napi::Value();
    }
    if (to > available) to = available;
    if (from > to) from = to;
    BeginDelivery(env, bytes, bytes_length);
    size_t index = from;
    size_t fed = 0;
    uint64_t fed_bytes = 0;
    const uint32_t* first = socket_rows + from * socket_row::kWidth;
    for (; index < to; ++index) {
      const uint32_t* row = socket_rows + index * socket_row::kWidth;
      const size_t offset = row[socket_row::kOffset];
      const size_t length = row[socket_row::kLength];
      if (offset > bytes_length || length > bytes_length - offset || length < reliable::kTokenSize ||
          row[socket_row::kPort] != first[socket_row::kPort] || row[socket_row::kSender] != first[socket_row::kSender] ||
          std::memcmp(bytes + offset, endpoint_->token(), reliable::kTokenSize) != 0) {
        break;
      }
      if (fed > 0 && (fed >= max_datagrams || fed_bytes >= max_bytes ||
                      !pending_.empty() || row_count_ * 2 >= row_capacity_ ||
                      output_used_ * 2 >= output_capacity_)) {
        break;
      }
      endpoint_->receive(bytes + offset + reliable::kTokenSize, length - reliable::kTokenSize, now, *this);
      ++fed;
      fed_bytes += length;
    }
    datagram_ = nullptr;
    state_[endpoint_state::kStoppedAt] = static_cast<uint32_t>(index);
    state_[endpoint_state::kBytesFed] = static_cast<uint32_t>(fed_bytes);
    PublishPending();
    return Napi::Number::New(env, static_cast<double>(row_count_));
  }

  // takePending() -> rows written (all kind 1), from deliveries that did not fit before.
  Napi::Value TakePending(const Napi::CallbackInfo& info) {
    if (!endpoint_) return Napi::Number::New(info.Env(), 0);
    row_count_ = 0;
    output_used_ = 0;
    while (!pending_.empty() && row_count_ < row_capacity_) {
      Pending& next = pending_.front();
      if (next.bytes.size() > output_capacity_ - output_used_) break;
      uint32_t* row = rows_ + row_count_ * kRowWidth;
      std::memcpy(row, next.row, sizeof(next.row));
      row[delivery_row::kOffset] = static_cast<uint32_t>(output_used_);
      if (!next.bytes.empty()) std::memcpy(output_ + output_used_, next.bytes.data(), next.bytes.size());
      output_used_ += next.bytes.size();
      ++row_count_;
      pending_.pop_front();
    }
    PublishPending();
    return Napi::Number::New(info.Env(), static_cast<double>(row_count_));
  }

  // flush(nowUs, out, offset, lengths) -> datagrams written back to back from out[offset]; a
  // length with layout::kDontFragment set is a path MTU probe, to be sent without IP fragmentation.
  Napi::Value Flush(const Napi::CallbackInfo& info) {
    if (!Open(info.Env())) return Napi::Value();
    uint8_t* out = nullptr;
    size_t out_length = 0;
    uint32_t* lengths = nullptr;
    size_t length_capacity = 0;
    if (!GetMutableBytes(info[1], "out", &out, &out_length)) return Napi::Value();
    if (!GetUint32Array(info[3], "lengths", &lengths, &length_capacity)) return Napi::Value();
    uint64_t now = 0;
    uint64_t position = 0;
    if (!Whole(info[0], "nowUs", kMaxWholeNumber, &now) || !Whole(info[2], "offset", out_length, &position)) {
      return Napi::Value();
    }
    size_t count = 0;
    while (count < length_capacity) {
      size_t written = endpoint_->poll_transmit(now, out + position, out_length - position);
      if (written == 0) break;
      lengths[count++] = static_cast<uint32_t>(written) | (endpoint_->last_was_probe() ? layout::kDontFragment : 0);
      position += written;
    }
    if (state_ != nullptr) state_[endpoint_state::kDatagramLimit] = endpoint_->datagram_limit();
    return Napi::Number::New(info.Env(), static_cast<double>(count));
  }

  // nextDeadline() -> microseconds, or -1 when nothing is scheduled (or the endpoint is closed)
  Napi::Value NextDeadline(const Napi::CallbackInfo& info) {
    const uint64_t deadline = endpoint_ ? endpoint_->next_deadline() : Endpoint::kNoDeadline;
    double value = deadline == Endpoint::kNoDeadline ? -1.0 : static_cast<double>(deadline);
    return Napi::Number::New(info.Env(), value);
  }

  // onTimeout(nowUs) -> whether the endpoint has failed: a reliable message it holds stopped
  // making progress (endpoint.h); the owner then closes it and tells the peer.
  Napi::Value OnTimeout(const Napi::CallbackInfo& info) {
    if (!Open(info.Env())) return Napi::Value();
    uint64_t now = 0;
    if (!Whole(info[0], "nowUs", kMaxWholeNumber, &now)) return Napi::Value();
    endpoint_->on_timeout(now);
    if (state_ != nullptr) state_[endpoint_state::kDatagramLimit] = endpoint_->datagram_limit();
    return Napi::Boolean::New(info.Env(), endpoint_->failed());
  }

  // close(): frees the state machine at once, so that what it holds goes back to the shared
  // reassembly budget now rather than when this object is collected. Only stats(), nextDeadline(),
  // takePending() and close() may be called afterwards; stats() then gives the last values.
  Napi::Value Close(const Napi::CallbackInfo& info) {
    if (endpoint_) {
      final_stats_ = endpoint_->stats();
      endpoint_.reset();
      budget_ref_.Reset();
      pending_.clear();
      if (state_ != nullptr) {
        state_[endpoint_state::kPendingCount] = 0;
        state_[endpoint_state::kPendingBytes] = 0;
      }
    }
    return info.Env().Undefined();
  }

  bool Open(Napi::Env env) {
    if (endpoint_) return true;
    ThrowCoded(env, "ERR_INVALID_STATE", "the endpoint is closed");
    return false;
  }

  // stats(out: Float64Array): the endpoint statistics of layouts.h
  Napi::Value Stats(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (!info[0].IsTypedArray() || info[0].As<Napi::TypedArray>().TypedArrayType() != napi_float64_array ||
        info[0].As<Napi::Float64Array>().ElementLength() < layout::endpoint_stat::kCount) {
      return ThrowCoded(env, "ERR_INVALID_ARG_TYPE", "stats needs a Float64Array of the endpoint statistics");
    }
    double* out = info[0].As<Napi::Float64Array>().Data();
    const reliable::Stats stats = endpoint_ ? endpoint_->stats() : final_stats_;
#define HYBRIDWIRE_STAT_COPY(constant, name, field) out[layout::endpoint_stat::constant] = static_cast<double>(stats.field);
    HYBRIDWIRE_ENDPOINT_STAT(HYBRIDWIRE_STAT_COPY)
#undef HYBRIDWIRE_STAT_COPY
    return env.Undefined();
  }

  // ---- DeliverySink ----

  struct Pending {
    std::vector<uint8_t> bytes;
    uint32_t row[kRowWidth];
  };

  void Emit(uint32_t kind, const uint8_t* data, size_t size, uint32_t channel, uint32_t mode_or_type,
            uint32_t flags, uint32_t sequence) {
    bool in_datagram = datagram_ != nullptr && data >= datagram_ && size <= datagram_length_ &&
                       static_cast<size_t>(data - datagram_) <= datagram_length_ - size;
    if (pending_.empty() && row_count_ < row_capacity_) {
      uint32_t* row = rows_ + row_count_ * kRowWidth;
      if (in_datagram) {
        row[delivery_row::kKind] = kind;
        row[delivery_row::kOffset] = static_cast<uint32_t>(data - datagram_);
      } else if (kind == kInDatagram && size >= kOwnBufferMin && OwnBuffer(data, size)) {
        row[delivery_row::kKind] = kOwnBuffer;
        row[delivery_row::kOffset] = static_cast<uint32_t>(extra_count_++);
      } else if (size <= output_capacity_ - output_used_) {
        row[delivery_row::kKind] = kind == kFrame ? kFrameInOutput : kInOutput;
        row[delivery_row::kOffset] = static_cast<uint32_t>(output_used_);
        if (size > 0) std::memcpy(output_ + output_used_, data, size);
        output_used_ += size;
      } else {
        row = nullptr;
      }
      if (row != nullptr) {
        FillRow(row, size, channel, mode_or_type, flags, sequence);
        ++row_count_;
        return;
      }
    }
    // Kept in order behind what did not fit; copied, since the datagram will be gone.
    Pending pending;
    pending.bytes.assign(data, data + size);
    pending.row[delivery_row::kKind] = kind == kFrame ? kFrameInOutput : kInOutput;
    pending.row[delivery_row::kOffset] = 0;
    FillRow(pending.row, size, channel, mode_or_type, flags, sequence);
    pending_.push_back(std::move(pending));
  }

  static void FillRow(uint32_t* row, size_t size, uint32_t channel, uint32_t mode_or_type, uint32_t flags,
                      uint32_t sequence) {
    row[delivery_row::kLength] = static_cast<uint32_t>(size);
    row[delivery_row::kChannel] = channel;
    row[delivery_row::kModeOrType] = mode_or_type;
    row[delivery_row::kFlags] = flags;
    row[delivery_row::kSequence] = sequence;
  }

  void on_message(const uint8_t* data, size_t size, uint8_t channel, Mode mode, uint8_t flags,
                  uint32_t sequence) override {
    Emit(kInDatagram, data, size, channel, static_cast<uint32_t>(mode), flags, sequence);
  }

  void on_frame(const frame::Header& header, const uint8_t* payload) override {
    Emit(kFrame, payload, header.length, header.channel, header.type, header.flags, header.sequence);
  }

  // Copies a delivery into a Buffer of its own at extras[extra_count_]; false if there are no
  // extras or it cannot be made (the output buffer is used instead).
  bool OwnBuffer(const uint8_t* data, size_t size) {
    if (extras_ref_.IsEmpty() || env_ == nullptr) return false;
    napi_value buffer;
    if (napi_create_buffer_copy(env_, size, data, nullptr, &buffer) != napi_ok) return false;
    napi_value extras = extras_ref_.Value();
    return napi_set_element(env_, extras, static_cast<uint32_t>(extra_count_), buffer) == napi_ok;
  }

  void PublishPending() {
    state_[endpoint_state::kDatagramLimit] = endpoint_->datagram_limit();
    state_[endpoint_state::kPendingCount] = static_cast<uint32_t>(pending_.size());
    state_[endpoint_state::kPendingBytes] = pending_.empty() ? 0 : static_cast<uint32_t>(pending_.front().bytes.size());
  }

  Napi::ObjectReference budget_ref_;
  std::optional<Endpoint> endpoint_;
  reliable::Stats final_stats_;  // as they were at close()
  Napi::ObjectReference output_ref_;
  Napi::ObjectReference rows_ref_;
  Napi::ObjectReference state_ref_;
  Napi::ObjectReference extras_ref_;
  napi_env env_ = nullptr;
  size_t extra_count_ = 0;
  uint8_t* output_ = nullptr;
  size_t output_capacity_ = 0;
  size_t output_used_ = 0;
  uint32_t* rows_ = nullptr;
  size_t row_capacity_ = 0;
  size_t row_count_ = 0;
  uint32_t* state_ = nullptr;
  const uint8_t* datagram_ = nullptr;
  size_t datagram_length_ = 0;
  std::deque<Pending> pending_;
  static constexpr size_t kScratchKeep = 256 * 1024;
  std::vector<uint8_t> scratch_;
};

}  // namespace

void InitReliable(Napi::Env env, Napi::Object exports) {
  exports.Set("ReliableEndpoint", ReliableEndpoint::Define(env));
  exports.Set("ReassemblyBudget", ReassemblyBudget::Define(env));
}

}  // namespace hybridwire::binding
