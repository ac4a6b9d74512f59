/**
 * Errors with stable codes, in the manner of Node's own (`err.code === 'HW_ERR_BAD_CHECKSUM'`).
 * Match on `code`, never on the message.
 */
export type ErrorCode =
  | 'HW_ERR_BAD_VERSION'
  | 'HW_ERR_BAD_CHECKSUM'
  | 'HW_ERR_FRAME_TOO_LARGE'
  | 'HW_ERR_TRUNCATED'
  | 'HW_ERR_DECODER_FAILED'
  | 'HW_ERR_LZ4_CORRUPT'
  | 'HW_ERR_LZ4_OUTPUT_TOO_LARGE'
  | 'HW_ERR_INVALID_OPTION'
  | 'HW_ERR_NATIVE_UNAVAILABLE';

export class HybridwireError extends Error {
  readonly code: ErrorCode;

  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = 'HybridwireError';
  }
}

/** A frame could not be decoded: the stream or datagram it came from is unusable. */
export class FrameError extends HybridwireError {
  /** Offset of the offending frame in the chunk or datagram given to the decoder. */
  readonly offset: number;

  constructor(code: ErrorCode, message: string, offset: number) {
    super(code, message);
    this.name = 'FrameError';
    this.offset = offset;
  }
}

/** An option was out of range or of the wrong type when an object was built. */
export class OptionError extends HybridwireError {
  constructor(message: string) {
    super('HW_ERR_INVALID_OPTION', message);
    this.name = 'OptionError';
  }
}
