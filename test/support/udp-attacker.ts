/**
 * UDP tools for tests that attack a server's UDP path on 127.0.0.1, where another source port
 * stands in for another (spoofed or hostile) address:
 *
 * - UdpAttacker: a socket of its own that sends hand-built datagrams and counts every byte that
 *   comes back, with waits on what arrives and on the server falling quiet.
 * - SniffingRelay: a relay between a real client and the server that reads the session's token
 *   from the client's first datagram (what an on-path observer sees), and can move the client to
 *   a new source port (a NAT rebinding).
 * - validateUdpPath: makes a raw peer's UDP address the session's, whether the server learns it
 *   from the first datagram or asks for a PATH_CHALLENGE to be answered over TCP.
 */
import dgram from 'node:dgram';
import { once } from 'node:events';
import { FrameType } from '../../ts/index.js';
import type { RawPeer } from './raw-peer.js';
import { PATH_CHALLENGE, PATH_RESPONSE, datagram, parseFrames, type ParsedFrame } from './wire.js';

const LOOPBACK = '127.0.0.1';
/** As large as the kernel allows by default (net.core.rmem_max): a reflection must be counted whole. */
const SOCKET_BUFFER = 4 * 1024 * 1024;

export interface Arrival {
  datagram: Buffer;
  port: number;
  frames: ParsedFrame[];
}

export class UdpAttacker {
  readonly arrivals: Arrival[] = [];
  bytesReceived = 0;
  private waiters = new Set<() => void>();
  private closed = false;

  private constructor(readonly socket: dgram.Socket) {
    socket.on('message', (bytes, from) => {
      this.bytesReceived += bytes.length;
      this.arrivals.push({ datagram: bytes, port: from.port, frames: parseFrames(bytes) });
      for (const wake of [...this.waiters]) wake();
    });
    socket.on('error', () => {});
  }

  static async bind(): Promise<UdpAttacker> {
    const socket = dgram.createSocket('udp4');
    socket.bind(0, LOOPBACK);
    await once(socket, 'listening');
    socket.setRecvBufferSize(SOCKET_BUFFER);
    socket.setSendBufferSize(SOCKET_BUFFER);
    return new UdpAttacker(socket);
  }

  get port(): number {
    return this.socket.address().port;
  }

  /** Sends `bytes` to 127.0.0.1:`port`; resolves once the kernel has taken it. */
  send(bytes: Buffer, port: number): Promise<void> {
    return new Promise((resolve, reject) => this.socket.send(bytes, port, LOOPBACK, (error) => (error ? reject(error) : resolve())));
  }

  /** Every frame received so far, in order. */
  frames(): ParsedFrame[] {
    return this.arrivals.flatMap((arrival) => arrival.frames);
  }

  framesOfType(type: number): ParsedFrame[] {
    return this.frames().filter((frame) => frame.type === type);
  }

  /** Resolves with `find()` once it returns something; rejects after `timeoutMs`. */
  async waitFor<T>(find: () => T | undefined, timeoutMs: number, what: string): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = find();
      if (found !== undefined) return found;
      const left = deadline - Date.now();
      if (left <= 0 || this.closed) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what} on the attacker's UDP socket`);
      await this.nextArrival(left);
    }
  }

  /** The first frame of `type` received at or after arrival index `from`. */
  waitForFrame(type: number, timeoutMs: number, from = 0): Promise<ParsedFrame> {
    return this.waitFor(
      () => {
        for (let i = from; i < this.arrivals.length; i++) {
          const frame = this.arrivals[i]!.frames.find((f) => f.type === type);
          if (frame) return frame;
        }
        return undefined;
      },
      timeoutMs,
      `a frame of type 0x${type.toString(16)}`,
    );
  }

  /**
   * Resolves once nothing has arrived for `idleMs` (true), or when `maxMs` have passed without
   * such a pause (false): the bounded window in which a test counts what a server sends.
   */
  async quiet(idleMs: number, maxMs: number): Promise<boolean> {
    const deadline = Date.now() + maxMs;
    while (Date.now() < deadline && !this.closed) {
      const seen = this.arrivals.length;
      await this.nextArrival(idleMs);
      if (this.arrivals.length === seen) return true;
    }
    return false;
  }

  close(): Promise<void> {
    if (this.closed) return Promise.resolve();
    this.closed = true;
    for (const wake of [...this.waiters]) wake();
    return new Promise((resolve) => this.socket.close(() => resolve()));
  }

  private nextArrival(timeoutMs: number): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.waiters.delete(done);
        resolve();
      };
      const timer = setTimeout(done, timeoutMs);
      this.waiters.add(done);
    });
  }
}

