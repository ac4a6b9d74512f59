/**
 * The UDP side of one session. Every message goes through the session's reliable-UDP endpoint
 * (native state machine): unreliable ones are batched and fragmented there too, reliable ones are
 * retransmitted until acknowledged. PING/PONG and PATH_CHALLENGE, which only probe the path,
 * travel as bare frames. The endpoint is created on first use, so sessions that never touch UDP
 * cost nothing here.
 *
 * Until the path is ready (docs/PROTOCOL.md 4.1: on a server, the session has a validated
 * address; on a client, the server's PONG came) nothing but those probes is sent: messages wait,
 * bounded by sendBufferBytes, and path MTU discovery has not started.
 *
 * With `sealing` (a TLS session, docs/PROTOCOL.md 4.4) every datagram it sends is sealed, probes
 * included, and every one it receives must open: the others are dropped and counted, and the
 * endpoint sees only opened ones. Its datagram sizes are then the sealed ones less SEAL_OVERHEAD.
 */
import { FrameEncoder } from '../codec/frame-encoder.js';
import { FrameType } from '../codec/frame.js';
import { DatagramDecoder } from '../codec/datagram-decoder.js';
import { decodeDatagram } from './datagram-rule.js';
import { HybridwireError } from '../errors.js';
import { ReliableEndpoint, type ReassemblyBudget, type ReliableStats } from '../reliable/reliable-endpoint.js';
import type { SendOptions, UdpPath } from '../session/connection.js';
import { Reliability } from '../reliable/reliable-endpoint.js';
import { SOCKET_ROW_WIDTH, SocketRow } from '../native/layouts.js';
import { DatagramSeal, OpenResult, SEAL_OVERHEAD, type SealingStats, type UdpSealing } from './datagram-seal.js';
import type { UdpDestination, UdpSocket } from './udp-socket.js';
import { DEFAULT_SELECTION, type SelectablePath, type SelectionSettings } from '../selection/transport-selector.js';
import { endpointTakes, singleDatagramPayload } from './udp-sizes.js';

/** The payload of the PINGs that probe the path for transport 'auto' (their sequence tells them apart). */
const PROBE_PAYLOAD = Buffer.alloc(8);

/** How each (reliability, channel) arrived, as send options for a reply; built once, shared. */
const VIA: ReadonlyArray<ReadonlyArray<SendOptions>> = (() => {
  const table: SendOptions[][] = [];
  table[Reliability.UNRELIABLE] = Array.from({ length: 256 }, (_, channel) => ({ transport: 'udp', channel }));
  table[Reliability.RELIABLE_ORDERED] = Array.from({ length: 256 }, (_, channel) => ({ transport: 'udp', reliable: true, channel }));
  table[Reliability.RELIABLE_UNORDERED] = Array.from({ length: 256 }, (_, channel) => ({ transport: 'udp', reliable: true, ordered: false, channel }));
  return table;
})();

export const TOKEN_SIZE = 8;

/**
 * The socket hands over up to a thousand datagrams in one batch (recvmmsg, GRO). Acknowledging
 * only at the end of the turn would leave the sender without acks for all that time, its loss
 * timers firing and its window waiting; so within a batch what is due leaves every ACK_EVERY.
 * Each ack costs the receiver a system call and, on loopback, the wake-up of the sender, so acks
 * must not come much more often either. 128 is about eight per window of a sender moving 1 MB per
 * round trip; with much fewer, small messages were resent spuriously (bench/e2e/reliable-udp.mjs,
 * bench/RESULTS.md "Reliable UDP").
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
/** Encodes the frames that go outside the endpoint, flushed at once, so shared. */
const CONTROL = new FrameEncoder({ slabSize: 1024, copyThreshold: 256, sharedSlab: true });

export interface UdpTarget {
  address: string;
  port: number;
}

/**
 * Where a session's datagrams go now: an object read at each send (a server's Peer, whose
 * udpAddress path validation sets), rather than a closure per session.
 */
