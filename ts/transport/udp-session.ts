/**
 * The UDP side of one session. Every message goes through the session's reliable-UDP endpoint
 * (native state machine): unreliable ones are batched and fragmented there too, reliable ones are
 * retransmitted until acknowledged. PING/PONG, which only probe the path, travel as bare frames.
 * The endpoint is created on first use, so sessions that never touch UDP cost nothing here.
 */
import { FrameEncoder } from '../codec/frame-encoder.js';
import { FrameType } from '../codec/frame.js';
import { DatagramDecoder } from '../codec/datagram-decoder.js';
import { HybridwireError } from '../errors.js';
import { ReliableEndpoint, type ReassemblyBudget, type ReliableStats } from '../reliable/reliable-endpoint.js';
import type { SendOptions, UdpPath } from '../session/connection.js';
import { DeliveryMode } from '../reliable/reliable-endpoint.js';
import { SOCKET_ROW_WIDTH, SocketRow } from '../native/layouts.js';
import type { UdpDestination, UdpSocket } from './udp-socket.js';

/** How each (mode, channel) arrived, as send options for a reply; built once, shared. */
const VIA: ReadonlyArray<ReadonlyArray<SendOptions>> = (() => {
  const table: SendOptions[][] = [];
  table[DeliveryMode.UNRELIABLE] = Array.from({ length: 256 }, (_, channel) => ({ transport: 'udp', channel }));
  table[DeliveryMode.RELIABLE_ORDERED] = Array.from({ length: 256 }, (_, channel) => ({ transport: 'udp', reliable: true, channel }));
  table[DeliveryMode.RELIABLE_UNORDERED] = Array.from({ length: 256 }, (_, channel) => ({ transport: 'udp', reliable: true, ordered: false, channel }));
  return table;
})();

export const TOKEN_SIZE = 8;

/**
 * The socket hands over up to a thousand datagrams in one batch (recvmmsg, GRO). Acknowledging
 * only at the end of the turn would leave the sender without acks for all that time, its loss
 * timers firing and its window waiting; so within a batch what is due leaves every ACK_EVERY.
 * Each ack costs the receiver a system call and, on loopback, the wake-up of the sender: at 32
 * the receiver spent a quarter of its time sending acks. 128 is about eight per window of a
 * sender moving 1 MB per round trip (direct 1 KiB goodput 389 -> 420-437 MB/s against 32, with
 * no frames resent; at 512, 64-byte messages were resent spuriously again).
 */
const ACK_EVERY = 128;
/**
 * Or every ACK_EVERY_BYTES received, whichever comes first: with large datagrams (a raised mtu)
 * 128 of them can exceed what the sender may have in flight (its window, the peer's 4 MiB
 * reassembly credit), and it would wait for the end of the turn.
 */
const ACK_EVERY_BYTES = 128 * 1024;

/** Decodes probe datagrams of sessions that have no endpoint yet; used synchronously, so shared. */
const PROBES = new DatagramDecoder();

export interface UdpTarget {
  address: string;
  port: number;
}

export interface UdpSessionOptions {
  mtu: number;
  /** Path MTU discovery's upper bound (the socket must not fragment, or it stays at mtu). */
  maxMtu: number;
  /** Reliable messages in flight: 1 in step mode, the negotiated window in burst mode. */
  window: number;
  sendBufferBytes: number;
  reassemblyBytes: number;
  span: number;
  reassemblyTimeoutMs: number;
  maxAckDelayMs: number;
  minRtoMs: number;
  maxRtoMs: number;
  batchDelayMs: number;
  budget: ReassemblyBudget | undefined;
}

export interface UdpSessionEvents {
  /** A message (a MESSAGE payload: prefix and body) arrived, the way `via` says. */
  message(payload: Buffer, via: SendOptions): void;
  /** A PONG answered one of our PINGs. */
  pong(): void;
  drain(): void;
  /**
   * The UDP path failed and is closed: HW_ERR_REASSEMBLY_TIMEOUT, a reliable message from the
   * peer stopped making progress (see ReliableEndpoint's 'error'). The session must fail with it.
   */
  failed(error: HybridwireError): void;
}

