/**
 * Hand-built protocol bytes for tests that play a hostile peer (docs/PROTOCOL.md): UDP datagrams
 * with a session token, MESSAGE payloads (requests, batches, type definitions, fragments), and a
 * parser for what comes back. Written from the specification, not from ts/, so that a test keeps
 * meaning what the wire means whatever the implementation's shape.
 */
import { FrameEncoder, FrameFlag, FrameType, type FrameSpec } from '../../ts/index.js';

/** Frame types of the path validation exchange (docs/PROTOCOL.md, section 2). */
export const PATH_CHALLENGE = 0x0b;
export const PATH_RESPONSE = 0x0c;

export const Encoding = { BINARY: 0, JSON: 1, EMPTY: 2 } as const;
export const Kind = { MESSAGE: 0, REQUEST: 1, RESPONSE: 2, ERROR: 3 } as const;
/** The alias meaning "the type name follows inline". */
export const INLINE = 0xffff;

export interface ParsedFrame {
  type: number;
  flags: number;
  channel: number;
  sequence: number;
  payload: Buffer;
}

/** A datagram: the 8-byte token, then the frames. */
export function datagram(token: Buffer, frames: readonly FrameSpec[]): Buffer {
  return Buffer.concat([token, ...new FrameEncoder({ maxFrameSize: 1 << 20 }).encode(frames)]);
}

/** The frames of a datagram after its token (or of any buffer of whole frames from `offset`). */
export function parseFrames(bytes: Buffer, offset = 8): ParsedFrame[] {
  const frames: ParsedFrame[] = [];
  let at = offset;
  // Bounded by the buffer: every frame advances at least its 16-byte header.
  while (at + 16 <= bytes.length) {
    const length = bytes.readUInt32LE(at + 8);
    frames.push({
      type: bytes[at + 1]!,
      flags: bytes[at + 2]!,
      channel: bytes[at + 3]!,
      sequence: bytes.readUInt32LE(at + 4),
      payload: bytes.subarray(at + 16, Math.min(bytes.length, at + 16 + length)),
    });
    at += 16 + length;
  }
  return frames;
}

/** A message (the MESSAGE frame payload, or one BATCH entry): prefix, optional inline name, body. */
export function message(options: { alias: number; encoding: number; kind: number; requestId?: number; inlineName?: string; body?: Buffer | string }): Buffer {
  const parts: Buffer[] = [];
  const prefix = Buffer.alloc(options.kind === Kind.MESSAGE ? 4 : 8);
  prefix.writeUInt16LE(options.alias, 0);
  prefix[2] = options.encoding;
  prefix[3] = options.kind;
  if (options.kind !== Kind.MESSAGE) prefix.writeUInt32LE(options.requestId ?? 0, 4);
  parts.push(prefix);
  if (options.alias === INLINE) {
    const name = Buffer.from(options.inlineName ?? '', 'utf8');
    parts.push(Buffer.from([name.length]), name);
  }
  if (options.body !== undefined) parts.push(typeof options.body === 'string' ? Buffer.from(options.body, 'utf8') : options.body);
  return Buffer.concat(parts);
}

/** A BATCH payload: each entry as a u32 length and the message. */
export function batch(entries: readonly Buffer[]): Buffer {
  let size = 0;
  for (const entry of entries) size += 4 + entry.length;
  const out = Buffer.allocUnsafe(size);
  let at = 0;
  for (const entry of entries) {
    out.writeUInt32LE(entry.length, at);
    entry.copy(out, at + 4);
    at += 4 + entry.length;
  }
  return out;
}

/** A TYPE_DEF payload: u16 alias, then the name. */
export function typeDef(alias: number, name: string): Buffer {
  const bytes = Buffer.from(name, 'utf8');
  const out = Buffer.alloc(2 + bytes.length);
  out.writeUInt16LE(alias, 0);
  bytes.copy(out, 2);
  return out;
}

export interface ParsedMessage {
  alias: number;
  encoding: number;
  kind: number;
  requestId: number;
  inlineName: string | undefined;
  body: Buffer;
}

export function parseMessage(payload: Buffer): ParsedMessage {
  const alias = payload.readUInt16LE(0);
  const kind = payload[3]!;
  let at = 4;
  let requestId = 0;
  if (kind !== Kind.MESSAGE) {
    requestId = payload.readUInt32LE(4);
    at = 8;
  }
  let inlineName: string | undefined;
  if (alias === INLINE) {
    const length = payload[at]!;
    inlineName = payload.toString('utf8', at + 1, at + 1 + length);
    at += 1 + length;
  }
  return { alias, encoding: payload[2]!, kind, requestId, inlineName, body: payload.subarray(at) };
}

/** The messages a MESSAGE frame carries: one, or each entry of a BATCH (not COMPRESSED ones). */
export function messagesOf(frame: { flags?: number; payload: Buffer }): ParsedMessage[] {
  if (((frame.flags ?? 0) & FrameFlag.BATCH) === 0) return [parseMessage(frame.payload)];
  const out: ParsedMessage[] = [];
  let at = 0;
  while (at + 4 <= frame.payload.length) {
    const length = frame.payload.readUInt32LE(at);
    out.push(parseMessage(frame.payload.subarray(at + 4, at + 4 + length)));
    at += 4 + length;
  }
  return out;
}

/** The JSON body of an ERROR-kind message (an error reply). */
export function errorReply(parsed: ParsedMessage): { code: string; message: string } {
  return JSON.parse(parsed.body.toString('utf8')) as { code: string; message: string };
}

/**
 * The first fragment of a reliable ordered message of `messageLength` bytes, cut for datagrams of
 * `mtu` bytes (docs/PROTOCOL.md 7.3.1): the fragment prefix and F bytes of data.
 */
export function firstReliableFragment(messageLength: number, mtu: number, sequence = 0, channel = 0): FrameSpec {
  const fragmentSize = mtu - 8 - 16 - 32 - 12;
  const count = Math.ceil(messageLength / fragmentSize);
  const prefix = Buffer.alloc(12);
  prefix.writeUInt32LE(messageLength, 0);
  prefix.writeUInt32LE(0, 4);
  prefix.writeUInt32LE(count, 8);
  return {
    type: FrameType.MESSAGE,
    flags: FrameFlag.RELIABLE | FrameFlag.FRAGMENT,
    channel,
    sequence,
    payload: Buffer.concat([prefix, Buffer.alloc(fragmentSize, 0x5a)]),
  };
}
