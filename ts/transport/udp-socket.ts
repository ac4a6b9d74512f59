/**
 * The sessions' UDP socket: native/binding/udp-socket-binding.cc on Node's own event loop.
 *
 * It does what a `dgram` socket does for the UDP path, in batches: datagrams arrive through
 * recvmmsg, up to 16 per system call and one JS call per batch; a flush of the reliable endpoint
 * leaves with one sendmmsg. On Linux, runs of equal-sized datagrams go out as one UDP GSO message
 * and come in through UDP GRO as one buffer that is split here, so the kernel handles a run once.
 * What the kernel cannot take at once is queued natively up to `queueBytes`, then dropped and
 * counted, as a full socket buffer drops datagrams.
 *
 * A batch listener ({@link BatchListener}) is lent the socket's receive area itself: no copy, and
 * valid only during the call. A datagram listener gets each batch copied into a Buffer of its own,
 * so it may keep views.
 */
import { lookup } from 'node:dns/promises';
import net from 'node:net';
import { native, type NativeUdpSocket } from '../native/addon.js';
import { SOCKET_ROW_WIDTH, SOCKET_ROWS, SOCKET_STAT_COUNT, SocketRow, SocketStat } from '../native/layouts.js';

/**
 * Called with each datagram received: its bytes are `bytes[start, end)` (the batch's Buffer, which
 * is never written again, so views of it may be kept), then the sender's address and port. The
 * listener makes the one view it needs (a session's, past the token) rather than getting one more.
 */
export type DatagramListener = (bytes: Buffer, start: number, end: number, address: string, port: number) => void;

/**
 * Called with each batch instead, when given: `count` datagrams in socket rows
 * (ts/native/layouts.ts), datagram i being `bytes[offset, offset + length)` from port `port` of
 * `senders[sender]`, those four read from row i (the same sender index means the same address
 * within a batch). `bytes` is lent: it is the receive area,
 * rewritten by the next read, so nothing may keep it or a view of it past the call (copy what is
 * kept). `rows` is reused for the next batch.
 */
export type BatchListener = (bytes: Buffer, rows: Uint32Array, count: number, senders: string[]) => void;

/**
 * Walks a batch of `count` datagrams: `step(index)` handles datagram `index` (and perhaps more of
 * a run) and returns the index of the next one to handle. A step that throws does not cost the
 * rest of the batch: the first error is rethrown at the end and reaches 'uncaughtException' as a
 * dgram listener's would.
 */
export function walkBatch(count: number, step: (index: number) => number): void {
  let failure: unknown;
  let failed = false;
  let index = 0;
  while (index < count) {
    const at = index;
    index = at + 1;
    try {
      index = Math.max(step(at), at + 1);
    } catch (error) {
      if (!failed) failure = error;
      failed = true;
    }
  }
  if (failed) throw failure;
}

/** A parsed destination for {@link UdpSocket.sendBatch}; build it once per address. */
export type UdpDestination = Buffer & { readonly __destination: true };

export interface UdpSocketOptions {
  type: 'udp4' | 'udp6';
  /** SO_RCVBUF and SO_SNDBUF; 0 keeps the system's defaults. */
  bufferBytes: number;
  /** Bytes of datagrams queued while the kernel's send buffer is full, then dropped. */
  queueBytes: number;
  onDatagram: DatagramListener;
  /** Takes whole batches instead of onDatagram (which is then not called). */
  onBatch?: BatchListener;
}

export interface UdpSocketStats {
  datagramsSent: number;
  datagramsReceived: number;
  /** Datagrams the kernel could not take at once, sent later from the queue. */
  queued: number;
  /** Datagrams dropped because the queue was full. */
  queueDrops: number;
  sendErrors: number;
  receiveErrors: number;
}

const ONE = new Uint32Array(1);
/**
 * The rows of a received batch, shared by every socket of the process (16 KiB once rather than
 * per socket): a batch is read in full inside its own callback, before any other can arrive.
 */
const ROWS_ARRAY = new Uint32Array(SOCKET_ROW_WIDTH * SOCKET_ROWS);

export class UdpSocket {
  private readonly handle: NativeUdpSocket;
  private readonly statValues = new Float64Array(SOCKET_STAT_COUNT);
  private closed = false;

