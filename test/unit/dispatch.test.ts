import { describe, expect, it } from 'vitest';
import { FrameFlag } from '../../ts/codec/frame.js';
import { lz4Compress } from '../../ts/codec/lz4.js';
import { sessionCompression } from '../../ts/compression/session-compression.js';
import { HandlerTable } from '../../ts/api/handler-table.js';
import { DeliveryWindow } from '../../ts/session/delivery-window.js';
import { Dispatcher, type DispatchHost, type MessageInfo } from '../../ts/session/dispatch.js';
import { Encoding, INLINE_TYPE, MessageKind, encodeTypeDef, writeMessagePrefix, type Payload } from '../../ts/session/message.js';
import { Outbound } from '../../ts/session/outbound.js';
import { newSessionCounters } from '../../ts/session/session-stats.js';
import type { SessionState } from '../../ts/session/connection.js';
import { FakeSocket, messagesOf } from '../support/fake-socket.js';

class Host implements DispatchHost {
  state: SessionState = 'open';
  features: ReadonlySet<string> = new Set(['lz4']);
  readonly unhandled: Array<[string, Payload, MessageInfo]> = [];
  readonly reported: Error[] = [];
  readonly pauses: boolean[] = [];
  settled = 0;
  unhandledMessage(type: string, value: Payload, info: MessageInfo): void {
    this.unhandled.push([type, value, info]);
  }
  reportError(error: Error): void {
    this.reported.push(error);
  }
  pauseForHandlers(paused: boolean): void {
    this.pauses.push(paused);
  }
  handlerSettled(): void {
    this.settled++;
  }
}

const CONTEXT = { who: 'the peer' };

function setup(maxPendingHandlers = 1024, maxAliasBytes = 65_536) {
  const socket = new FakeSocket();
  const counters = newSessionCounters();
  const limits = { maxFrameSize: 1 << 20, highWaterMark: 1 << 20, maxQueueBytes: 4 << 20, sendStallTimeoutMs: 30_000, maxPendingRequests: 16, maxPendingHandlers, maxAliasBytes };
  const outbound = new Outbound(socket.asSocket(), limits, counters);
  outbound.open(new DeliveryWindow(64, 64), undefined);
  const host = new Host();
  const handlers = new HandlerTable<typeof CONTEXT>();
  const dispatch = new Dispatcher(host, handlers, outbound, counters, limits, CONTEXT);
  // As the session does when it opens with the features the host negotiated.
  dispatch.compression = sessionCompression(undefined, host.features, undefined);
  /** The replies the dispatcher wrote, as [kind, request id, body]. */
  const replies = () => {
    outbound.flush();
    return socket.takeFrames().flatMap((frame) => messagesOf(frame).map(({ header, body }) => [header.kind, header.requestId, body.toString()]));
  };
  return { socket, counters, outbound, host, handlers, dispatch, replies };
}

/** A message as it travels: the prefix (alias, encoding, kind, request id, inline name), then the body. */
function message(alias: number, kind: number, body: Payload, requestId = 0, inlineName?: string): Buffer {
  const prefix = Buffer.alloc(8 + 1 + 255);
  const encoding = body === undefined ? Encoding.EMPTY : body instanceof Uint8Array ? Encoding.BINARY : Encoding.JSON;
  const length = writeMessagePrefix(prefix, alias, encoding, kind, requestId, inlineName);
  const bytes = body === undefined ? Buffer.alloc(0) : body instanceof Uint8Array ? Buffer.from(body) : Buffer.from(JSON.stringify(body));
  return Buffer.concat([prefix.subarray(0, length), bytes]);
}

function receive(dispatch: Dispatcher, payload: Buffer, flags = 0): void {
  dispatch.receiveFrame(payload, 0, payload.length, flags);
}

