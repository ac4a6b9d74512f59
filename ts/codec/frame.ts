/**
 * Constants of the hybridwire frame (docs/PROTOCOL.md is the normative description).
 *
 * A frame is a 16-byte header followed by `length` payload bytes:
 * version u8 | type u8 | flags u8 | channel u8 | sequence u32 | length u32 | crc32c u32,
 * integers little-endian, the CRC32C taken over header bytes 0..11 followed by the payload.
 */
export const HEADER_SIZE = 16;
export const PROTOCOL_VERSION = 1;
export const DEFAULT_MAX_FRAME_SIZE = 16 * 1024 * 1024;
/** Largest maxFrameSize accepted: lengths are u32 and a frame must fit in one Buffer. */
export const MAX_MAX_FRAME_SIZE = 0xffff_ffff - HEADER_SIZE;

/** Frame types. 0x00–0x7F must be understood by a receiver; 0x80–0xFF may be ignored. */
export const FrameType = {
  HELLO: 0x01,
  HELLO_ACK: 0x02,
  HELLO_DONE: 0x03,
  MESSAGE: 0x04,
  ACK: 0x05,
  PING: 0x06,
  PONG: 0x07,
  CLOSE: 0x08,
  ERROR: 0x09,
  TYPE_DEF: 0x0a,
  /** Path validation (docs/PROTOCOL.md 4.1): the challenge travels by UDP, its answer by TCP. */
  PATH_CHALLENGE: 0x0b,
  PATH_RESPONSE: 0x0c,
  /** Reliable UDP's path MTU probe and its answer (ignorable: docs/PROTOCOL.md 7.7). */
  MTU_PROBE: 0x80,
  MTU_ACK: 0x81,
  /** Zeros that fill a TLS record so that no frame crosses into the next (ignorable: docs/PROTOCOL.md 3.5). */
  PADDING: 0x82,
} as const;
export type FrameTypeValue = (typeof FrameType)[keyof typeof FrameType];

/** The largest PING or PONG payload. */
export const MAX_PING_PAYLOAD = 64;
/** Types from here up are ignorable: a receiver skips those it does not know. */
export const FIRST_IGNORABLE_TYPE = 0x80;

/** Flag bits of header byte 2. */
export const FrameFlag = {
  COMPRESSED: 0x01,
  ENCRYPTED: 0x02,
  FRAGMENT: 0x04,
  RELIABLE: 0x08,
  BATCH: 0x10,
  PRIORITY: 0x20,
  EXTENSIONS: 0x40,
  /** With RELIABLE: deliver on arrival, in the channel's unordered sequence space. */
  UNORDERED: 0x80,
} as const;

/** Values per decoded frame in the decoder's row table. */
export const ROW_WIDTH = 6;
export const Row = { OFFSET: 0, LENGTH: 1, TYPE: 2, FLAGS: 3, CHANNEL: 4, SEQUENCE: 5 } as const;

/** Native decode error numbers (native/core/frame-codec.h) to their stable codes and messages. */
export const DECODE_ERRORS = [
  undefined,
  ['HW_ERR_BAD_VERSION', 'frame has an unknown protocol version'],
  ['HW_ERR_BAD_CHECKSUM', 'frame checksum (CRC32C) does not match its contents'],
  ['HW_ERR_FRAME_TOO_LARGE', 'frame payload length exceeds the maximum frame size'],
  ['HW_ERR_TRUNCATED', 'input ends inside a frame'],
] as const;
