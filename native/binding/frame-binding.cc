// Frame decoding and sealing over caller-owned buffers: one call per socket chunk or per batch.
#include "binding/bindings.h"
#include "core/frame-codec.h"

namespace hybridwire::binding {
namespace {

void StoreResult(uint32_t* result, const frame::DecodeResult& decoded) {
  result[0] = static_cast<uint32_t>(decoded.frames);
  result[1] = static_cast<uint32_t>(decoded.consumed);
  result[2] = static_cast<uint32_t>(decoded.error);
  result[3] = static_cast<uint32_t>(decoded.needed);
}

// decodeFrames(chunk, start, rows, result, maxPayload, pending?)
// With `pending` (a buffer holding exactly one frame assembled from earlier chunks) that frame is
// verified first and becomes row 0, its offset relative to `pending`. result receives
// [frames, consumed, error, needed]; consumed is an offset into chunk.
Napi::Value DecodeFrames(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const uint8_t* chunk = nullptr;
  size_t chunk_length = 0;
  uint32_t* rows = nullptr;
  size_t row_values = 0;
  uint32_t* result = nullptr;
  size_t result_values = 0;
  if (!GetBytes(info[0], "chunk", &chunk, &chunk_length)) return Napi::Value();
  if (!GetUint32Array(info[2], "rows", &rows, &row_values)) return Napi::Value();
  if (!GetUint32Array(info[3], "result", &result, &result_values)) return Napi::Value();
  if (result_values < 4) return ThrowCoded(env, "ERR_OUT_OF_RANGE", "result must hold 4 values");
  size_t start = info[1].As<Napi::Number>().Uint32Value();
  uint32_t max_payload = info[4].As<Napi::Number>().Uint32Value();
  size_t max_rows = row_values / frame::kRowWidth;
  if (max_rows == 0) return ThrowCoded(env, "ERR_OUT_OF_RANGE", "rows must hold at least one row");

  size_t pending_frames = 0;
  if (info.Length() > 5 && !info[5].IsUndefined()) {
    const uint8_t* pending = nullptr;
    size_t pending_length = 0;
    if (!GetBytes(info[5], "pending", &pending, &pending_length)) return Napi::Value();
    frame::DecodeResult first = frame::decode_datagram(pending, pending_length, max_payload, rows, 1);
    if (first.error == frame::DecodeError::kNone && first.consumed != pending_length) {
      first.error = frame::DecodeError::kTruncated;
    }
    if (first.error != frame::DecodeError::kNone) {
      first.frames = 0;
      first.consumed = start;
      StoreResult(result, first);
      return Napi::Number::New(env, 0);
    }
    pending_frames = 1;
  }
  frame::DecodeResult decoded = frame::decode_stream(
      chunk, chunk_length, start, max_payload, rows + pending_frames * frame::kRowWidth,
      max_rows - pending_frames);
  decoded.frames += pending_frames;
  StoreResult(result, decoded);
  return Napi::Number::New(env, static_cast<double>(decoded.frames));
}

// decodeDatagram(datagram, rows, result, maxPayload)
Napi::Value DecodeDatagram(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const uint8_t* datagram = nullptr;
  size_t length = 0;
  uint32_t* rows = nullptr;
  size_t row_values = 0;
  uint32_t* result = nullptr;
  size_t result_values = 0;
  if (!GetBytes(info[0], "datagram", &datagram, &length)) return Napi::Value();
  if (!GetUint32Array(info[1], "rows", &rows, &row_values)) return Napi::Value();
  if (!GetUint32Array(info[2], "result", &result, &result_values)) return Napi::Value();
  if (result_values < 4) return ThrowCoded(env, "ERR_OUT_OF_RANGE", "result must hold 4 values");
  uint32_t max_payload = info[3].As<Napi::Number>().Uint32Value();
  frame::DecodeResult decoded =
      frame::decode_datagram(datagram, length, max_payload, rows, row_values / frame::kRowWidth);
  if (decoded.error == frame::DecodeError::kNone && decoded.consumed != length) {
    // Rows ran out before the datagram did; report it rather than dropping frames silently.
    decoded.needed = decoded.consumed;
  }
  StoreResult(result, decoded);
  return Napi::Number::New(env, static_cast<double>(decoded.frames));
}

// sealFrames(buffer, offsets, count): computes the CRC32C of each frame that starts at
// buffer[offsets[i]] (header bytes 0..11 and payload already written). Returns count.
Napi::Value SealFrames(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  uint8_t* buffer = nullptr;
  size_t length = 0;
  uint32_t* offsets = nullptr;
  size_t offset_count = 0;
  if (!GetMutableBytes(info[0], "buffer", &buffer, &length)) return Napi::Value();
  if (!GetUint32Array(info[1], "offsets", &offsets, &offset_count)) return Napi::Value();
  size_t count = info[2].As<Napi::Number>().Uint32Value();
  if (count > offset_count) return ThrowCoded(env, "ERR_OUT_OF_RANGE", "count exceeds offsets.length");
  for (size_t i = 0; i < count; ++i) {
    size_t offset = offsets[i];
    if (offset > length || !frame::seal_frame(buffer + offset, length - offset)) {
      return ThrowCoded(env, "ERR_OUT_OF_RANGE", "a frame extends past the end of the buffer");
    }
  }
  return Napi::Number::New(env, static_cast<double>(count));
}

}  // namespace

void InitFrame(Napi::Env env, Napi::Object exports) {
  exports.Set("decodeFrames", Napi::Function::New<DecodeFrames>(env, "decodeFrames"));
  exports.Set("decodeDatagram", Napi::Function::New<DecodeDatagram>(env, "decodeDatagram"));
  exports.Set("sealFrames", Napi::Function::New<SealFrames>(env, "sealFrames"));
}

}  // namespace hybridwire::binding