describe('Dispatcher: messages to handlers', () => {
  it('calls the handler of an alias with the body, the context and (when declared) the info', () => {
    const { handlers, dispatch, counters } = setup();
    const calls: unknown[] = [];
    handlers.set('bin', (payload: Uint8Array, context: unknown) => calls.push(['bin', Buffer.from(payload).toString(), context]));
    handlers.set('json', (payload: unknown, context: unknown, info: MessageInfo) => calls.push(['json', payload, context, info]));
    dispatch.defineAlias(encodeTypeDef(1, 'bin'));
    dispatch.defineAlias(encodeTypeDef(2, 'json'));
    receive(dispatch, message(1, MessageKind.MESSAGE, Buffer.from('raw')));
    receive(dispatch, message(2, MessageKind.MESSAGE, { n: 1 }));
    receive(dispatch, message(INLINE_TYPE, MessageKind.MESSAGE, [2], 0, 'json'));
    expect(calls).toEqual([
      ['bin', 'raw', CONTEXT],
      ['json', { n: 1 }, CONTEXT, { type: 'json', transport: 'tcp', requestId: undefined }],
      ['json', [2], CONTEXT, { type: 'json', transport: 'tcp', requestId: undefined }],
    ]);
    expect(counters.tcp.messagesIn).toBe(3);
  });

  it('uses a handler added after the alias was first seen (the per-alias cache follows the table)', () => {
    const { host, handlers, dispatch } = setup();
    dispatch.defineAlias(encodeTypeDef(1, 'late'));
    receive(dispatch, message(1, MessageKind.MESSAGE, new Uint8Array([1])));
    expect(host.unhandled.map(([type]) => type)).toEqual(['late']);
    const got: number[] = [];
    handlers.set('late', (payload: Uint8Array) => got.push(payload[0]!));
    receive(dispatch, message(1, MessageKind.MESSAGE, new Uint8Array([2])));
    expect(got).toEqual([2]);
  });

  it('walks the entries of a BATCH frame and of a COMPRESSED one', () => {
    const { handlers, dispatch, counters } = setup();
    const got: string[] = [];
    handlers.set('t', (payload: Uint8Array) => got.push(Buffer.from(payload).toString()));
    dispatch.defineAlias(encodeTypeDef(1, 't'));
    const entries = ['a', 'bb', 'ccc'].map((text) => message(1, MessageKind.MESSAGE, Buffer.from(text)));
    const batch = Buffer.concat(entries.flatMap((entry) => [Buffer.from(new Uint32Array([entry.length]).buffer), entry]));
    receive(dispatch, batch, FrameFlag.BATCH);
    const plain = message(1, MessageKind.MESSAGE, Buffer.from('z'.repeat(500)));
    const size = Buffer.alloc(4);
    size.writeUInt32LE(plain.length, 0);
    receive(dispatch, Buffer.concat([size, lz4Compress(plain)]), FrameFlag.COMPRESSED);
    expect(got).toEqual(['a', 'bb', 'ccc', 'z'.repeat(500)]);
    expect(counters.tcp.messagesIn).toBe(4);
    expect(counters.compressedIn).toBe(1);
  });

  it('refuses what a peer may not send: an alias defined twice or never, a truncated batch, a compressed frame without lz4', () => {
    const { host, dispatch } = setup();
    dispatch.defineAlias(encodeTypeDef(1, 't'));
    expect(() => dispatch.defineAlias(encodeTypeDef(1, 'u'))).toThrow(expect.objectContaining({ code: 'HW_ERR_BAD_MESSAGE' }));
    expect(() => receive(dispatch, message(9, MessageKind.MESSAGE, { n: 1 }))).toThrow(expect.objectContaining({ code: 'HW_ERR_UNKNOWN_ALIAS' }));
    expect(() => receive(dispatch, Buffer.from([9, 0, 0, 0, 1]), FrameFlag.BATCH)).toThrow(expect.objectContaining({ code: 'HW_ERR_BAD_MESSAGE' }));
    host.features = new Set();
    dispatch.compression = sessionCompression(undefined, host.features, undefined);
    expect(() => receive(dispatch, Buffer.alloc(8), FrameFlag.COMPRESSED)).toThrow(expect.objectContaining({ code: 'HW_ERR_BAD_MESSAGE' }));
  });

  it('refuses a frame that is both BATCH and COMPRESSED (HW_ERR_BAD_MESSAGE), whichever way it would parse', () => {
    const { handlers, dispatch, counters } = setup();
    const got: unknown[] = [];
    handlers.set('t', (value: unknown) => got.push(value));
    dispatch.defineAlias(encodeTypeDef(1, 't'));
    // An empty batch, and a valid compressed message: neither is delivered.
    expect(() => receive(dispatch, Buffer.alloc(0), FrameFlag.BATCH | FrameFlag.COMPRESSED)).toThrow(expect.objectContaining({ code: 'HW_ERR_BAD_MESSAGE' }));
    const plain = message(1, MessageKind.MESSAGE, { n: 1 });
    const size = Buffer.alloc(4);
    size.writeUInt32LE(plain.length, 0);
    expect(() => receive(dispatch, Buffer.concat([size, lz4Compress(plain)]), FrameFlag.BATCH | FrameFlag.COMPRESSED)).toThrow(
      expect.objectContaining({ code: 'HW_ERR_BAD_MESSAGE' }),
    );
    expect(got).toEqual([]);
    expect(counters.tcp.messagesIn).toBe(0);
  });

  it('bounds the bytes of type names bound to aliases by maxAliasBytes: up to it they work, past it HW_ERR_BAD_MESSAGE', () => {
    const { handlers, dispatch } = setup(1024, 300);
    const got: string[] = [];
    handlers.set('x'.repeat(255), () => got.push('long'));
    handlers.set('é'.repeat(20), () => got.push('accented'));
    dispatch.defineAlias(encodeTypeDef(1, 'x'.repeat(255)));
    // 255 + 40 (two UTF-8 bytes a character) = 295 bytes of names: within 300.
    dispatch.defineAlias(encodeTypeDef(2, 'é'.repeat(20)));
    receive(dispatch, message(1, MessageKind.MESSAGE, undefined));
    receive(dispatch, message(2, MessageKind.MESSAGE, undefined));
    expect(got).toEqual(['long', 'accented']);
    // 6 more bytes would make 301.
    expect(() => dispatch.defineAlias(encodeTypeDef(3, 'sixsix'))).toThrow(
      expect.objectContaining({ code: 'HW_ERR_BAD_MESSAGE', message: expect.stringContaining('maxAliasBytes is 300') }),
    );
    // A refused definition binds nothing.
    expect(() => receive(dispatch, message(3, MessageKind.MESSAGE, undefined))).toThrow(expect.objectContaining({ code: 'HW_ERR_UNKNOWN_ALIAS' }));
    dispatch.defineAlias(encodeTypeDef(3, 'five5'));
  });
});

