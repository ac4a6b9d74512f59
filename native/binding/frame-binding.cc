// Frame decoding and sealing over caller-owned buffers: one call per socket chunk or per batch.
//
// Written against the plain napi_* C API: these calls run once per chunk or flush on every
// connection, and the node-addon-api wrappers would be a large share of the work on a small chunk
// (bench/RESULTS.md, "Costs the code relies on").
#include <node_api.h>

#include "binding/bindings.h"
#include "core/frame-codec.h"

namespace hybridwire::binding {
namespace {

napi_value ThrowArg(napi_env env, const char* code, const char* message) {
  napi_throw_type_error(env, code, message);
  return nullptr;
}

// A whole number from 0 to 2^32 - 1; false for anything else (not a number, NaN, negative,
// fractional or too large), which the caller reports with the call's signature.
bool Uint32Arg(napi_env env, napi_value value, uint32_t* out) {
  double number = 0;
  if (napi_get_value_double(env, value, &number) != napi_ok || !IsWholeNumber(number, UINT32_MAX)) return false;
  *out = static_cast<uint32_t>(number);
  return true;
}

napi_value Count(napi_env env, size_t count) {
  napi_value result;
  napi_create_uint32(env, static_cast<uint32_t>(count), &result);
  return result;
}

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
napi_value DecodeFrames(napi_env env, napi_callback_info info) {
  size_t argc = 6;
  napi_value argv[6];
  if (napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr) != napi_ok) return nullptr;
  const uint8_t* chunk = nullptr;
  size_t chunk_length = 0;
  uint32_t* rows = nullptr;
  size_t row_values = 0;
  uint32_t* result = nullptr;
  size_t result_values = 0;
  uint32_t start = 0;
  uint32_t max_payload = 0;
  if (argc < 5 || !TypedArg(env, argv[0], &chunk, &chunk_length) ||
      !Uint32Arg(env, argv[1], &start) || !TypedArg(env, argv[2], &rows, &row_values) ||
      !TypedArg(env, argv[3], &result, &result_values) ||
      !Uint32Arg(env, argv[4], &max_payload)) {
    return ThrowArg(env, "ERR_INVALID_ARG_TYPE",
                    "decodeFrames(chunk: Uint8Array, start: number, rows: Uint32Array, result: Uint32Array, maxPayload: number, pending?: Uint8Array)");
  }
  if (result_values < 4) return ThrowArg(env, "ERR_OUT_OF_RANGE", "result must hold 4 values");
  size_t max_rows = row_values / frame::kRowWidth;
  if (max_rows == 0) return ThrowArg(env, "ERR_OUT_OF_RANGE", "rows must hold at least one row");

  size_t pending_frames = 0;
  if (argc > 5) {
    napi_valuetype type;
    napi_typeof(env, argv[5], &type);
    if (type != napi_undefined) {
      const uint8_t* pending = nullptr;
      size_t pending_length = 0;
      if (!TypedArg(env, argv[5], &pending, &pending_length)) {
        return ThrowArg(env, "ERR_INVALID_ARG_TYPE", "pending must be a Uint8Array or Buffer");
      }
      frame::DecodeResult first = frame::decode_datagram(pending, pending_length, max_payload, rows, 1);
      if (first.error == frame::DecodeError::kNone && first.consumed != pending_length) {
        first.error = frame::DecodeError::kTruncated;
      }
      if (first.error != frame::DecodeError::kNone) {
        first.frames = 0;
        first.consumed = start;
        StoreResult(result, first);
        return Count(env, 0);
      }
      pending_frames = 1;
    }
  }
  frame::DecodeResult decoded = frame::decode_stream(
      chunk, chunk_length, start, max_payload, rows + pending_frames * frame::kRowWidth,
      max_rows - pending_frames);
  decoded.frames += pending_frames;
  StoreResult(result, decoded);
  return Count(env, decoded.frames);
}

// decodeDatagram(datagram, rows, result, maxPayload)
napi_value DecodeDatagram(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4];
  if (napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr) != napi_ok) return nullptr;
  const uint8_t* datagram = nullptr;
  size_t length = 0;
  uint32_t* rows = nullptr;
  size_t row_values = 0;
  uint32_t* result = nullptr;
  size_t result_values = 0;
  uint32_t max_payload = 0;
  if (argc < 4 || !TypedArg(env, argv[0], &datagram, &length) ||
      !TypedArg(env, argv[1], &rows, &row_values) ||
      !TypedArg(env, argv[2], &result, &result_values) ||
      !Uint32Arg(env, argv[3], &max_payload)) {
    return ThrowArg(env, "ERR_INVALID_ARG_TYPE",
                    "decodeDatagram(datagram: Uint8Array, rows: Uint32Array, result: Uint32Array, maxPayload: number)");
  }
  if (result_values < 4) return ThrowArg(env, "ERR_OUT_OF_RANGE", "result must hold 4 values");
  frame::DecodeResult decoded =
      frame::decode_datagram(datagram, length, max_payload, rows, row_values / frame::kRowWidth);
  if (decoded.error == frame::DecodeError::kNone && decoded.consumed != length) {
    // Rows ran out before the datagram did; report it rather than dropping frames silently.
    decoded.needed = decoded.consumed;
  }
  StoreResult(result, decoded);
  return Count(env, decoded.frames);
}

// sealFrames(buffer, offsets, count): computes the CRC32C of each frame that starts at
// buffer[offsets[i]] (header bytes 0..11 and payload already written). Returns count.
napi_value SealFrames(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  if (napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr) != napi_ok) return nullptr;
  uint8_t* buffer = nullptr;
  size_t length = 0;
  uint32_t* offsets = nullptr;
  size_t offset_count = 0;
  uint32_t count = 0;
  if (argc < 3 || !TypedArg(env, argv[0], &buffer, &length) ||
      !TypedArg(env, argv[1], &offsets, &offset_count) || !Uint32Arg(env, argv[2], &count)) {
    return ThrowArg(env, "ERR_INVALID_ARG_TYPE", "sealFrames(buffer: Uint8Array, offsets: Uint32Array, count: number)");
  }
  if (count > offset_count) return ThrowArg(env, "ERR_OUT_OF_RANGE", "count exceeds offsets.length");
  for (size_t i = 0; i < count; ++i) {
    size_t offset = offsets[i];
    if (offset > length || !frame::seal_frame(buffer + offset, length - offset)) {
      return ThrowArg(env, "ERR_OUT_OF_RANGE", "a frame extends past the end of the buffer");
    }
  }
  return Count(env, count);
}

}  // namespace

void InitFrame(Napi::Env env, Napi::Object exports) {
  ExportFunction(env, exports, "decodeFrames", DecodeFrames);
  ExportFunction(env, exports, "decodeDatagram", DecodeDatagram);
  ExportFunction(env, exports, "sealFrames", SealFrames);
}

}  // namespace hybridwire::binding