/**
 * A relay in front of a server's UDP port: the client sends to `port`, the relay forwards from a
 * socket of its own (`sourcePort` is the address the server sees) and relays replies back.
 */
export class SniffingRelay {
  /** The token of the first datagram the client sent (8 bytes or more), once it came. */
  token: Buffer | undefined;
  readonly tokenSeen: Promise<Buffer>;
  datagramsToServer = 0;
  datagramsToClient = 0;
  private client: { address: string; port: number } | undefined;
  private back: dgram.Socket;
  private sawToken!: (token: Buffer) => void;
  private readonly retired: dgram.Socket[] = [];

  private constructor(
    private readonly front: dgram.Socket,
    back: dgram.Socket,
    private readonly serverPort: number,
  ) {
    this.tokenSeen = new Promise((resolve) => (this.sawToken = resolve));
    this.back = back;
    front.on('message', (bytes, from) => {
      this.client = { address: from.address, port: from.port };
      if (this.token === undefined && bytes.length >= 8) {
        this.token = Buffer.from(bytes.subarray(0, 8));
        this.sawToken(this.token);
      }
      this.datagramsToServer++;
      this.back.send(bytes, this.serverPort, LOOPBACK);
    });
    this.listenBack(back);
  }

  static async start(serverPort: number): Promise<SniffingRelay> {
    const front = await boundSocket();
    const back = await boundSocket();
    return new SniffingRelay(front, back, serverPort);
  }

  /** Where the client must send. */
  get port(): number {
    return this.front.address().port;
  }

  /** The source port the server sees the client's datagrams come from. */
  get sourcePort(): number {
    return this.back.address().port;
  }

  /**
   * Forwards from a new socket from now on, as a NAT that rebinds: the client's datagrams reach
   * the server from a new port. Replies to the old one are still relayed until close().
   */
  async rebind(): Promise<void> {
    this.retired.push(this.back);
    this.back = await boundSocket();
    this.listenBack(this.back);
  }

  async close(): Promise<void> {
    await Promise.all([this.front, this.back, ...this.retired].map((socket) => new Promise<void>((resolve) => socket.close(() => resolve()))));
  }

  private listenBack(socket: dgram.Socket): void {
    socket.on('message', (bytes) => {
      if (this.client === undefined) return;
      this.datagramsToClient++;
      this.front.send(bytes, this.client.port, this.client.address);
    });
  }
}

async function boundSocket(): Promise<dgram.Socket> {
  const socket = dgram.createSocket('udp4');
  socket.on('error', () => {});
  socket.bind(0, LOOPBACK);
  await once(socket, 'listening');
  socket.setRecvBufferSize(SOCKET_BUFFER);
  socket.setSendBufferSize(SOCKET_BUFFER);
  return socket;
}

/**
 * Makes `udp`'s address the UDP path of `peer`'s session: a PING on the token from it; a server
 * that answers with a PATH_CHALLENGE gets its 8 bytes back in a PATH_RESPONSE over TCP; done when
 * a PONG arrives. Waits first for the server's confirmation of the session (its first ACK).
 */
export async function validateUdpPath(peer: RawPeer, udp: UdpAttacker, token: Buffer, serverUdpPort: number, timeoutMs = 5000): Promise<void> {
  await peer.waitFor(FrameType.ACK, timeoutMs);
  const deadline = Date.now() + timeoutMs;
  for (let attempt = 1; Date.now() < deadline; attempt++) {
    const from = udp.arrivals.length;
    await udp.send(datagram(token, [{ type: FrameType.PING, sequence: attempt, payload: Buffer.alloc(8) }]), serverUdpPort);
    const answer = await udp
      .waitFor(
        () => udp.arrivals.slice(from).flatMap((arrival) => arrival.frames).find((frame) => frame.type === FrameType.PONG || frame.type === PATH_CHALLENGE),
        Math.min(300, Math.max(1, deadline - Date.now())),
        'a PONG or PATH_CHALLENGE',
      )
      .catch(() => undefined);
    if (answer === undefined) continue;
    if (answer.type === FrameType.PONG) return;
    const answered = udp.arrivals.length;
    peer.sendFrame(PATH_RESPONSE, Buffer.from(answer.payload));
    const pong = await udp.waitForFrame(FrameType.PONG, Math.min(1000, Math.max(1, deadline - Date.now())), answered).catch(() => undefined);
    if (pong !== undefined) return;
  }
  throw new Error(`the server did not take 127.0.0.1:${udp.port} as the session's UDP address within ${timeoutMs} ms`);
}