export interface UdpTargetSource {
  readonly udpAddress: UdpTarget | undefined;
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
  /**
   * Until the path is ready, unreliable messages wait like reliable ones (a client: what its
   * application sends after connect() must not be lost to the path's validation), rather than
   * being lost as datagrams may be (a server, which must not hold messages for every session
   * that never uses UDP). Default false.
   */
  holdUnreliable?: boolean;
  /** Seal every datagram (a TLS session): see the top of this file. Default: none. */
  sealing?: UdpSealing;
  /** transport 'auto' (ts/selection): how the path is probed and judged. Default: the options' defaults. */
  selection?: SelectionSettings;
}

/** A session's UDP statistics: its reliable endpoint's, and its sealing's when it seals. */
export interface UdpStats extends ReliableStats {
  sealing?: SealingStats;
}

/** What a datagram from an address that is not validated turned out to be (docs/PROTOCOL.md 4). */
export const Judged = { WELL_FORMED: 0, MALFORMED: 1, UNOPENED: 2, REPLAYED: 3 } as const;
export type JudgedValue = (typeof Judged)[keyof typeof Judged];

/** The smallest datagram size the reliable endpoint takes. */
const MIN_ENDPOINT_MTU = 128;

/** A message sent before the path was ready, waiting for it. */
interface HeldMessage {
  payload: Buffer;
  reliable: boolean;
  ordered: boolean;
  channel: number;
  flags: number;
}

/** What `held` is while nothing waits: never added to. */
const NO_HELD: HeldMessage[] = [];

export interface UdpSessionEvents {
  /** A message (a MESSAGE payload: prefix and body, or compressed when `flags` says so) arrived, the way `via` says. */
  message(payload: Buffer, via: SendOptions, flags: number): void;
  /** A PONG answered one of our PINGs (a client's announcement: the path is ready). */
  pong(): void;
  /** A PATH_CHALLENGE came, to be answered over TCP (a client; a server ignores them). */
  challenge(payload: Uint8Array): void;
  drain(): void;
  /**
   * The UDP path failed and is closed: HW_ERR_REASSEMBLY_TIMEOUT, a reliable message from the
   * peer stopped making progress (see ReliableEndpoint's 'error'); or sealing must stop
   * (docs/PROTOCOL.md 4.4: the integrity limit reached, or keys that cannot be derived). The
   * session must fail with it.
   */
  failed(error: HybridwireError): void;
}

export class UdpSession implements UdpPath, SelectablePath {
  /** Told the sequence of each PONG (transport 'auto' probes the path: ts/selection/udp-probe.ts). */
  probeAnswered: ((sequence: number) => void) | undefined;
  private endpoint: ReliableEndpoint | undefined;
  private closed = false;
  private receivedSinceFlush = 0;
  private bytesSinceFlush = 0;
  /** The last target seen and its parsed form: a new address object means a new destination. */
  private lastTarget: UdpTarget | undefined;
  private lastDestination: UdpDestination | undefined;
  private pathIsReady = false;
  private held: HeldMessage[] = NO_HELD;
  private heldBytes = 0;
  /** A send was held past half the bound: 'drain' is owed once the held messages are out. */
  private heldNeedDrain = false;
  /** A PING was answered in the current receive call: one PONG per datagram at most (4.2). */
  private answeredPing = false;
  /** Made on first use when the session seals, so that a session that never uses UDP derives no keys. */
  private seal: DatagramSeal | undefined;
  /** The endpoint's datagram sizes: the session's, less what sealing adds. */
  private readonly endpointMtu: number;
  private readonly endpointMaxMtu: number;

  constructor(
    private readonly socket: UdpSocket,
    readonly token: Buffer,
    private readonly target: UdpTargetSource,
    private readonly options: UdpSessionOptions,
    private readonly events: UdpSessionEvents,
  ) {
    const overhead = options.sealing === undefined ? 0 : SEAL_OVERHEAD;
    this.endpointMtu = Math.max(MIN_ENDPOINT_MTU, options.mtu - overhead);
    this.endpointMaxMtu = Math.max(this.endpointMtu, options.maxMtu - overhead);
  }

