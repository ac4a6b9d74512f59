/**
 * A stand-in for the net.Socket a session writes to, for unit tests of the send and receive paths:
 * it keeps what is written and decodes it into frames on request.
 */
import type { Socket } from 'node:net';
import { FrameDecoder } from '../../ts/codec/frame-decoder.js';
import { FrameFlag, FrameType } from '../../ts/codec/frame.js';
import { newMessageHeader, readMessageHeader, type MessageHeader } from '../../ts/session/message.js';

export interface WrittenFrame {
  type: number;
  flags: number;
  sequence: number;
  payload: Buffer;
}

export class FakeSocket {
  destroyed = false;
  writableLength = 0;
  /** write() returns false, as a socket's does once its buffer is past its high-water mark. */
  full = false;
  readonly writes: Buffer[] = [];
  paused = false;
  private readonly decoder = new FrameDecoder();

  write(chunk: Uint8Array): boolean {
    this.writes.push(Buffer.from(chunk));
    return !this.full;
  }

  cork(): void {}
  uncork(): void {}

  pause(): void {
    this.paused = true;
  }

  resume(): void {
    this.paused = false;
  }

  asSocket(): Socket {
    return this as unknown as Socket;
  }

  /** The frames written since the last call. */
  takeFrames(): WrittenFrame[] {
    const frames: WrittenFrame[] = [];
    for (const chunk of this.writes.splice(0)) {
      const count = this.decoder.push(chunk);
      for (let i = 0; i < count; i++) {
        frames.push({ type: this.decoder.type(i), flags: this.decoder.flags(i), sequence: this.decoder.sequence(i), payload: Buffer.from(this.decoder.payload(i)) });
      }
    }
    return frames;
  }
}

/** The messages in a MESSAGE frame (one, or the entries of a BATCH), each as its parsed prefix and body. */
export function messagesOf(frame: WrittenFrame): Array<{ header: MessageHeader; body: Buffer }> {
  if (frame.type !== FrameType.MESSAGE) throw new Error(`frame type 0x${frame.type.toString(16)} is not MESSAGE`);
  const entries: Buffer[] = [];
  if ((frame.flags & FrameFlag.BATCH) !== 0) {
    for (let at = 0; at < frame.payload.length; ) {
      const length = frame.payload.readUInt32LE(at);
      entries.push(frame.payload.subarray(at + 4, at + 4 + length));
      at += 4 + length;
    }
  } else {
    entries.push(frame.payload);
  }
  return entries.map((entry) => {
    const header = readMessageHeader(entry, 0, entry.length, newMessageHeader());
    return { header: { ...header }, body: entry.subarray(header.bodyOffset) };
  });
}
