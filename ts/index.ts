export { crc32c } from './codec/crc32c.js';
export { FrameDecoder } from './codec/frame-decoder.js';
export type { Frame, FrameDecoderOptions } from './codec/frame-decoder.js';
export { FrameEncoder } from './codec/frame-encoder.js';
export type { FrameEncoderOptions, FrameSpec } from './codec/frame-encoder.js';
export {
  DEFAULT_MAX_FRAME_SIZE,
  FrameFlag,
  FrameType,
  HEADER_SIZE,
  PROTOCOL_VERSION,
} from './codec/frame.js';
export { FrameError, HybridwireError, OptionError } from './errors.js';
export type { ErrorCode } from './errors.js';