  send(prefix: Buffer, prefixLength: number, body: Uint8Array | string, reliable: boolean, ordered: boolean, channel: number, flags = 0): boolean {
    if (this.closed) throw new HybridwireError('HW_ERR_CONNECTION_CLOSED', 'the session is closed');
    if (!Number.isInteger(channel) || channel < 0 || channel > 255) {
      throw new HybridwireError('HW_ERR_INVALID_ARGUMENT', `channel must be an integer from 0 to 255, got ${String(channel)}`);
    }
    if (!this.pathIsReady) return this.hold(prefix, prefixLength, body, reliable, ordered, channel, flags);
    return this.ensureEndpoint().sendParts(prefix, prefixLength, body, { reliable, ordered, channel, flags });
  }

  /** Whether the path is ready: see the top of this file. */
  get ready(): boolean {
    return this.pathIsReady;
  }

  /** The path is ready (validated, or the server answered): what waited for it goes out. */
  pathReady(): void {
    if (this.pathIsReady || this.closed) return;
    this.pathIsReady = true;
    const held = this.held;
    if (held.length === 0) return;
    this.held = NO_HELD;
    this.heldBytes = 0;
    const endpoint = this.ensureEndpoint();
    // The endpoint takes them all: they are at most sendBufferBytes, and it queues as much again.
    let taken = true;
    for (const message of held) taken = endpoint.send(message.payload, message) && taken;
    if (this.heldNeedDrain && taken) this.events.drain();
    this.heldNeedDrain = false;
  }

  private hold(prefix: Buffer, prefixLength: number, body: Uint8Array | string, reliable: boolean, ordered: boolean, channel: number, flags: number): boolean {
    if (!reliable && this.options.holdUnreliable !== true) return true;
    const bodyLength = typeof body === 'string' ? Buffer.byteLength(body) : body.length;
    const size = prefixLength + bodyLength;
    const bound = this.options.sendBufferBytes;
    if (!endpointTakes(size, reliable, this.endpointMtu, this.options.sendBufferBytes, this.options.reassemblyBytes)) {
      throw new HybridwireError('HW_ERR_FRAME_TOO_LARGE', `a ${size}-byte message exceeds what the UDP send buffer or the peer's reassembly budget can hold`);
    }
    if (this.heldBytes + size > bound) {
      throw new HybridwireError('HW_ERR_SEND_QUEUE_FULL', `${this.heldBytes} bytes wait for the UDP path to be ready; udpSendBufferBytes is ${bound}`);
    }
    // A copy: the caller may reuse its buffers once send() returns.
    const payload = Buffer.allocUnsafe(size);
    prefix.copy(payload, 0, 0, prefixLength);
    if (typeof body === 'string') payload.write(body, prefixLength);
    else payload.set(body, prefixLength);
    if (this.held === NO_HELD) this.held = [];
    this.held.push({ payload, reliable, ordered, channel, flags });
    this.heldBytes += size;
    if (this.heldBytes < bound / 2) return true;
    this.heldNeedDrain = true;
    return false;
  }

  /** Feeds a datagram for this session, its token checked and removed (a sealed one is opened in place). */
  receive(datagram: Uint8Array): void {
    if (this.closed) return;
    const frames = this.options.sealing === undefined ? datagram : this.checkSealing(this.ensureSeal().openFrames(datagram, true));
    if (typeof frames !== 'number') this.receiveOpened(frames);
  }

  private receiveOpened(datagram: Uint8Array): void {
    this.answeredPing = false;
    // Until a message is sent or received, probes are answered without building the endpoint and
    // its buffers: an idle session that only announced its address stays cheap.
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
    if (this.options.sealing === undefined) return this.receiveOpenedRows(bytes, rows, from, to);
    const seal = this.ensureSeal();
    const next = this.checkSealing(seal.openRows(bytes, rows, from, to));
    // The rows of those that opened now describe them as unsealed datagrams.
    const end = from + seal.kept;
    for (let index = from; index < end && !this.closed; ) index = this.receiveOpenedRows(bytes, rows, index, end);
    return Math.max(next, from + 1);
  }

