/**
 * A hand-driven peer for integration tests: a raw TCP socket that writes frames (or any bytes) and
 * collects the frames the server sends back, so tests can break the protocol on purpose.
 */
import net from 'node:net';
import { FrameDecoder, FrameEncoder, FrameType, PROTOCOL_SEMVER } from '../../ts/index.js';

export interface ReceivedFrame {
  type: number;
  flags: number;
  sequence: number;
  payload: Buffer;
}

export class RawPeer {
  readonly frames: ReceivedFrame[] = [];
  readonly encoder = new FrameEncoder();
  private readonly decoder = new FrameDecoder();
  private waiters: Array<() => void> = [];
  closed = false;
  /** Set by acknowledgeAll(): every sequenced frame the server sends is acknowledged as it comes. */
  private autoAck = false;
  private sequencedReceived = 0;
  readonly closedPromise: Promise<void>;

  private constructor(readonly socket: net.Socket) {
    socket.on('data', (chunk) => {
      const count = this.decoder.push(chunk);
      for (let i = 0; i < count; i++) {
        const type = this.decoder.type(i);
        this.frames.push({ type, flags: this.decoder.flags(i), sequence: this.decoder.sequence(i), payload: Buffer.from(this.decoder.payload(i)) });
        if (type === FrameType.MESSAGE || type === FrameType.TYPE_DEF) this.sequencedReceived++;
      }
      if (this.autoAck && count > 0 && !this.socket.destroyed) this.sendFrame(FrameType.ACK, undefined, this.sequencedReceived);
      this.wake();
    });
    socket.on('error', () => {});
    this.closedPromise = new Promise((resolve) =>
      socket.on('close', () => {
        this.closed = true;
        this.wake();
        resolve();
      }),
    );
  }

  static async connect(port: number, host = '127.0.0.1'): Promise<RawPeer> {
    const socket = net.connect({ port, host });
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('error', reject);
    });
    return new RawPeer(socket);
  }

  sendFrame(type: number, payload?: Uint8Array, sequence = 0): void {
    for (const buffer of this.encoder.encode([{ type, sequence, ...(payload ? { payload } : {}) }])) this.socket.write(buffer);
  }

  sendJson(type: number, value: unknown, sequence = 0): void {
    this.sendFrame(type, Buffer.from(JSON.stringify(value)), sequence);
  }

  /** Waits for a frame of `type`, failing after `timeoutMs`. */
  async waitFor(type: number, timeoutMs = 5000): Promise<ReceivedFrame> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = this.frames.find((frame) => frame.type === type);
      if (found) return found;
      if (this.closed) throw new Error(`connection closed before a frame of type 0x${type.toString(16)} came`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no frame of type 0x${type.toString(16)} within ${timeoutMs} ms`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  async waitClosed(timeoutMs = 5000): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      this.closedPromise,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`socket still open after ${timeoutMs} ms`)), timeoutMs);
      }),
    ]).finally(() => clearTimeout(timer));
  }

  /** Runs the client side of the handshake; returns the parsed HELLO_ACK. */
  async handshake(overrides: Record<string, unknown> = {}): Promise<Record<string, unknown>> {
    this.sendJson(FrameType.HELLO, { version: PROTOCOL_SEMVER, features: ['json', 'udp'], mode: 'burst', maxPacketSize: 1 << 20, windowSize: 64, ...overrides });
    const ack = JSON.parse((await this.waitFor(FrameType.HELLO_ACK)).payload.toString()) as Record<string, unknown>;
    if (ack.accepted === true) this.sendJson(FrameType.HELLO_DONE, { sessionId: ack.sessionId });
    return ack;
  }

  /**
   * From now on, acknowledges the server's sequenced frames (MESSAGE, TYPE_DEF) as they arrive, so
   * that its delivery window never holds back what it has to send (docs/PROTOCOL.md, section 6).
   */
  acknowledgeAll(): void {
    this.autoAck = true;
    if (this.sequencedReceived > 0) this.sendFrame(FrameType.ACK, undefined, this.sequencedReceived);
  }

  /** Waits until `condition()` holds, checked whenever frames arrive; fails after `timeoutMs`. */
  async waitUntil(condition: () => boolean, timeoutMs: number, what: string): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!condition()) {
      if (this.closed) {
        const error = this.errorFrame();
        throw new Error(`connection closed before ${what}${error ? ` (ERROR ${error.code}: ${error.message})` : ''}`);
      }
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  errorFrame(): { code: string; message: string } | undefined {
    const frame = this.frames.find((f) => f.type === FrameType.ERROR);
    return frame ? (JSON.parse(frame.payload.toString()) as { code: string; message: string }) : undefined;
  }

  destroy(): void {
    this.socket.destroy();
  }

  private wake(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const wake of waiters) wake();
  }
}

/** Resolves with the first emission of `event`, or rejects after `timeoutMs`. */
export function nextEvent<T extends unknown[]>(emitter: NodeJS.EventEmitter, event: string, timeoutMs = 5000): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => {
      emitter.off(event, listener);
      reject(new Error(`no '${event}' event within ${timeoutMs} ms`));
    }, timeoutMs);
    const listener = (...args: unknown[]) => {
      clearTimeout(timer);
      resolve(args as T);
    };
    emitter.once(event, listener);
  });
}