export class UdpSession implements UdpPath {
  private endpoint: ReliableEndpoint | undefined;
  private control: FrameEncoder | undefined;
  private closed = false;
  private receivedSinceFlush = 0;
  private bytesSinceFlush = 0;
  /** The last target seen and its parsed form: a new address object means a new destination. */
  private lastTarget: UdpTarget | undefined;
  private lastDestination: UdpDestination | undefined;

  constructor(
    private readonly socket: UdpSocket,
    readonly token: Buffer,
    private readonly target: () => UdpTarget | undefined,
    private readonly options: UdpSessionOptions,
    private readonly events: UdpSessionEvents,
  ) {}

  send(prefix: Buffer, prefixLength: number, body: Uint8Array | string, reliable: boolean, ordered: boolean, channel: number): boolean {
    if (this.closed) throw new HybridwireError('HW_ERR_CONNECTION_CLOSED', 'the session is closed');
    if (!Number.isInteger(channel) || channel < 0 || channel > 255) {
      throw new HybridwireError('HW_ERR_INVALID_ARGUMENT', `channel must be an integer from 0 to 255, got ${String(channel)}`);
    }
    return this.ensureEndpoint().sendParts(prefix, prefixLength, body, { reliable, ordered, channel });
  }

  /** Feeds a datagram for this session, its token checked and removed. */
  receive(datagram: Uint8Array): void {
    if (this.closed) return;
    // Until a message is sent or received, PING/PONG probes are answered without building the
    // endpoint and its buffers: an idle session that only announced its address stays cheap.
    if (this.endpoint === undefined && this.answerProbes(datagram)) return;
    const endpoint = this.ensureEndpoint();
    endpoint.receive(datagram);
    this.bytesSinceFlush += datagram.length;
    if (++this.receivedSinceFlush >= ACK_EVERY || this.bytesSinceFlush >= ACK_EVERY_BYTES) {
      this.receivedSinceFlush = 0;
      this.bytesSinceFlush = 0;
      endpoint.flush();
    }
  }

  /**
   * Feeds datagrams of a socket batch from index `from` (token included; see
   * {@link UdpSocket}'s rows; `bytes` is lent, valid only during the call) for as long as they carry this session's token and come from the
   * first one's sender, which the caller has matched to this session. Returns the index of the
   * first datagram it did not take.
   */
  receiveRows(bytes: Buffer, rows: Uint32Array, from: number, to: number): number {
    if (this.closed) return from + 1;
    const endpoint = this.endpoint;
    if (endpoint === undefined) {
      // `bytes` is lent, and the endpoint this may build could keep views of the datagram.
      const offset = rows[from * SOCKET_ROW_WIDTH + SocketRow.OFFSET]!;
      this.receive(Buffer.from(bytes.subarray(offset + TOKEN_SIZE, offset + rows[from * SOCKET_ROW_WIDTH + SocketRow.LENGTH]!)));
      return from + 1;
    }
    let index = from;
    while (index < to) {
      const next = endpoint.receiveRows(bytes, rows, index, to, ACK_EVERY - this.receivedSinceFlush, ACK_EVERY_BYTES - this.bytesSinceFlush);
      this.receivedSinceFlush += next - index;
      this.bytesSinceFlush += endpoint.lastBytes;
      if (this.receivedSinceFlush >= ACK_EVERY || this.bytesSinceFlush >= ACK_EVERY_BYTES) {
        this.receivedSinceFlush = 0;
        this.bytesSinceFlush = 0;
        endpoint.flush();
      }
      if (next === index || this.closed) break;
      index = next;
      // Stopped before the end of the run for its own reasons, or at another token or sender.
      // The endpoint checks the token, and the sender against the first of each call: so the
      // next call may start only with the run's sender (another may be moving the session).
      if (index < to && (rows[index * SOCKET_ROW_WIDTH + SocketRow.PORT] !== rows[from * SOCKET_ROW_WIDTH + SocketRow.PORT] || rows[index * SOCKET_ROW_WIDTH + SocketRow.SENDER] !== rows[from * SOCKET_ROW_WIDTH + SocketRow.SENDER])) break;
    }
    return Math.max(index, from + 1);
  }