  /** receiveRows() of datagrams that are not sealed, or have been opened. */
  private receiveOpenedRows(bytes: Buffer, rows: Uint32Array, from: number, to: number): number {
    const endpoint = this.endpoint;
    // One PONG for the run at most, however many PINGs its datagrams carry (the endpoint's frame
    // rows do not say which datagram a frame came in).
    this.answeredPing = false;
    if (endpoint === undefined) {
      // `bytes` is lent, and the endpoint this may build could keep views of the datagram.
      const offset = rows[from * SOCKET_ROW_WIDTH + SocketRow.OFFSET]!;
      this.receiveOpened(Buffer.from(bytes.subarray(offset + TOKEN_SIZE, offset + rows[from * SOCKET_ROW_WIDTH + SocketRow.LENGTH]!)));
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


  /**
   * Handles a datagram of probes alone (PING, PONG, PATH_CHALLENGE): true when it is done with,
   * false when the endpoint must take it.
   */
  private answerProbes(datagram: Uint8Array): boolean {
    const count = decodeDatagram(PROBES, datagram);
    // A malformed datagram goes to the endpoint, which counts it in its drops; before the path is
    // ready it is just dropped, since an endpoint built then would start path MTU probes.
    if (count < 0) return !this.pathIsReady;
    for (let i = 0; i < count; i++) {
      const type = PROBES.type(i);
      if (type !== FrameType.PING && type !== FrameType.PONG && type !== FrameType.PATH_CHALLENGE) return false;
    }
    for (let i = 0; i < count; i++) this.onFrame(PROBES.type(i), PROBES.sequence(i), PROBES.payload(i));
    return true;
  }

  /** A frame that is not the endpoint's own. */
  private onFrame(type: number, sequence: number, payload: Uint8Array): void {
    if (type === FrameType.PING) {
      if (this.answeredPing) return;
      this.answeredPing = true;
      this.sendControl(FrameType.PONG, payload, sequence);
    } else if (type === FrameType.PONG) {
      this.events.pong();
      this.probeAnswered?.(sequence);
    } else if (type === FrameType.PATH_CHALLENGE) {
      this.events.challenge(payload);
    }
  }

  /** The largest message, prefix and body, that goes in one datagram unfragmented (at the base mtu). */
  get datagramPayload(): number {
    return singleDatagramPayload(this.endpointMtu);
  }

  get selection(): SelectionSettings {
    return this.options.selection ?? DEFAULT_SELECTION;
  }

  /** A PING for transport 'auto' to measure the path: outside the endpoint, never retransmitted. */
  sendProbe(sequence: number): void {
    this.sendControl(FrameType.PING, PROBE_PAYLOAD, sequence);
  }

  /** Sends the PATH_CHALLENGE `challenge` to `destination`, an address being validated. */
  sendChallenge(challenge: Uint8Array, destination: UdpDestination): void {
    if (this.closed) return;
    const datagram = this.controlDatagram(FrameType.PATH_CHALLENGE, challenge, 0);
    if (datagram !== undefined) this.socket.send(datagram, destination);
  }

  /** Sends a PING or PONG in a datagram of its own, outside the endpoint. */
  sendControl(type: number, payload: Uint8Array, sequence: number): void {
    // Until messages flow (an idle session only answers probes) the address is parsed for each
    // such datagram rather than kept: the parsed form costs about 300 bytes.
    const destination = this.endpoint !== undefined ? this.destination() : this.parse(this.target.udpAddress);
    if (this.closed || destination === undefined) return;
    const datagram = this.controlDatagram(type, payload, sequence);
    if (datagram !== undefined) this.socket.send(datagram, destination);
  }

  /** The token and one frame, sealed when the session seals; undefined when sealing has stopped. */
  private controlDatagram(type: number, payload: Uint8Array, sequence: number): Buffer | undefined {
    CONTROL.add(type, payload, 0, 0, sequence);
    const datagram = Buffer.concat([this.token, ...CONTROL.flush()]);
    return this.options.sealing === undefined ? datagram : this.checkSealing(this.ensureSeal().seal(datagram));
  }

  /**
   * Judges a datagram with this session's token from an address that is not validated, at
   * bytes[start, end) (token included; lent, and opened in place when sealed): nothing is
   * delivered and, when sealed, no record number counts as seen (docs/PROTOCOL.md 4, 4.4).
   */
  judge(bytes: Buffer, start: number, end: number, decode: (frames: Uint8Array) => boolean): JudgedValue {
    let frames: Uint8Array | number = bytes.subarray(start + TOKEN_SIZE, end);
    if (this.options.sealing !== undefined) frames = this.checkSealing(this.ensureSeal().openFrames(frames, false));
    if (typeof frames === 'number') return frames === OpenResult.REPLAYED ? Judged.REPLAYED : Judged.UNOPENED;
    return decode(frames) ? Judged.WELL_FORMED : Judged.MALFORMED;
  }

  /** Where datagrams go now, parsed once per address; undefined while the peer has none. */
  private destination(): UdpDestination | undefined {
    const target = this.target.udpAddress;
    if (target === undefined) return undefined;
    if (target !== this.lastTarget) {
      this.lastTarget = target;
      this.lastDestination = this.parse(target);
    }
    return this.lastDestination;
  }

  private parse(target: UdpTarget | undefined): UdpDestination | undefined {
    if (target === undefined) return undefined;
    try {
      return this.socket.destination(target.address, target.port);
    } catch {
      // Not an IP address: nothing can be sent there (and UDP is best effort beside TCP).
      return undefined;
    }
  }

  /** The endpoint's statistics (once it exists) with the sealing's; pathMtu is the datagram size on the wire. */
  stats(): UdpStats | undefined {
    const stats: UdpStats | undefined = this.endpoint?.stats();
    if (stats === undefined || this.options.sealing === undefined) return stats;
    stats.pathMtu += SEAL_OVERHEAD;
    stats.sealing = this.sealingStats();
    return stats;
  }

  /** The sealing's counters alone (undefined when the session does not seal), whether or not the endpoint exists. */
  sealingStats(): SealingStats | undefined {
    const sealing = this.options.sealing;
    if (sealing === undefined) return undefined;
    return this.seal?.stats() ?? { algorithm: sealing.algorithm, sealed: 0, opened: 0, unopened: 0, replayed: 0, sendEpoch: 0, receiveEpoch: 0 };
  }

  /** Sends what is queued, then stops; what waits for the path is dropped. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.held = NO_HELD;
    this.heldBytes = 0;
    if (this.endpoint) {
      this.endpoint.flush();
      this.endpoint.close();
    }
  }

  private ensureSeal(): DatagramSeal {
    this.seal ??= new DatagramSeal(this.token, this.options.sealing!);
    return this.seal;
  }

  /**
   * Passes `result` through, after a sealing call: if sealing cannot go on, nothing more is sent
   * or received and the session is told to close.
   */
  private checkSealing<T>(result: T): T {
    const failure = this.seal?.failure;
    if (failure !== undefined && !this.closed) {
      this.close();
      this.events.failed(failure);
    }
    return result;
  }

  /** Sends a flush of the endpoint, sealed when the session seals. */
  private sendDatagrams(slab: Buffer, offset: number, lengths: Uint32Array, count: number): void {
    const destination = this.destination();
    if (destination === undefined) return;
    if (this.options.sealing === undefined) {
      this.socket.sendBatch(slab, offset, lengths, count, destination);
      return;
    }
    const seal = this.ensureSeal();
    const sealed = this.checkSealing(seal.sealBatch(slab, offset, lengths, count));
    if (sealed !== undefined) this.socket.sendBatch(sealed, 0, seal.lengths, count, destination);
  }

  private ensureEndpoint(): ReliableEndpoint {
    if (this.endpoint) return this.endpoint;
    const options = this.options;
    const endpoint = new ReliableEndpoint({
      token: this.token,
      onDatagrams: (slab, offset, lengths, count) => this.sendDatagrams(slab, offset, lengths, count),
      mtu: this.endpointMtu,
      // Probes prove nothing if the kernel may fragment them.
      maxMtu: this.socket.dontFragment ? this.endpointMaxMtu : this.endpointMtu,
      wireOverhead: options.sealing === undefined ? 0 : SEAL_OVERHEAD,
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
    endpoint.on('message', (payload, channel, reliability, flags) => this.events.message(payload, VIA[reliability]![channel]!, flags));
    endpoint.on('frame', (type, _flags, _channel, sequence, payload) => this.onFrame(type, sequence, payload));
    endpoint.on('drain', () => this.events.drain());
    endpoint.on('error', (error) => this.events.failed(error));
    this.endpoint = endpoint;
    return endpoint;
  }
}
