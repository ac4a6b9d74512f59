/** The COMPRESSED form of a message (docs/PROTOCOL.md, "Compression"), for the send path. */
import { lz4Compress } from '../codec/lz4.js';

export interface CompressedMessage {
  /** The u32 size of the message before compression, which leads the frame's payload. */
  sizePrefix: Buffer;
  /** The message (prefix and body) as one LZ4 block. */
  block: Buffer;
}

/**
 * The message made of prefix[0, prefixLength) and `body`, compressed; undefined when that does not
 * make it smaller (the size prefix included).
 */
export function compressMessage(prefix: Buffer, prefixLength: number, body: Uint8Array | string): CompressedMessage | undefined {
  const bytes = typeof body === 'string' ? Buffer.from(body, 'utf8') : body;
  const plain = Buffer.allocUnsafe(prefixLength + bytes.length);
  prefix.copy(plain, 0, 0, prefixLength);
  plain.set(bytes, prefixLength);
  const block = lz4Compress(plain);
  if (block.length + 4 >= plain.length) return undefined;
  const sizePrefix = Buffer.allocUnsafe(4);
  sizePrefix.writeUInt32LE(plain.length, 0);
  return { sizePrefix, block };
}
