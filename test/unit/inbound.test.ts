import { describe, expect, it } from 'vitest';
import type { FrameDecoder } from '../../ts/codec/frame-decoder.js';
import { FrameEncoder, type FrameSpec } from '../../ts/codec/frame-encoder.js';
import { FrameFlag, FrameType } from '../../ts/codec/frame.js';
import type { HybridwireError } from '../../ts/errors.js';
import { HandlerTable } from '../../ts/api/handler-table.js';
import { DeliveryWindow } from '../../ts/session/delivery-window.js';
import { Dispatcher, type DispatchHost, type MessageInfo } from '../../ts/session/dispatch.js';
import { Inbound, type InboundHost } from '../../ts/session/inbound.js';
import { Encoding, INLINE_TYPE, MessageKind, encodeTypeDef, writeMessagePrefix, type Payload } from '../../ts/session/message.js';
import { Outbound } from '../../ts/session/outbound.js';
import { newSessionCounters } from '../../ts/session/session-stats.js';
import type { SessionState } from '../../ts/session/connection.js';
import { FakeSocket, messagesOf } from '../support/fake-socket.js';

const HELLO_LIMIT = 8192;

class Host implements InboundHost, DispatchHost {
  state: SessionState = 'handshake';
  failed = false;
  features: ReadonlySet<string> = new Set();
  readonly failures: string[] = [];
  readonly handshakes: number[] = [];
  readonly controls: number[] = [];
  readonly messages: Array<[string, Payload]> = [];
  /** What a HELLO_DONE does to the session (the server opens it). */
  onHandshake: (type: number) => void = () => {};
  handshakeFrame(type: number): void {
    this.handshakes.push(type);
    this.onHandshake(type);
  }
  /** Set to define aliases as the session does with the TYPE_DEF frames it is given. */
  dispatch: Dispatcher | undefined;
  controlFrame(decoder: FrameDecoder, i: number): void {
    this.controls.push(decoder.type(i));
    if (decoder.type(i) === FrameType.TYPE_DEF) this.dispatch?.defineAlias(decoder.payload(i));
  }
  fail(error: HybridwireError): void {
    this.failed = true;
    this.failures.push(error.code);
  }
  unhandledMessage(type: string, value: Payload, _info: MessageInfo): void {
    this.messages.push([type, value]);
  }
  /** Reading held for frames that wait (true) or released (false), in order. */
  readonly holds: boolean[] = [];
  holdReading(held: boolean): void {
    this.holds.push(held);
  }
  /** What the session does when handlers are few enough again: the receive path goes on. */
  onHandlersResumed: () => void = () => {};
  readonly pauses: boolean[] = [];
  reportError(): void {}
  pauseForHandlers(paused: boolean): void {
    this.pauses.push(paused);
    if (!paused) this.onHandlersResumed();
  }
  handlerSettled(): void {}
}

function setup(maxFrameSize = 1 << 20, maxPendingHandlers = 1024) {
  const socket = new FakeSocket();
  const counters = newSessionCounters();
  const limits = { maxFrameSize, highWaterMark: 1 << 20, maxQueueBytes: 4 << 20, sendStallTimeoutMs: 30_000, maxPendingRequests: 16, maxPendingHandlers, maxAliasBytes: 65_536 };
  const outbound = new Outbound(socket.asSocket(), limits, counters);
  const host = new Host();
  const handlers = new HandlerTable();
  const dispatch = new Dispatcher(host, handlers, outbound, counters, limits, undefined);
  const inbound = new Inbound(host, dispatch, outbound, limits);
  host.onHandlersResumed = () => inbound.resume();
  /** Opens the session as the server does on HELLO_DONE. */
  const open = () => {
    host.state = 'open';
    const window = new DeliveryWindow(64, 64);
    outbound.open(window, undefined);
    inbound.open(window);
  };
  return { socket, host, inbound, open, handlers, outbound, dispatch };
}

function frames(specs: FrameSpec[]): Buffer {
  return Buffer.concat(new FrameEncoder({ maxFrameSize: 1 << 20 }).encode(specs));
}

/** A frame header alone, announcing `length` bytes of payload. */
function headerOnly(type: number, length: number): Buffer {
  const header = frames([{ type, payload: Buffer.alloc(1) }]).subarray(0, 16);
  header.writeUInt32LE(length, 8);
  return header;
}

/** A one-way binary message that names its type inline. */
function binaryMessage(type: string, body: Buffer): Buffer {
  const prefix = Buffer.alloc(8 + 1 + 255);
  const length = writeMessagePrefix(prefix, INLINE_TYPE, Encoding.BINARY, MessageKind.MESSAGE, 0, type);
  return Buffer.concat([prefix.subarray(0, length), body]);
}

