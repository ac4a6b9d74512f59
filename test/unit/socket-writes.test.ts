import { describe, expect, it } from 'vitest';
import type { Socket } from 'node:net';
import { GATHERED, writeBuffers, writeGathered } from '../../ts/session/socket-writes.js';

/** A socket that records its writes and corks, and says its buffer is full after `room` writes. */
class RecordingSocket {
  readonly calls: string[] = [];
  readonly written: Buffer[] = [];
  /** Set to stand for a TLS socket. */
  encrypted: boolean | undefined;
  constructor(private room = Infinity) {}
  write(chunk: Buffer): boolean {
    this.calls.push(`write ${chunk.length}`);
    this.written.push(chunk);
    return --this.room > 0;
  }
  cork(): void {
    this.calls.push('cork');
  }
  uncork(): void {
    this.calls.push('uncork');
  }
  asSocket(): Socket {
    return this as unknown as Socket;
  }
}

const bytes = (length: number, fill: number) => Buffer.alloc(length, fill);

describe('writeBuffers', () => {
  it('writes one buffer as it is, joins a few small ones into one write, and corks more or larger ones', () => {
    const counters = { bytesOut: 0 };
    const one = new RecordingSocket();
    const only = bytes(10, 1);
    expect(writeBuffers(one.asSocket(), [only], 1, counters)).toBe(true);
    expect(one.written[0]).toBe(only);

    const few = new RecordingSocket();
    expect(writeBuffers(few.asSocket(), [bytes(10, 1), bytes(20, 2), bytes(30, 3), bytes(9, 9)], 3, counters)).toBe(true);
    expect(few.calls).toEqual(['write 60']);
    expect(few.written[0]).toEqual(Buffer.concat([bytes(10, 1), bytes(20, 2), bytes(30, 3)]));

    const large = new RecordingSocket();
    writeBuffers(large.asSocket(), [bytes(3000, 1), bytes(3000, 2)], 2, counters);
    expect(large.calls).toEqual(['cork', 'write 3000', 'write 3000', 'uncork']);
    const many = new RecordingSocket();
    writeBuffers(many.asSocket(), [1, 2, 3, 4, 5].map((n) => bytes(1, n)), 5, counters);
    expect(many.calls).toEqual(['cork', 'write 1', 'write 1', 'write 1', 'write 1', 'write 1', 'uncork']);
    expect(counters.bytesOut).toBe(10 + 60 + 6000 + 5);
  });

  it('joins every flush into one write on a TLS socket (node:tls would copy a writev into one anyway)', () => {
    const counters = { bytesOut: 0 };
    const tls = new RecordingSocket();
    tls.encrypted = true;
    const buffers = [bytes(30_000, 1), bytes(40_000, 2), bytes(5, 3)];
    writeBuffers(tls.asSocket(), buffers, 3, counters);
    expect(tls.calls).toEqual(['write 70005']);
    expect(tls.written[0]).toEqual(Buffer.concat(buffers));
    const one = bytes(100_000, 4);
    writeBuffers(tls.asSocket(), [one], 1, counters);
    expect(tls.written[1]).toBe(one);
  });

  it("returns what the socket's last write returned", () => {
    const counters = { bytesOut: 0 };
    expect(writeBuffers(new RecordingSocket(1).asSocket(), [bytes(10, 1)], 1, counters)).toBe(false);
    expect(writeBuffers(new RecordingSocket(1).asSocket(), [bytes(5000, 1), bytes(5000, 2)], 2, counters)).toBe(false);
    expect(writeBuffers(new RecordingSocket(2).asSocket(), [bytes(10, 1), bytes(10, 2)], 2, counters)).toBe(true);
  });

  it('writeGathered() writes GATHERED[0, count) and lets go of those buffers', () => {
    const socket = new RecordingSocket();
    GATHERED[0] = bytes(5000, 1);
    GATHERED[1] = bytes(5000, 2);
    expect(writeGathered(socket.asSocket(), 2, { bytesOut: 0 })).toBe(true);
    expect(socket.written.map((buffer) => buffer[0])).toEqual([1, 2]);
    expect(GATHERED.slice(0, 2).map((buffer) => buffer.length)).toEqual([0, 0]);
  });
});
