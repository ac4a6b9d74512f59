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
  | 'HW_ERR_CONFIG'
  | 'HW_ERR_INVALID_ARGUMENT'
  | 'HW_ERR_NATIVE_UNAVAILABLE'
  | 'HW_ERR_BAD_MESSAGE'
  | 'HW_ERR_BAD_HANDSHAKE'
  | 'HW_ERR_HANDSHAKE_ORDER'
  | 'HW_ERR_HANDSHAKE_TIMEOUT'
  | 'HW_ERR_HANDSHAKE_REFUSED'
  | 'HW_ERR_VERSION_MISMATCH'
  | 'HW_ERR_SERVER_FULL'
  | 'HW_ERR_UNKNOWN_FRAME_TYPE'
  | 'HW_ERR_UNKNOWN_ALIAS'
  | 'HW_ERR_SEQUENCE'
  | 'HW_ERR_BAD_ACK'
  | 'HW_ERR_WINDOW_OVERFLOW'
  | 'HW_ERR_NO_HANDLER'
  | 'HW_ERR_HANDLER_FAILED'
  | 'HW_ERR_REMOTE'
  | 'HW_ERR_REQUEST_TIMEOUT'
  | 'HW_ERR_TOO_MANY_REQUESTS'
  | 'HW_ERR_SEND_QUEUE_FULL'
  | 'HW_ERR_NOT_CONNECTED'
  | 'HW_ERR_CONNECTION_CLOSED'
  | 'HW_ERR_CONNECT_FAILED'
  | 'HW_ERR_CONNECT_TIMEOUT'
  | 'HW_ERR_HEARTBEAT_TIMEOUT'
  | 'HW_ERR_UDP_UNAVAILABLE'
  | 'HW_ERR_RATE_LIMITED'
  | 'HW_ERR_REASSEMBLY_TIMEOUT'
  | 'HW_ERR_FORBIDDEN'
  | 'HW_ERR_TLS_CERT_UNTRUSTED'
  | 'HW_ERR_TLS_CERT_EXPIRED'
  | 'HW_ERR_TLS_HOSTNAME_MISMATCH'
  | 'HW_ERR_TLS_PIN_MISMATCH'
  | 'HW_ERR_TLS_CERT_REQUIRED'
  | 'HW_ERR_TLS_HANDSHAKE_FAILED'
  | 'HW_ERR_ENCRYPTION_REQUIRED'
  | 'HW_ERR_AUTH_REFUSED'
  | 'HW_ERR_AEAD_LIMIT_REACHED'
  | 'HW_ERR_DECOMPRESSED_TOO_LARGE'
  | 'HW_ERR_STREAM_RESET'
  | 'HW_ERR_STREAM_LIMIT'
  | 'HW_ERR_FLOW_CONTROL'
  | 'HW_ERR_UNSUPPORTED_FEATURE'
  | 'HW_ERR_INVALID_TOPIC'
  | 'HW_ERR_CLUSTER_UNAVAILABLE'
  | 'HW_ERR_NOT_AUTHORIZED'
  | 'HW_ERR_SESSION_TAKEN_OVER'
  | 'HW_ERR_STORE_UNAVAILABLE';

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
  /** The option at fault (`reconnect.jitter` for a field of an object option), when known. */
  readonly option: string | undefined;

  constructor(message: string, option?: string) {
    super('HW_ERR_INVALID_OPTION', message);
    this.name = 'OptionError';
    this.option = option;
  }
}

/**
 * A configuration (file or environment, see loadConfig) that cannot be used: `key` is the option's
 * path (`reconnect.maxAttempts`), `source` where its value came from (`FILE:LINE` or the variable's
 * name), `allowed` what it may be.
 */
export class ConfigError extends HybridwireError {
  readonly key: string | undefined;
  readonly source: string | undefined;
  readonly allowed: string | undefined;

  constructor(message: string, details: { key?: string; source?: string; allowed?: string; cause?: unknown } = {}) {
    super('HW_ERR_CONFIG', message, { cause: details.cause });
    this.name = 'ConfigError';
    this.key = details.key;
    this.source = details.source;
    this.allowed = details.allowed;
  }
}

/**
 * The peer reported an error: an ERROR frame, or the error response to a request. `code` is the
 * peer's code when it is one of ours (so `err.code === 'HW_ERR_NO_HANDLER'` works across the wire).
 */
export class RemoteError extends HybridwireError {
  constructor(code: string, message: string) {
    super(/^HW_ERR_[A-Z0-9_]+$/.test(code) ? (code as ErrorCode) : 'HW_ERR_REMOTE', message);
    this.name = 'RemoteError';
  }
}

/** Thrown into a pending request cancelled through its AbortSignal, as Node's own APIs do. */
export class AbortError extends Error {
  readonly code = 'ABORT_ERR';
  constructor(message = 'The operation was aborted', options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'AbortError';
  }
}