describe('Dispatcher: requests and replies', () => {
  it('answers a request with what its handler returns, or resolves to', async () => {
    const { handlers, dispatch, replies } = setup();
    handlers.set('sync', (payload: Uint8Array) => Buffer.from(`got ${payload.length}`));
    handlers.set('async', async (payload: { n: number }) => ({ doubled: payload.n * 2 }));
    dispatch.defineAlias(encodeTypeDef(1, 'sync'));
    dispatch.defineAlias(encodeTypeDef(2, 'async'));
    receive(dispatch, message(1, MessageKind.REQUEST, new Uint8Array(3), 41));
    receive(dispatch, message(2, MessageKind.REQUEST, { n: 4 }, 42));
    await new Promise((resolve) => setImmediate(resolve));
    expect(replies()).toEqual([
      [MessageKind.RESPONSE, 41, 'got 3'],
      [MessageKind.RESPONSE, 42, '{"doubled":8}'],
    ]);
  });

  it('answers HW_ERR_NO_HANDLER, a thrown error with its code, and a value JSON cannot encode with HW_ERR_HANDLER_FAILED', () => {
    const { host, handlers, dispatch, replies } = setup();
    handlers.set('throws', () => {
      throw Object.assign(new Error('nope'), { code: 'APP_ERR' });
    });
    handlers.set('cyclic', () => {
      const value: Record<string, unknown> = {};
      value.self = value;
      return value;
    });
    dispatch.defineAlias(encodeTypeDef(1, 'throws'));
    dispatch.defineAlias(encodeTypeDef(2, 'cyclic'));
    dispatch.defineAlias(encodeTypeDef(3, 'nobody'));
    receive(dispatch, message(3, MessageKind.REQUEST, 1, 1));
    receive(dispatch, message(1, MessageKind.REQUEST, 1, 2));
    receive(dispatch, message(2, MessageKind.REQUEST, 1, 3));
    const errors = replies().map(([kind, id, body]) => [kind, id, JSON.parse(body as string).code]);
    expect(errors).toEqual([
      [MessageKind.ERROR, 1, 'HW_ERR_NO_HANDLER'],
      [MessageKind.ERROR, 2, 'APP_ERR'],
      [MessageKind.ERROR, 3, 'HW_ERR_HANDLER_FAILED'],
    ]);
    expect(host.reported.map((error) => error.constructor.name)).toEqual(['TypeError']);
  });

  it('answers a request whose body does not decode with HW_ERR_BAD_MESSAGE, over TCP and UDP alike, and goes on', () => {
    const { host, handlers, dispatch, replies, counters, outbound } = setup();
    const udpReplies: Array<[number, number]> = [];
    outbound.udpPath = {
      token: Buffer.alloc(8),
      send: (prefix: Buffer) => {
        udpReplies.push([prefix[3]!, prefix.readUInt32LE(4)]);
        return true;
      },
      close: () => {},
      stats: () => undefined,
    };
    const got: unknown[] = [];
    handlers.set('echo', (value: unknown) => {
      got.push(value);
      return value;
    });
    dispatch.defineAlias(encodeTypeDef(1, 'echo'));
    const request = (id: number, body: string) => {
      const prefix = Buffer.alloc(8);
      writeMessagePrefix(prefix, 1, Encoding.JSON, MessageKind.REQUEST, id, undefined);
      return Buffer.concat([prefix, Buffer.from(body)]);
    };
    receive(dispatch, request(1, '{not json'));
    receive(dispatch, request(2, '['.repeat(5000) + ']'.repeat(5000)));
    receive(dispatch, request(3, '"fine"'));
    const bad = request(4, '{not json');
    dispatch.receiveDatagramMessage(bad, 0, bad.length, { transport: 'udp' });
    expect(replies().map(([kind, id, body]) => [kind, id, kind === MessageKind.ERROR ? JSON.parse(body as string).code : body])).toEqual([
      [MessageKind.ERROR, 1, 'HW_ERR_BAD_MESSAGE'],
      [MessageKind.ERROR, 2, 'HW_ERR_BAD_MESSAGE'],
      [MessageKind.RESPONSE, 3, '"fine"'],
    ]);
    expect(udpReplies).toEqual([[MessageKind.ERROR, 4]]);
    expect(got).toEqual(['fine']);
    expect(counters.udp.dropped).toBe(0);
    expect(host.reported).toEqual([]);
    // A one-way message that does not decode is still a broken stream.
    expect(() => receive(dispatch, Buffer.concat([message(1, MessageKind.MESSAGE, 'x').subarray(0, 4), Buffer.from('{')]))).toThrow(
      expect.objectContaining({ code: 'HW_ERR_BAD_MESSAGE' }),
    );
  });

  it('resolves our own requests with RESPONSE and rejects them with ERROR', async () => {
    const { dispatch } = setup();
    const binary = dispatch.requests.open('a', 0, undefined);
    const binaryId = dispatch.requests.lastId;
    const json = dispatch.requests.open('b', 0, undefined);
    const jsonId = dispatch.requests.lastId;
    const failed = dispatch.requests.open('c', 0, undefined);
    const failedId = dispatch.requests.lastId;
    receive(dispatch, message(0, MessageKind.RESPONSE, new Uint8Array([7]), binaryId));
    receive(dispatch, message(0, MessageKind.RESPONSE, { ok: true }, jsonId));
    receive(dispatch, message(0, MessageKind.ERROR, { code: 'HW_ERR_NO_HANDLER', message: 'none' }, failedId));
    expect(Array.from((await binary) as Uint8Array)).toEqual([7]);
    expect(await json).toEqual({ ok: true });
    await expect(failed).rejects.toMatchObject({ name: 'RemoteError', code: 'HW_ERR_NO_HANDLER', message: 'none' });
  });
});

