/** The stream counters of a session, and of a server's sessions together. */

export interface StreamTotals {
  /** Streams this side opened, and streams the peer opened that were accepted or refused. */
  opened: number;
  accepted: number;
  refused: number;
  /** Resets sent (a stream destroyed here before it ended both ways) and received. */
  resetsSent: number;
  resetsReceived: number;
  /** Data bytes of all streams. */
  bytesIn: number;
  bytesOut: number;
  /** Peers closed for sending past a stream's credit (HW_ERR_FLOW_CONTROL). */
  flowControlErrors: number;
}

export interface StreamSessionStats extends StreamTotals {
  /** Streams open now. */
  open: number;
}

export function newStreamTotals(): StreamTotals {
  return { opened: 0, accepted: 0, refused: 0, resetsSent: 0, resetsReceived: 0, bytesIn: 0, bytesOut: 0, flowControlErrors: 0 };
}
