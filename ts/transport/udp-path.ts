/**
 * The UDP side of one session: datagrams are the 8-byte session token followed by frames.
 * Messages are framed as MESSAGE frames and coalesced into datagrams of at most `mtu` bytes,
 * flushed at the end of the current event-loop turn.
 */
import type { Socket as DgramSocket } from 'node:dgram';
import { FrameEncoder } from '../codec/frame-encoder.js';
import { FrameType, HEADER_SIZE } from '../codec/frame.js';
import { HybridwireError } from '../errors.js';
import type { UdpPath } from '../session/connection.js';

export const TOKEN_SIZE = 8;

export interface UdpTarget {
  address: string;
  port: number;
}

export class UnreliableUdpPath implements UdpPath {
  private readonly encoder: FrameEncoder;
  private frames: Buffer[] = [];
  private flushScheduled = false;
  private readonly flushLater = () => this.flush();
  private sequence = 0;
  private closed = false;
  datagramsOut = 0;
  bytesOut = 0;

  constructor(
    private readonly socket: DgramSocket,
    private readonly token: Buffer,
    private readonly target: () => UdpTarget | undefined,
    private readonly mtu: number,
  ) {
    this.encoder = new FrameEncoder({ copyThreshold: 65_000, slabSize: 128 * 1024 });
  }

  send(prefix: Buffer, prefixLength: number, body: Uint8Array | string, reliable: boolean): boolean {
    if (reliable) {
      throw new HybridwireError('HW_ERR_UDP_UNAVAILABLE', 'reliable UDP is not available on this session');
    }
    const bodyLength = typeof body === 'string' ? Buffer.byteLength(body) : body.length;
    if (HEADER_SIZE + prefixLength + bodyLength > 65_507 - TOKEN_SIZE) {
      throw new HybridwireError('HW_ERR_FRAME_TOO_LARGE', `a ${bodyLength}-byte message does not fit in one datagram; send it over TCP or reliably`);
    }
    this.encoder.addPrefixed(FrameType.MESSAGE, prefix, prefixLength, body, 0, 0, this.sequence++);
    this.frames.push(this.encoder.encodeToBuffer([]));
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      queueMicrotask(this.flushLater);
    }
    return true;
  }

  /** Sends a control frame (PING/PONG) in a datagram of its own, at once. */
  sendControl(type: number, payload: Uint8Array, sequence: number): void {
    this.encoder.add(type, payload, 0, 0, sequence);
    this.transmit([this.encoder.encodeToBuffer([])]);
  }

  flush(): void {
    this.flushScheduled = false;
    if (this.frames.length === 0) return;
    const frames = this.frames;
    this.frames = [];
    let batch: Buffer[] = [];
    let size = 0;
    for (const frame of frames) {
      if (size > 0 && size + frame.length > this.mtu) {
        this.transmit(batch);
        batch = [];
        size = 0;
      }
      batch.push(frame);
      size += frame.length;
    }
    if (batch.length > 0) this.transmit(batch);
  }

  /** Sends what is queued, then stops: later sends are dropped. */
  close(): void {
    if (this.closed) return;
    this.flush();
    this.closed = true;
  }

  private transmit(frames: Buffer[]): void {
    const target = this.target();
    if (this.closed || target === undefined) return;
    const datagram = [this.token, ...frames];
    let bytes = 0;
    for (const part of datagram) bytes += part.length;
    this.datagramsOut++;
    this.bytesOut += bytes;
    this.socket.send(datagram, target.port, target.address);
  }
}