describe('Dispatcher: failures that leave the session open', () => {
  it('reports a one-way handler that throws or rejects as HW_ERR_HANDLER_FAILED, with the error as cause', async () => {
    const { host, handlers, dispatch } = setup();
    const thrown = new Error('thrown');
    const rejected = new Error('rejected');
    handlers.set('throws', () => {
      throw thrown;
    });
    handlers.set('rejects', () => Promise.reject(rejected));
    dispatch.defineAlias(encodeTypeDef(1, 'throws'));
    dispatch.defineAlias(encodeTypeDef(2, 'rejects'));
    receive(dispatch, message(1, MessageKind.MESSAGE, new Uint8Array(1)));
    receive(dispatch, message(2, MessageKind.MESSAGE, { n: 1 }));
    await new Promise((resolve) => setImmediate(resolve));
    expect(host.reported.map((error) => [(error as { code?: string }).code, error.cause])).toEqual([
      ['HW_ERR_HANDLER_FAILED', thrown],
      ['HW_ERR_HANDLER_FAILED', rejected],
    ]);
    expect(host.settled).toBe(1);
  });

  it('decompresses a COMPRESSED UDP message only on a session that agreed udp-compression; drops and counts one otherwise, and a bomb', () => {
    const { host, handlers, dispatch, counters } = setup();
    const got: unknown[] = [];
    handlers.set('t', (payload: unknown) => got.push(payload));
    const plain = message(INLINE_TYPE, MessageKind.MESSAGE, { text: 'y'.repeat(300) }, 0, 't');
    const size = Buffer.alloc(4);
    size.writeUInt32LE(plain.length, 0);
    const compressed = Buffer.concat([size, lz4Compress(plain)]);
    dispatch.receiveDatagramMessage(compressed, 0, compressed.length, { transport: 'udp', reliable: true }, FrameFlag.COMPRESSED);
    expect(got).toEqual([]);
    expect(counters.udp.dropped).toBe(1);
    host.features = new Set(['lz4', 'udp-compression']);
    dispatch.receiveDatagramMessage(compressed, 0, compressed.length, { transport: 'udp', reliable: true }, FrameFlag.COMPRESSED);
    expect(got).toEqual([{ text: 'y'.repeat(300) }]);
    expect(counters.compressedIn).toBe(1);
    const bomb = Buffer.concat([size, lz4Compress(Buffer.alloc(1 << 20))]);
    dispatch.receiveDatagramMessage(bomb, 0, bomb.length, { transport: 'udp', reliable: true }, FrameFlag.COMPRESSED);
    expect(counters.udp.dropped).toBe(2);
    expect(host.reported).toEqual([]);
  });

  it('drops and counts a malformed UDP message, and reports a failure that is not a malformed message', () => {
    const { host, counters, dispatch } = setup();
    dispatch.receiveDatagramMessage(Buffer.from([1, 2]), 0, 2, { transport: 'udp' });
    expect(counters.udp.dropped).toBe(1);
    expect(host.reported).toEqual([]);
    const bug = new TypeError('listener bug');
    host.unhandledMessage = () => {
      throw bug;
    };
    const payload = message(INLINE_TYPE, MessageKind.MESSAGE, { n: 1 }, 0, 'unhandled');
    dispatch.receiveDatagramMessage(payload, 0, payload.length, { transport: 'udp' });
    expect(host.reported).toEqual([bug]);
    expect(counters.udp.messagesIn).toBe(2);
  });

  it('pauses reading at maxPendingHandlers and resumes at half of it', async () => {
    const { host, handlers, dispatch } = setup(4);
    const pending: Array<() => void> = [];
    handlers.set('slow', () => new Promise<void>((resolve) => pending.push(resolve)));
    dispatch.defineAlias(encodeTypeDef(1, 'slow'));
    for (let i = 0; i < 4; i++) receive(dispatch, message(1, MessageKind.MESSAGE, new Uint8Array(1)));
    expect(host.pauses).toEqual([true]);
    pending.shift()!();
    await new Promise((resolve) => setImmediate(resolve));
    expect(host.pauses).toEqual([true]);
    pending.shift()!();
    await new Promise((resolve) => setImmediate(resolve));
    expect(host.pauses).toEqual([true, false]);
    expect(dispatch.pendingHandlers).toBe(2);
  });

  it('stops a BATCH frame before the entry that would pass maxPendingHandlers, and says where', () => {
    const { handlers, dispatch, counters } = setup(2);
    let calls = 0;
    handlers.set('slow', () => {
      calls++;
      return new Promise<void>(() => {});
    });
    dispatch.defineAlias(encodeTypeDef(1, 'slow'));
    const entries = [1, 2, 3].map(() => message(1, MessageKind.MESSAGE, new Uint8Array(1)));
    const payload = Buffer.concat(entries.flatMap((entry) => [Buffer.from([entry.length, 0, 0, 0]), entry]));
    const entrySize = 4 + entries[0]!.length;
    expect(dispatch.receiveFrame(payload, 0, payload.length, FrameFlag.BATCH)).toBe(2 * entrySize);
    expect(calls).toBe(2);
    expect(counters.tcp.messagesIn).toBe(2);
    // Below the limit it takes the rest and reports the end.
    expect(setup().dispatch.receiveFrame(Buffer.alloc(0), 0, 0, FrameFlag.BATCH)).toBe(0);
  });
});
