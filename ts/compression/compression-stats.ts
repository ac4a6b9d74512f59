/**
 * What compression did for a server (all its sessions) or a client: counted in one plain object
 * that the sessions bump, read as a snapshot with the ratios worked out.
 */

export interface CompressionCounters {
  /** Messages sent compressed, and the bytes of those messages before and after. */
  messagesCompressed: number;
  /** Messages at or above the threshold sent as they were, because compressing did not shrink them. */
  messagesNotShrunk: number;
  plainBytesOut: number;
  compressedBytesOut: number;
  /** Time spent compressing, in ms, messages that did not shrink included. */
  compressMs: number;
  /** Messages received compressed, and their bytes as received and once decompressed. */
  messagesDecompressed: number;
  compressedBytesIn: number;
  plainBytesIn: number;
  decompressMs: number;
  /** Compressed messages refused: too large, corrupt, or on a session that negotiated no algorithm. */
  refused: number;
}

/** `stats().compression`: of every session of a server (closed ones included) or client. */
export interface CompressionStats extends CompressionCounters {
  /** The algorithms offered, in order of preference (a client: the one its session uses first). */
  algorithms: string[];
  /** A client's session: the algorithm negotiated with its server (undefined: none). */
  algorithm?: string | undefined;
  /** Plain bytes per compressed byte, over what was sent compressed (0 before any). */
  ratioOut: number;
  /** The same over what was received compressed. */
  ratioIn: number;
  /** Bytes the compressed messages saved on the wire, both ways (plain minus compressed). */
  bytesSaved: number;
  /** compressMs + decompressMs. */
  timeMs: number;
}

export function newCompressionCounters(): CompressionCounters {
  return {
    messagesCompressed: 0,
    messagesNotShrunk: 0,
    plainBytesOut: 0,
    compressedBytesOut: 0,
    compressMs: 0,
    messagesDecompressed: 0,
    compressedBytesIn: 0,
    plainBytesIn: 0,
    decompressMs: 0,
    refused: 0,
  };
}

function ratio(plain: number, compressed: number): number {
  return compressed === 0 ? 0 : plain / compressed;
}

export function compressionStats(counters: CompressionCounters, algorithms: readonly string[], algorithm?: string): CompressionStats {
  return {
    ...counters,
    algorithms: [...algorithms],
    ...(algorithm === undefined ? {} : { algorithm }),
    ratioOut: ratio(counters.plainBytesOut, counters.compressedBytesOut),
    ratioIn: ratio(counters.plainBytesIn, counters.compressedBytesIn),
    bytesSaved: counters.plainBytesOut - counters.compressedBytesOut + counters.plainBytesIn - counters.compressedBytesIn,
    timeMs: counters.compressMs + counters.decompressMs,
  };
}
