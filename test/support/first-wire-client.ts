/**
 * A frozen copy of what a client of the first wire version (commit e4e67cd, 2026-11-23, protocol
 * "1.0.0") sent, byte for byte, for compatibility tests against the current server. Do not
 * regenerate these from the current code: they stand for a peer that never changes.
 *
 * Its HELLO is the JSON that client wrote with its default options (no `udp` object, no
 * `compression` list, no `required`; it offered `lz4`). After HELLO_ACK it sent HELLO_DONE
 * `{"sessionId":"<the session id>"}`, then each message in a frame of its own: that client
 * knew no BATCH or COMPRESSED frames, and read every MESSAGE frame's payload as one message,
 * whatever its flags.
 */

const bytes = (hex: string): Buffer => Buffer.from(hex.replace(/ /g, ''), 'hex');

/** HELLO, burst mode (its default): window 8192, maxPacketSize 16 MiB. */
export const FIRST_HELLO_BURST = bytes('01 01 00 00 00 00 00 00 a8 00 00 00 b7 fd bd 91 7b 22 76 65 72 73 69 6f 6e 22 3a 22 31 2e 30 2e 30 22 2c 22 66 65 61 74 75 72 65 73 22 3a 5b 22 6a 73 6f 6e 22 2c 22 62 69 6e 61 72 79 22 2c 22 74 79 70 65 2d 61 6c 69 61 73 22 2c 22 72 65 71 75 65 73 74 22 2c 22 68 65 61 72 74 62 65 61 74 22 2c 22 75 64 70 22 2c 22 72 65 6c 69 61 62 6c 65 2d 75 64 70 22 2c 22 6c 7a 34 22 5d 2c 22 6d 6f 64 65 22 3a 22 62 75 72 73 74 22 2c 22 6d 61 78 50 61 63 6b 65 74 53 69 7a 65 22 3a 31 36 37 37 37 32 31 36 2c 22 77 69 6e 64 6f 77 53 69 7a 65 22 3a 38 31 39 32 7d');

/** HELLO, step mode (`connect({ mode: 'step' })`): window 1. */
export const FIRST_HELLO_STEP = bytes('01 01 00 00 00 00 00 00 a4 00 00 00 21 53 bd 38 7b 22 76 65 72 73 69 6f 6e 22 3a 22 31 2e 30 2e 30 22 2c 22 66 65 61 74 75 72 65 73 22 3a 5b 22 6a 73 6f 6e 22 2c 22 62 69 6e 61 72 79 22 2c 22 74 79 70 65 2d 61 6c 69 61 73 22 2c 22 72 65 71 75 65 73 74 22 2c 22 68 65 61 72 74 62 65 61 74 22 2c 22 75 64 70 22 2c 22 72 65 6c 69 61 62 6c 65 2d 75 64 70 22 2c 22 6c 7a 34 22 5d 2c 22 6d 6f 64 65 22 3a 22 73 74 65 70 22 2c 22 6d 61 78 50 61 63 6b 65 74 53 69 7a 65 22 3a 31 36 37 37 37 32 31 36 2c 22 77 69 6e 64 6f 77 53 69 7a 65 22 3a 31 7d');

/** HELLO_DONE as that client wrote it. */
export function firstHelloDone(sessionId: string): Buffer {
  return Buffer.from(JSON.stringify({ sessionId }), 'utf8');
}

/**
 * Its first four sequenced frames after the handshake: TYPE_DEF alias 1 = "echo" (sequence 0);
 * REQUEST alias 1, JSON, id 1, body "hello from 1.0" (1); TYPE_DEF alias 2 = "note" (2);
 * MESSAGE alias 2, JSON, body {"n":1} (3).
 */
export const FIRST_MESSAGES = [
  bytes('01 0a 00 00 00 00 00 00 06 00 00 00 ef c5 d0 e6 01 00 65 63 68 6f'),
  bytes('01 04 00 00 01 00 00 00 18 00 00 00 b4 7c ad fc 01 00 01 01 01 00 00 00 22 68 65 6c 6c 6f 20 66 72 6f 6d 20 31 2e 30 22'),
  bytes('01 0a 00 00 02 00 00 00 06 00 00 00 64 af 32 cf 02 00 6e 6f 74 65'),
  bytes('01 04 00 00 03 00 00 00 0b 00 00 00 d5 a7 f3 d5 02 00 01 00 7b 22 6e 22 3a 31 7d'),
];
