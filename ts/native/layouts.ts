/**
 * Every array layout that crosses N-API between the UDP socket, the reliable endpoint and their
 * wrappers, named once on this side; native/binding/layouts.h names them once on the other, and
 * test/unit/layouts.test.ts holds the two to each other (the addon exports its own as `layouts`).
 */

/** A row per datagram of a received UdpSocket batch (a Uint32Array, SOCKET_ROW_WIDTH values a row). */
export const SocketRow = { OFFSET: 0, LENGTH: 1, PORT: 2, SENDER: 3 } as const;
export const SOCKET_ROW_WIDTH = 4;
/** Rows a UdpSocket hands over in one batch at most: its rows array holds this many. */
export const SOCKET_ROWS = 1024;

/** A row per delivery of the reliable endpoint (a message, or a frame it does not own). */
export const DeliveryRow = { KIND: 0, OFFSET: 1, LENGTH: 2, CHANNEL: 3, MODE_OR_TYPE: 4, FLAGS: 5, SEQUENCE: 6 } as const;
export const DELIVERY_ROW_WIDTH = 7;

/** Where a delivery's bytes are: its row's KIND. */
export const DeliveryKind = {
  /** Message bytes at OFFSET in the datagram given to the endpoint. */
  IN_DATAGRAM: 0,
  /** Message bytes at OFFSET in the endpoint's output buffer (reassembled or held for order). */
  IN_OUTPUT: 1,
  /** A frame of a type the reliable layer does not own, its payload at OFFSET in the datagram. */
  FRAME: 2,
  /** Such a frame, its payload at OFFSET in the output buffer. */
  FRAME_IN_OUTPUT: 3,
  /** Message bytes in a Buffer of their own, at index OFFSET of the extras array. */
  OWN_BUFFER: 4,
} as const;

/** The endpoint's state array (a Uint32Array), written by each call that can change it. */
export const EndpointState = {
  /** Deliveries that did not fit the rows or output and wait for takePending(). */
  PENDING_COUNT: 0,
  /** Bytes of the next pending delivery (the output buffer must hold them). */
  PENDING_BYTES: 1,
  /** After receiveRows(): the socket row it stopped at. */
  STOPPED_AT: 2,
  /** After receiveRows(): the bytes it fed, tokens included. */
  BYTES_FED: 3,
  /** The largest datagram the next flush may write. */
  DATAGRAM_LIMIT: 4,
} as const;
export const ENDPOINT_STATE_COUNT = 5;

/** The endpoint's constructor options (a Float64Array). */
export const EndpointOption = {
  MTU: 0,
  WINDOW: 1,
  SEND_BUFFER_BYTES: 2,
  REASSEMBLY_BYTES: 3,
  REASSEMBLY_TIMEOUT_US: 4,
  MAX_ACK_DELAY_US: 5,
  MIN_RTO_US: 6,
  MAX_RTO_US: 7,
  SPAN: 8,
  MAX_MTU: 9,
  WIRE_OVERHEAD: 10,
} as const;
export const ENDPOINT_OPTION_COUNT = 11;

/** The endpoint's statistics (a Float64Array). */
export const EndpointStat = {
  SRTT_US: 0,
  RTTVAR_US: 1,
  MIN_RTT_US: 2,
  RTO_US: 3,
  CWND: 4,
  BYTES_IN_FLIGHT: 5,
  MESSAGES_IN_FLIGHT: 6,
  SEND_BUFFER_BYTES: 7,
  REASSEMBLY_BYTES: 8,
  DATAGRAMS_SENT: 9,
  BYTES_SENT: 10,
  DATAGRAMS_RECEIVED: 11,
  BYTES_RECEIVED: 12,
  MESSAGES_SENT: 13,
  MESSAGES_DELIVERED: 14,
  FRAMES_DELIVERED: 15,
  RETRANSMISSIONS: 16,
  LOST: 17,
  TIMEOUTS: 18,
  DROPS_BAD_CHECKSUM: 19,
  DROPS_MALFORMED: 20,
  DROPS_DUPLICATE: 21,
  DROPS_STALE: 22,
  DROPS_WINDOW_OVERFLOW: 23,
  DROPS_REASSEMBLY_OVERFLOW: 24,
  DROPS_EXPIRED: 25,
  DROPS_SEND_BUFFER: 26,
  SPURIOUS_LOSSES: 27,
  PATH_MTU: 28,
  MTU_PROBES_SENT: 29,
  MTU_PROBES_LOST: 30,
} as const;
export const ENDPOINT_STAT_COUNT = 31;

/** The UDP socket's statistics (a Float64Array). */
export const SocketStat = {
  DATAGRAMS_SENT: 0,
  DATAGRAMS_RECEIVED: 1,
  QUEUED: 2,
  QUEUE_DROPS: 3,
  SEND_ERRORS: 4,
  RECEIVE_ERRORS: 5,
} as const;
export const SOCKET_STAT_COUNT = 6;

/** What the endpoint's send and sendParts return. */
export const SendStatus = { OK: 0, WOULD_BLOCK: 1, TOO_LARGE: 2, INVALID: 3 } as const;

/**
 * In a datagram length of a flush or of UdpSocket.sendBatch: send this datagram without IP
 * fragmentation (a path MTU probe). The length is the other bits (LENGTH_MASK).
 */
export const DONT_FRAGMENT = 0x80000000;
export const LENGTH_MASK = 0x7fffffff;