  constructor(private readonly options: UdpSocketOptions) {
    const rows = ROWS_ARRAY;
    const onDatagram = options.onDatagram;
    const onBatch = options.onBatch;
    this.handle = new native.UdpSocket(options.type === 'udp6', rows, options.queueBytes, (buffer: Buffer, count: number, senders: string[]) => {
      if (onBatch !== undefined) {
        onBatch(buffer, rows, count, senders);
        return;
      }
      // The buffer is lent: the datagrams are copied back to back into one of their own.
      let total = 0;
      for (let i = 0, base = 0; i < count; i++, base += SOCKET_ROW_WIDTH) total += rows[base + SocketRow.LENGTH]!;
      const own = Buffer.allocUnsafeSlow(total);
      for (let i = 0, base = 0, offset = 0; i < count; i++, base += SOCKET_ROW_WIDTH) {
        const start = rows[base + SocketRow.OFFSET]!;
        const length = rows[base + SocketRow.LENGTH]!;
        buffer.copy(own, offset, start, start + length);
        rows[base + SocketRow.OFFSET] = offset;
        offset += length;
      }
      walkBatch(count, (i) => {
        const base = i * SOCKET_ROW_WIDTH;
        const start = rows[base + SocketRow.OFFSET]!;
        onDatagram(own, start, start + rows[base + SocketRow.LENGTH]!, senders[rows[base + SocketRow.SENDER]!]!, rows[base + SocketRow.PORT]!);
        return i + 1;
      });
    });
  }

  /** Binds (to every address of the family when `host` is undefined) and starts receiving. */
  async bind(port: number, host?: string): Promise<number> {
    const family = this.options.type === 'udp6' ? 6 : 4;
    const address = host === undefined ? (family === 6 ? '::' : '0.0.0.0') : net.isIP(host) ? host : (await lookup(host, { family })).address;
    try {
      this.handle.bind(address, port);
    } catch (cause) {
      // Shaped like Node's own socket errors: `bind EADDRINUSE 127.0.0.1:4000`, with code,
      // syscall, address and port.
      const code = (cause as NodeJS.ErrnoException).code ?? 'EINVAL';
      const shown = address.includes(':') ? `[${address}]` : address;
      throw Object.assign(new Error(`bind ${code} ${shown}:${port}: ${(cause as Error).message}`, { cause }), {
        code,
        syscall: 'bind',
        address,
        port,
      });
    }
    if (this.options.bufferBytes > 0) this.handle.setBufferSizes(this.options.bufferBytes, this.options.bufferBytes);
    this.handle.start();
    return this.handle.localPort();
  }

  /** Limits the socket to one peer: only its datagrams arrive, and sends need no destination. */
  connect(address: string, port: number): void {
    this.handle.connect(address, port);
  }

  /** Whether datagrams leave unfragmented (Linux): path MTU discovery needs it. */
  get dontFragment(): boolean {
    return this.handle.dontFragment();
  }

  get port(): number {
    return this.handle.localPort();
  }

  /** Parses an IP address and port into a destination for the send methods. */
  destination(address: string, port: number): UdpDestination {
    return this.handle.target(address, port) as UdpDestination;
  }

  /** Sends `count` datagrams laid back to back in `slab` from `offset`, lengths in `lengths`. */
  sendBatch(slab: Uint8Array, offset: number, lengths: Uint32Array, count: number, destination: UdpDestination | undefined): void {
    if (this.closed) return;
    this.handle.sendBatch(slab, offset, lengths, count, destination);
  }

  /** Sends one datagram. */
  send(datagram: Uint8Array, destination: UdpDestination | undefined): void {
    if (this.closed) return;
    ONE[0] = datagram.length;
    this.handle.sendBatch(datagram, 0, ONE, 1, destination);
  }

  stats(): UdpSocketStats {
    const values = this.statValues;
    this.handle.stats(values);
    return {
      datagramsSent: values[SocketStat.DATAGRAMS_SENT]!,
      datagramsReceived: values[SocketStat.DATAGRAMS_RECEIVED]!,
      queued: values[SocketStat.QUEUED]!,
      queueDrops: values[SocketStat.QUEUE_DROPS]!,
      sendErrors: values[SocketStat.SEND_ERRORS]!,
      receiveErrors: values[SocketStat.RECEIVE_ERRORS]!,
    };
  }

  unref(): void {
    this.handle.unref();
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.handle.close();
  }
}