describe('Inbound: the frame limit before the session opens', () => {
  it('refuses a header announcing more than the limit at once, before its payload arrives', () => {
    const { host, inbound } = setup();
    inbound.limitFramesUntilOpen(HELLO_LIMIT);
    inbound.push(headerOnly(FrameType.HELLO, HELLO_LIMIT + 1));
    expect(host.failures).toEqual(['HW_ERR_FRAME_TOO_LARGE']);
  });

  it('takes a frame of exactly the limit, and a header split across chunks is judged when complete', () => {
    const { host, inbound } = setup();
    inbound.limitFramesUntilOpen(HELLO_LIMIT);
    inbound.push(frames([{ type: FrameType.HELLO, payload: Buffer.alloc(HELLO_LIMIT, 0x20) }]));
    expect(host.handshakes).toEqual([FrameType.HELLO]);
    const split = headerOnly(FrameType.HELLO_DONE, HELLO_LIMIT + 1);
    inbound.push(split.subarray(0, 10));
    expect(host.failures).toEqual([]);
    inbound.push(split.subarray(10));
    expect(host.failures).toEqual(['HW_ERR_FRAME_TOO_LARGE']);
  });

  it('a larger frame after the HELLO_DONE that opens the session, in the same chunk, is decoded under the open limit', () => {
    const { host, inbound, open } = setup();
    inbound.limitFramesUntilOpen(HELLO_LIMIT);
    host.onHandshake = (type) => {
      if (type === FrameType.HELLO_DONE) open();
    };
    const body = Buffer.alloc(20_000, 0x61);
    const chunk = frames([
      { type: FrameType.HELLO_DONE, payload: Buffer.from('{}') },
      { type: FrameType.PING, sequence: 1 },
      { type: FrameType.MESSAGE, sequence: 0, payload: binaryMessage('big', body) },
      { type: FrameType.PING, sequence: 2 },
    ]);
    inbound.push(chunk);
    expect(host.failures).toEqual([]);
    expect(host.handshakes).toEqual([FrameType.HELLO_DONE]);
    expect(host.controls).toEqual([FrameType.PING, FrameType.PING]);
    expect(host.messages.map(([type, value]) => [type, Buffer.from(value as Uint8Array).equals(body)])).toEqual([['big', true]]);
  });

  it('a larger frame whose body is still to come after the HELLO_DONE is taken once it is complete', () => {
    const { host, inbound, open } = setup();
    inbound.limitFramesUntilOpen(HELLO_LIMIT);
    host.onHandshake = (type) => {
      if (type === FrameType.HELLO_DONE) open();
    };
    const chunk = frames([
      { type: FrameType.HELLO_DONE, payload: Buffer.from('{}') },
      { type: FrameType.MESSAGE, sequence: 0, flags: FrameFlag.BATCH, payload: Buffer.alloc(0) },
      { type: FrameType.PING, sequence: 1, payload: Buffer.alloc(HELLO_LIMIT * 2) },
    ]);
    inbound.push(chunk.subarray(0, chunk.length - 100));
    expect(host.failures).toEqual([]);
    expect(host.controls).toEqual([]);
    inbound.push(chunk.subarray(chunk.length - 100));
    expect(host.failures).toEqual([]);
    expect(host.controls).toEqual([FrameType.PING]);
  });

  it('a frame over the limit that does not follow an opening HELLO_DONE fails the session', () => {
    const { host, inbound } = setup();
    inbound.limitFramesUntilOpen(HELLO_LIMIT);
    inbound.push(frames([
      { type: FrameType.HELLO, payload: Buffer.from('{}') },
      { type: FrameType.HELLO_DONE, payload: Buffer.alloc(HELLO_LIMIT + 1) },
    ]));
    expect(host.handshakes).toEqual([FrameType.HELLO]);
    expect(host.failures).toEqual(['HW_ERR_FRAME_TOO_LARGE']);
  });
});

describe('Inbound: sequenced frames', () => {
  it('refuses a frame out of sequence and a peer past the window', () => {
    const { host, inbound, open } = setup();
    open();
    inbound.push(frames([{ type: FrameType.TYPE_DEF, sequence: 1, payload: encodeTypeDef(1, 'x') }]));
    expect(host.failures).toEqual(['HW_ERR_SEQUENCE']);

    const second = setup();
    second.open();
    const flood = Array.from({ length: 65 }, (_, sequence): FrameSpec => ({ type: FrameType.MESSAGE, sequence, flags: FrameFlag.BATCH, payload: Buffer.alloc(0) }));
    second.inbound.push(frames(flood));
    expect(second.host.failures).toEqual(['HW_ERR_WINDOW_OVERFLOW']);
  });
});

