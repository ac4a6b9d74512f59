/**
 * Compression as one session uses it: the negotiated algorithm, this side's level and threshold,
 * and the COMPRESSED payload (docs/PROTOCOL.md, section 12): a u32 `size`, the length of the
 * message, then the message compressed. The size is a claim, checked against the receiver's
 * limit before anything is allocated; the codec never makes more than `size` bytes of output.
 */
import { performance } from 'node:perf_hooks';
import { HybridwireError } from '../errors.js';
import { codecOf, type Codec } from './algorithms.js';
import { resolveCompression, type CompressionSettings } from './settings.js';

export type { CompressionSettings } from './settings.js';

/** The settings of a session whose server or client was built without them (tests of the session layer). */
const DEFAULT_SETTINGS = resolveCompression(undefined, undefined);

export class SessionCompression {
  /** Bodies of at least this many bytes go compressed (when that shrinks them); 0: never. */
  readonly threshold: number;
  private readonly level: number;

  constructor(
    private readonly codec: Codec,
    private readonly settings: CompressionSettings,
    /**
     * A 1.0 session, which negotiated the `lz4` feature alone: its refusals keep the 1.0 codes
     * (HW_ERR_FRAME_TOO_LARGE, HW_ERR_LZ4_OUTPUT_TOO_LARGE) that its peer knows.
     */
    private readonly legacy: boolean,
  ) {
    this.threshold = settings.threshold;
    this.level = settings.levels[codec.name];
  }

  get algorithm(): string {
    return this.codec.name;
  }

  /**
   * The COMPRESSED payload of the message `prefix[0, prefixLength)` + `body`, or undefined when
   * compressing does not make it smaller (it is then sent as it is).
   */
  compress(prefix: Buffer, prefixLength: number, body: Uint8Array | string): Buffer | undefined {
    const bytes = typeof body === 'string' ? Buffer.from(body, 'utf8') : body;
    const plain = Buffer.allocUnsafe(prefixLength + bytes.length);
    prefix.copy(plain, 0, 0, prefixLength);
    plain.set(bytes, prefixLength);
    const counters = this.settings.counters;
    const started = performance.now();
    const compressed = this.codec.compress(plain, this.level);
    counters.compressMs += performance.now() - started;
    if (compressed.length + 4 >= plain.length) {
      counters.messagesNotShrunk++;
      return undefined;
    }
    const payload = Buffer.allocUnsafe(4 + compressed.length);
    payload.writeUInt32LE(plain.length, 0);
    payload.set(compressed, 4);
    counters.messagesCompressed++;
    counters.plainBytesOut += plain.length;
    counters.compressedBytesOut += payload.length;
    return payload;
  }

  /** The message a COMPRESSED payload, source[start, end), holds; `maxSize` is the receiver's limit. */
  decompress(source: Buffer, start: number, end: number, maxSize: number): Buffer {
    const counters = this.settings.counters;
    try {
      if (end - start < 4) throw new HybridwireError('HW_ERR_BAD_MESSAGE', 'compressed frame shorter than its size prefix');
      const size = source.readUInt32LE(start);
      if (size > maxSize) {
        throw new HybridwireError(this.legacy ? 'HW_ERR_FRAME_TOO_LARGE' : 'HW_ERR_DECOMPRESSED_TOO_LARGE', `compressed message claims ${size} bytes; maxFrameSize is ${maxSize}`);
      }
      const started = performance.now();
      const plain = this.decode(source.subarray(start + 4, end), size);
      counters.decompressMs += performance.now() - started;
      if (plain.length !== size) {
        throw new HybridwireError(this.codec.name === 'lz4' ? 'HW_ERR_LZ4_CORRUPT' : 'HW_ERR_BAD_MESSAGE', `compressed message is ${plain.length} bytes, not the ${size} it claims`);
      }
      counters.messagesDecompressed++;
      counters.compressedBytesIn += end - start;
      counters.plainBytesIn += size;
      return plain;
    } catch (error) {
      counters.refused++;
      throw error;
    }
  }

  private decode(data: Buffer, size: number): Buffer {
    try {
      return this.codec.decompress(data, size);
    } catch (error) {
      if (!this.legacy && (error as { code?: unknown }).code === 'HW_ERR_LZ4_OUTPUT_TOO_LARGE') {
        throw new HybridwireError('HW_ERR_DECOMPRESSED_TOO_LARGE', (error as Error).message, { cause: error });
      }
      throw error;
    }
  }
}

/**
 * The compression of a session from what its handshake agreed: the algorithm named in HELLO_ACK's
 * `compression`, else LZ4 when both sides offered the 1.0 feature `lz4`, else none.
 */
export function sessionCompression(settings: CompressionSettings | undefined, features: ReadonlySet<string>, algorithm: string | undefined): SessionCompression | undefined {
  const chosen = settings ?? DEFAULT_SETTINGS;
  if (algorithm !== undefined) return shared(chosen, algorithm, false);
  if (features.has('lz4') && chosen.algorithms.includes('lz4')) return shared(chosen, 'lz4', true);
  return undefined;
}

/**
 * A SessionCompression holds no state of its own session: one serves every session of a server
 * that uses the same algorithm, rather than an object per session.
 */
const made = new WeakMap<CompressionSettings, Map<string, SessionCompression>>();
function shared(settings: CompressionSettings, algorithm: string, legacy: boolean): SessionCompression | undefined {
  let bySettings = made.get(settings);
  if (bySettings === undefined) made.set(settings, (bySettings = new Map()));
  const key = legacy ? 'lz4 (1.0)' : algorithm;
  let compression = bySettings.get(key);
  if (compression === undefined) {
    const codec = codecOf(algorithm);
    if (codec === undefined) return undefined;
    compression = new SessionCompression(codec, settings, legacy);
    bySettings.set(key, compression);
  }
  return compression;
}