  private answerProbes(datagram: Uint8Array): boolean {
    const count = PROBES.decode(datagram);
    if (count <= 0) return false;
    for (let i = 0; i < count; i++) {
      const type = PROBES.type(i);
      if (type !== FrameType.PING && type !== FrameType.PONG) return false;
    }
    for (let i = 0; i < count; i++) {
      if (PROBES.type(i) === FrameType.PING) this.sendControl(FrameType.PONG, PROBES.payload(i), PROBES.sequence(i));
      else this.events.pong();
    }
    return true;
  }

  /** Sends a PING or PONG in a datagram of its own, outside the endpoint. */
  sendControl(type: number, payload: Uint8Array, sequence: number): void {
    const destination = this.destination();
    if (this.closed || destination === undefined) return;
    this.control ??= new FrameEncoder({ slabSize: 1024, copyThreshold: 256 });
    this.control.add(type, payload, 0, 0, sequence);
    this.socket.send(Buffer.concat([this.token, ...this.control.flush()]), destination);
  }

  /** Where datagrams go now, parsed once per address; undefined while the peer has none. */
  private destination(): UdpDestination | undefined {
    const target = this.target();
    if (target === undefined) return undefined;
    if (target !== this.lastTarget) {
      this.lastTarget = target;
      try {
        this.lastDestination = this.socket.destination(target.address, target.port);
      } catch {
        // Not an IP address: nothing can be sent there (and UDP is best effort beside TCP).
        this.lastDestination = undefined;
      }
    }
    return this.lastDestination;
  }

  stats(): ReliableStats | undefined {
    return this.endpoint?.stats();
  }

  /** Sends what is queued, then stops. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.endpoint) {
      this.endpoint.flush();
      this.endpoint.close();
    }
  }

  private ensureEndpoint(): ReliableEndpoint {
    if (this.endpoint) return this.endpoint;
    const options = this.options;
    const endpoint = new ReliableEndpoint({
      token: this.token,
      onDatagrams: (slab, offset, lengths, count) => {
        const destination = this.destination();
        if (destination !== undefined) this.socket.sendBatch(slab, offset, lengths, count, destination);
      },
      mtu: options.mtu,
      // Probes prove nothing if the kernel may fragment them.
      maxMtu: this.socket.dontFragment ? options.maxMtu : options.mtu,
      window: options.window,
      sendBufferBytes: options.sendBufferBytes,
      reassemblyBytes: options.reassemblyBytes,
      span: options.span,
      reassemblyTimeoutMs: options.reassemblyTimeoutMs,
      maxAckDelayMs: options.maxAckDelayMs,
      minRtoMs: options.minRtoMs,
      maxRtoMs: options.maxRtoMs,
      batchDelayMs: options.batchDelayMs,
      ...(options.budget ? { budget: options.budget } : {}),
    });
    endpoint.on('message', (payload, channel, mode) => this.events.message(payload, VIA[mode]![channel]!));
    endpoint.on('frame', (type, _flags, _channel, sequence, payload) => {
      if (type === FrameType.PING) this.sendControl(FrameType.PONG, payload, sequence);
      else if (type === FrameType.PONG) this.events.pong();
    });
    endpoint.on('drain', () => this.events.drain());
    endpoint.on('error', (error) => this.events.failed(error));
    this.endpoint = endpoint;
    return endpoint;
  }
}