describe('Inbound: the handler limit', () => {
  /** A binary request of alias 1 with id `id`, as one BATCH entry or a frame's payload. */
  function request(id: number): Buffer {
    const prefix = Buffer.alloc(8);
    writeMessagePrefix(prefix, 1, Encoding.BINARY, MessageKind.REQUEST, id, undefined);
    return prefix;
  }

  function batch(entries: Buffer[]): Buffer {
    return Buffer.concat(entries.flatMap((entry) => {
      const length = Buffer.alloc(4);
      length.writeUInt32LE(entry.length, 0);
      return [length, entry];
    }));
  }

  it('stops in the middle of a BATCH frame at maxPendingHandlers, acknowledges only what came before, and goes on in order as handlers finish', async () => {
    const { host, inbound, open, handlers, outbound, socket, dispatch } = setup(1 << 20, 2);
    host.dispatch = dispatch;
    open();
    const started: number[] = [];
    const finish: Array<() => void> = [];
    handlers.set('slow', (_payload: Uint8Array, _context: unknown, info: MessageInfo) => {
      started.push(info.requestId!);
      return new Promise<string>((resolve) => finish.push(() => resolve(`done ${info.requestId}`)));
    });
    inbound.push(frames([
      { type: FrameType.TYPE_DEF, sequence: 0, payload: encodeTypeDef(1, 'slow') },
      { type: FrameType.MESSAGE, sequence: 1, flags: FrameFlag.BATCH, payload: batch([1, 2, 3, 4, 5].map(request)) },
      { type: FrameType.PING, sequence: 9 },
    ]));
    expect(started).toEqual([1, 2]);
    expect(host.controls).toEqual([FrameType.TYPE_DEF]);
    expect(host.holds).toEqual([true]);
    expect(inbound.waiting).toBe(true);
    // An ACK now says 1: the BATCH frame (sequence 1) is not processed yet.
    expect(inbound.window.nextExpected).toBe(1);

    // Each handler that finishes lets one more start (the limit is 2; dispatch resumes at 1).
    const settle = () => new Promise((resolve) => setImmediate(resolve));
    for (let done = 0; done < 5; done++) {
      finish[done]!();
      await settle();
    }
    expect(started).toEqual([1, 2, 3, 4, 5]);
    expect(host.controls).toEqual([FrameType.TYPE_DEF, FrameType.PING]);
    expect(host.holds.at(-1)).toBe(false);
    expect(inbound.waiting).toBe(false);
    expect(inbound.window.nextExpected).toBe(2);
    expect(host.failures).toEqual([]);
    outbound.flush();
    const replies = socket.takeFrames().filter((frame) => frame.type === FrameType.MESSAGE).flatMap((frame) => messagesOf(frame));
    expect(replies.map(({ header, body }) => [header.requestId, JSON.parse(body.toString())])).toEqual([1, 2, 3, 4, 5].map((id) => [id, `done ${id}`]));
  });

  it('stops before a frame, not only inside a BATCH: later frames of the chunk wait too', async () => {
    const { host, inbound, open, handlers, dispatch } = setup(1 << 20, 1);
    host.dispatch = dispatch;
    open();
    const finish: Array<() => void> = [];
    handlers.set('slow', () => new Promise<void>((resolve) => finish.push(resolve)));
    inbound.push(frames([
      { type: FrameType.TYPE_DEF, sequence: 0, payload: encodeTypeDef(1, 'slow') },
      { type: FrameType.MESSAGE, sequence: 1, payload: request(1) },
      { type: FrameType.MESSAGE, sequence: 2, payload: request(2) },
      { type: FrameType.PING, sequence: 9 },
    ]));
    expect(finish).toHaveLength(1);
    expect(host.controls).toEqual([FrameType.TYPE_DEF]);
    expect(inbound.window.nextExpected).toBe(2);
    finish[0]!();
    await new Promise((resolve) => setImmediate(resolve));
    expect(finish).toHaveLength(2);
    expect(host.controls).toEqual([FrameType.TYPE_DEF]);
    finish[1]!();
    await new Promise((resolve) => setImmediate(resolve));
    expect(host.controls).toEqual([FrameType.TYPE_DEF, FrameType.PING]);
    expect(inbound.window.nextExpected).toBe(3);
    expect(host.holds).toEqual([true, false]);
  });

  it('frames that wait for handlers stay as they were while other sessions decode', async () => {
    const { host, inbound, open, handlers, dispatch } = setup(1 << 20, 1);
    host.dispatch = dispatch;
    open();
    const started: number[] = [];
    const finish: Array<() => void> = [];
    handlers.set('slow', (_payload: Uint8Array, _context: unknown, info: MessageInfo) => {
      started.push(info.requestId!);
      return new Promise<void>((resolve) => finish.push(resolve));
    });
    inbound.push(frames([
      { type: FrameType.TYPE_DEF, sequence: 0, payload: encodeTypeDef(1, 'slow') },
      { type: FrameType.MESSAGE, sequence: 1, payload: request(1) },
      { type: FrameType.MESSAGE, sequence: 2, payload: request(2) },
      { type: FrameType.PING, sequence: 9 },
    ]));
    expect(started).toEqual([1]);
    // Another session decodes more frames than the first's chunk held, of other types.
    const other = setup();
    other.open();
    other.inbound.push(frames(Array.from({ length: 8 }, (_, i): FrameSpec => ({ type: FrameType.PONG, sequence: 100 + i }))));
    expect(other.host.controls).toEqual(Array.from({ length: 8 }, () => FrameType.PONG));
    finish[0]!();
    await new Promise((resolve) => setImmediate(resolve));
    finish[1]!();
    await new Promise((resolve) => setImmediate(resolve));
    expect(started).toEqual([1, 2]);
    expect(host.controls).toEqual([FrameType.TYPE_DEF, FrameType.PING]);
    expect(host.failures).toEqual([]);
    expect(inbound.window.nextExpected).toBe(3);
  });
});
