/**
 * The counters of one session. The send and receive paths bump plain numbers in one shared object
 * (no allocation, no call per message); readers get a snapshot, never the live object.
 */

export interface TransportStats {
  messagesIn: number;
  messagesOut: number;
  bytesIn: number;
  bytesOut: number;
}

/** What the session counts as it goes. */
export interface SessionCounters {
  tcp: TransportStats;
  /** `dropped`: UDP messages that arrived malformed, or replies that could not go out over UDP. */
  udp: TransportStats & { dropped: number };
  /** Smoothed heartbeat round-trip time in milliseconds (undefined before the first PONG). */
  rttMs: number | undefined;
  /** Messages sent and received compressed. */
  compressedOut: number;
  compressedIn: number;
}

/** A snapshot of a session's counters, with the state of its queues when it was taken. */
export interface ConnectionStats extends SessionCounters {
  pendingRequests: number;
  queuedBytes: number;
  /** The algorithm of the session's compressed messages (lz4, zstd, gzip, deflate, brotli); undefined: none. */
  compressionAlgorithm: string | undefined;
}

export function newSessionCounters(): SessionCounters {
  return {
    tcp: { messagesIn: 0, messagesOut: 0, bytesIn: 0, bytesOut: 0 },
    udp: { messagesIn: 0, messagesOut: 0, bytesIn: 0, bytesOut: 0, dropped: 0 },
    rttMs: undefined,
    compressedOut: 0,
    compressedIn: 0,
  };
}

/** A copy of `counters` with the queue state: later traffic does not change it. */
export function snapshotStats(counters: SessionCounters, pendingRequests: number, queuedBytes: number, compressionAlgorithm?: string): ConnectionStats {
  return {
    tcp: { ...counters.tcp },
    udp: { ...counters.udp },
    rttMs: counters.rttMs,
    compressedOut: counters.compressedOut,
    compressedIn: counters.compressedIn,
    pendingRequests,
    queuedBytes,
    compressionAlgorithm,
  };
}
