/**
 * ts/session/connection.ts: one session over a real TCP socket pair on 127.0.0.1 (port 0), the
 * Connection on one end and a hand-driven peer (test/support/raw-peer.ts) on the other: its states
 * from the handshake to closed, the window and the acknowledgements, the control frames, the
 * heartbeat, and each way of closing (CLOSE, ERROR, FIN, fail, destroy, the close timeout).
 */
import net, { type AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { FrameType } from '../../ts/codec/frame.js';
import type { FrameSpec } from '../../ts/codec/frame-encoder.js';
import { HybridwireError, RemoteError } from '../../ts/errors.js';
import { HandlerTable } from '../../ts/api/handler-table.js';
import { resolveLimits, type LimitOptions } from '../../ts/api/limits.js';
import { Connection } from '../../ts/session/connection.js';
import { Encoding, INLINE_TYPE, MessageKind, decodeTypeDef, writeMessagePrefix, type JsonValue } from '../../ts/session/message.js';
import { messagesOf } from '../support/fake-socket.js';
import { RawPeer, nextEvent, type ReceivedFrame } from '../support/raw-peer.js';
import { waitUntil, within } from '../support/wait.js';

const open: Array<() => void> = [];
afterEach(() => {
  for (const close of open.splice(0).reverse()) close();
});

const CONTEXT = { the: 'context' };

/** A Connection on the accepting end of a loopback TCP connection, and a raw peer on the other. */
async function pair(options: LimitOptions = {}) {
  const listener = net.createServer({ allowHalfOpen: true });
  await new Promise<void>((resolve) => listener.listen(0, '127.0.0.1', resolve));
  open.push(() => listener.close());
  const accepted = nextEvent<[net.Socket]>(listener, 'connection');
  const peer = await RawPeer.connect((listener.address() as AddressInfo).port);
  open.push(() => peer.destroy());
  const [socket] = await accepted;
  const handlers = new HandlerTable<typeof CONTEXT>();
  const connection = new Connection(socket, handlers, CONTEXT, resolveLimits(options));
  open.push(() => connection.destroy());
  const closed = nextEvent<[Error | undefined]>(connection, 'close', 10_000);
  // Failing to observe the close is the test's to report; an unobserved rejection is not.
  closed.catch(() => {});
  return { peer, connection, handlers, closed };
}

/** A MESSAGE frame's payload naming its type inline, with a JSON body. */
function message(type: string, value: JsonValue, kind: number = MessageKind.MESSAGE, requestId = 0): Buffer {
  const prefix = Buffer.alloc(8 + 1 + 255);
  const length = writeMessagePrefix(prefix, INLINE_TYPE, Encoding.JSON, kind, requestId, type);
  return Buffer.concat([prefix.subarray(0, length), Buffer.from(JSON.stringify(value))]);
}

/** Writes frames in one write, so that they arrive in one chunk. */
function writeAll(peer: RawPeer, frames: FrameSpec[]): void {
  peer.socket.write(Buffer.concat(peer.encoder.encode(frames)));
}

function framesOf(peer: RawPeer, type: number): ReceivedFrame[] {
  return peer.frames.filter((frame) => frame.type === type);
}

/**
 * Waits for the answer to a PING sent now: the Connection reads in order, so everything it was
 * going to send in answer to what came before has been written before this PONG.
 */
async function barrier(peer: RawPeer, sequence: number): Promise<void> {
  peer.sendFrame(FrameType.PING, Buffer.from('barrier'), sequence);
  await peer.waitUntil(() => framesOf(peer, FrameType.PONG).some((frame) => frame.sequence === sequence), 5000, `the PONG of barrier ${sequence}`);
}

/** The messages the Connection sent, with their type names (from its TYPE_DEFs or inline). */
function sentMessages(peer: RawPeer): Array<{ type: string; kind: number; requestId: number; value: unknown }> {
  const names = new Map<number, string>();
  const out: Array<{ type: string; kind: number; requestId: number; value: unknown }> = [];
  for (const frame of peer.frames) {
    if (frame.type === FrameType.TYPE_DEF) {
      const { alias, name } = decodeTypeDef(frame.payload);
      names.set(alias, name);
    } else if (frame.type === FrameType.MESSAGE) {
      for (const { header, body } of messagesOf(frame)) {
        const type = header.alias === INLINE_TYPE ? header.inlineName! : (names.get(header.alias) ?? '');
        out.push({ type, kind: header.kind, requestId: header.requestId, value: body.length === 0 ? undefined : JSON.parse(body.toString()) });
      }
    }
  }
  return out;
}

function errorOf(peer: RawPeer): { code: string; message: string } | undefined {
  return peer.errorFrame();
}

describe('Connection: from the handshake to the open session', () => {
  it('refuses sends during the handshake, hands handshake frames to its owner, and open() starts the session', async () => {
    const { peer, connection } = await pair();
    expect(connection.state).toBe('handshake');
    expect(() => connection.send('early', 1)).toThrow(expect.objectContaining({ code: 'HW_ERR_NOT_CONNECTED', message: 'cannot send: the connection is handshake' }));
    const handshake = nextEvent<[number, Uint8Array]>(connection, 'handshake');
    peer.sendJson(FrameType.HELLO, { hello: 'there' });
    const [type, payload] = await handshake;
    expect(type).toBe(FrameType.HELLO);
    expect(JSON.parse(Buffer.from(payload).toString())).toEqual({ hello: 'there' });

    connection.open(8, 8, ['request', 'lz4']);
    expect(connection.state).toBe('open');
    expect([...connection.features]).toEqual(['request', 'lz4']);
    expect(connection.context).toBe(CONTEXT);
    expect(connection.send('greeting', { hi: 1 })).toBe(true);
    await peer.waitUntil(() => sentMessages(peer).length === 1, 5000, 'the greeting');
    expect(sentMessages(peer)).toEqual([{ type: 'greeting', kind: MessageKind.MESSAGE, requestId: 0, value: { hi: 1 } }]);
    // The type was defined once, in a TYPE_DEF that takes the first sequence number.
    expect(framesOf(peer, FrameType.TYPE_DEF).map((frame) => frame.sequence)).toEqual([0]);
  });

  it('closes with HW_ERR_HANDSHAKE_ORDER on a frame other than HELLO, HELLO_ACK, HELLO_DONE, ERROR or CLOSE before it opens', async () => {
    const { peer, connection, closed } = await pair();
    peer.sendFrame(FrameType.PING, Buffer.alloc(8), 1);
    await peer.waitClosed();
    expect(errorOf(peer)).toEqual({ code: 'HW_ERR_HANDSHAKE_ORDER', message: 'frame type 0x6 arrived before the handshake completed' });
    const [error] = await closed;
    expect(error).toMatchObject({ code: 'HW_ERR_HANDSHAKE_ORDER' });
    expect(connection.state).toBe('closed');
  });

  it('limitFramesUntilOpen() refuses, with HW_ERR_FRAME_TOO_LARGE, a frame announcing more before the session opens', async () => {
    const { peer, connection, closed } = await pair();
    connection.limitFramesUntilOpen(100);
    peer.sendFrame(FrameType.HELLO, Buffer.alloc(101, 0x20));
    await peer.waitClosed();
    expect(errorOf(peer)?.code).toBe('HW_ERR_FRAME_TOO_LARGE');
    expect((await closed)[0]).toMatchObject({ code: 'HW_ERR_FRAME_TOO_LARGE' });
  });

  it('once open, takes frames up to maxFrameSize again', async () => {
    const { peer, connection, handlers } = await pair({ maxFrameSize: 4096 });
    connection.limitFramesUntilOpen(100);
    connection.open(8, 8, []);
    const got = new Promise<unknown>((resolve) => handlers.set('big', (value: unknown) => resolve(value)));
    peer.sendFrame(FrameType.MESSAGE, message('big', 'x'.repeat(3000)), 0);
    expect(await within(got, 5000, 'the large message')).toBe('x'.repeat(3000));
  });
});

describe('Connection: control frames of the open session', () => {
  it('answers a PING with a PONG carrying its payload and sequence; a PING over 64 bytes is HW_ERR_FRAME_TOO_LARGE', async () => {
    const { peer, connection, closed } = await pair();
    connection.open(8, 8, []);
    peer.sendFrame(FrameType.PING, Buffer.alloc(64, 7), 41);
    const pong = await peer.waitFor(FrameType.PONG);
    expect(pong.sequence).toBe(41);
    expect(pong.payload.equals(Buffer.alloc(64, 7))).toBe(true);
    peer.sendFrame(FrameType.PING, Buffer.alloc(65), 42);
    await peer.waitClosed();
    expect(errorOf(peer)).toEqual({ code: 'HW_ERR_FRAME_TOO_LARGE', message: 'PING or PONG payload of 65 bytes; at most 64 are allowed' });
    expect((await closed)[0]).toMatchObject({ code: 'HW_ERR_FRAME_TOO_LARGE' });
  });

  it.each([
    ['a handshake frame', FrameType.HELLO_DONE, 'HW_ERR_HANDSHAKE_ORDER', 'handshake frame after the handshake completed'],
    ['an unknown critical type', 0x7e, 'HW_ERR_UNKNOWN_FRAME_TYPE', 'unknown frame type 0x7e'],
    ['a PATH_RESPONSE where none is expected', FrameType.PATH_RESPONSE, 'HW_ERR_UNKNOWN_FRAME_TYPE', 'unknown frame type 0xc'],
  ])('closes on %s after the handshake: ERROR %s', async (_what, type, code, text) => {
    const { peer, connection, closed } = await pair();
    connection.open(8, 8, []);
    peer.sendFrame(type, Buffer.alloc(8));
    await peer.waitClosed();
    expect(errorOf(peer)).toEqual({ code, message: text });
    expect((await closed)[0]).toMatchObject({ code });
  });

  it('skips a frame of an unknown ignorable type and carries on', async () => {
    const { peer, connection } = await pair();
    connection.open(8, 8, []);
    peer.sendFrame(0xf0, Buffer.from('skip me'));
    await barrier(peer, 1);
    expect(connection.state).toBe('open');
    expect(errorOf(peer)).toBeUndefined();
  });

  it('hands a PATH_RESPONSE to its pathResponse callback when it has one', async () => {
    const { peer, connection } = await pair();
    connection.open(8, 8, []);
    const answered = new Promise<Buffer>((resolve) => (connection.pathResponse = { pathResponded: (payload) => resolve(Buffer.from(payload)) }));
    peer.sendFrame(FrameType.PATH_RESPONSE, Buffer.from('8 bytes!'));
    expect((await within(answered, 5000, 'the PATH_RESPONSE')).toString()).toBe('8 bytes!');
    await barrier(peer, 1);
    expect(connection.state).toBe('open');
  });

  it("emits 'ready' on the first ACK while awaitingReady, and only once", async () => {
    const { peer, connection } = await pair();
    connection.open(8, 8, []);
    connection.awaitingReady = true;
    let readies = 0;
    connection.on('ready', () => readies++);
    const ready = nextEvent(connection, 'ready');
    peer.sendFrame(FrameType.ACK, undefined, 0);
    await ready;
    peer.sendFrame(FrameType.ACK, undefined, 0);
    await barrier(peer, 1);
    expect(readies).toBe(1);
    expect(connection.awaitingReady).toBe(false);
  });
});

describe('Connection: the send window', () => {
  it('with a window of one, lets one sequenced frame out at a time, the next on each ACK; what waits counts in queuedBytes', async () => {
    const { peer, connection } = await pair();
    connection.open(1, 8, []);
    connection.send('t', 1);
    connection.send('t', 2);
    const sequenced = () => peer.frames.filter((frame) => frame.type === FrameType.MESSAGE || frame.type === FrameType.TYPE_DEF);
    await peer.waitFor(FrameType.TYPE_DEF);
    await barrier(peer, 100);
    expect(sequenced().map((frame) => [frame.type, frame.sequence])).toEqual([[FrameType.TYPE_DEF, 0]]);
    expect(connection.queuedBytes).toBeGreaterThan(0);

    peer.sendFrame(FrameType.ACK, undefined, 1);
    await peer.waitUntil(() => sequenced().length === 2, 5000, 'the first message');
    await barrier(peer, 101);
    expect(sequenced().map((frame) => [frame.type, frame.sequence])).toEqual([
      [FrameType.TYPE_DEF, 0],
      [FrameType.MESSAGE, 1],
    ]);
    peer.sendFrame(FrameType.ACK, undefined, 2);
    await peer.waitUntil(() => sequenced().length === 3, 5000, 'the second message');
    expect(sentMessages(peer).map((sent) => sent.value)).toEqual([1, 2]);
    peer.sendFrame(FrameType.ACK, undefined, 3);
    await waitUntil(() => connection.queuedBytes === 0, 5000, 'the queue to empty');
  });

  it('closes with HW_ERR_BAD_ACK on an ACK for frames never sent', async () => {
    const { peer, connection, closed } = await pair();
    connection.open(8, 8, []);
    connection.send('t', 1);
    await peer.waitFor(FrameType.MESSAGE);
    // Sequence numbers 0 (TYPE_DEF) and 1 (the message) were sent: 2 acknowledges both, 3 is too far.
    peer.sendFrame(FrameType.ACK, undefined, 2);
    await barrier(peer, 1);
    expect(connection.state).toBe('open');
    peer.sendFrame(FrameType.ACK, undefined, 3);
    await peer.waitClosed();
    expect(errorOf(peer)).toEqual({ code: 'HW_ERR_BAD_ACK', message: 'ACK for 3 covers messages never sent' });
    expect((await closed)[0]).toMatchObject({ code: 'HW_ERR_BAD_ACK' });
  });

  it("send() returns false past highWaterMark; the ACK that makes room emits 'drain' and waitForRoom() resolves", async () => {
    const { peer, connection } = await pair({ highWaterMark: 4096 });
    connection.open(1, 8, []);
    await connection.waitForRoom();
    const body = 'x'.repeat(3000);
    expect(connection.send('big', body)).toBe(true);
    expect(connection.send('big', body)).toBe(false);
    const room = connection.waitForRoom();
    let roomResolved = false;
    void room.then(() => (roomResolved = true));
    await peer.waitFor(FrameType.TYPE_DEF);
    await barrier(peer, 1);
    expect(roomResolved).toBe(false);
    const drained = nextEvent(connection, 'drain');
    peer.acknowledgeAll();
    await drained;
    await within(room, 5000, 'waitForRoom() after the drain');
    expect(connection.queuedBytes).toBeLessThan(4096);
    await peer.waitUntil(() => sentMessages(peer).length === 2, 5000, 'both messages');
  });

  it('waitForRoom() rejects with HW_ERR_CONNECTION_CLOSED when the session closes first', async () => {
    const { connection } = await pair({ highWaterMark: 1024 });
    connection.open(1, 8, []);
    connection.send('big', 'x'.repeat(2000));
    const room = connection.waitForRoom();
    connection.destroy(new Error('gone'));
    await expect(room).rejects.toMatchObject({ code: 'HW_ERR_CONNECTION_CLOSED', message: 'connection closed while waiting for room in the send queue' });
  });
});

describe('Connection: receiving, the receive window and the acknowledgements', () => {
  it('hands messages to their handlers with the context, and acknowledges a chunk of them with one ACK', async () => {
    const { peer, connection, handlers } = await pair();
    connection.open(8, 64, []);
    const calls: unknown[] = [];
    handlers.set('n', (value: unknown, context: unknown) => calls.push([value, context]));
    writeAll(
      peer,
      Array.from({ length: 10 }, (_, i): FrameSpec => ({ type: FrameType.MESSAGE, sequence: i, payload: message('n', i) })),
    );
    const ack = await peer.waitFor(FrameType.ACK);
    expect(ack.sequence).toBe(10);
    expect(calls).toEqual(Array.from({ length: 10 }, (_, i) => [i, CONTEXT]));
    await barrier(peer, 1);
    expect(framesOf(peer, FrameType.ACK)).toHaveLength(1);
    expect(connection.stats().tcp.messagesIn).toBe(10);
  });

  it('acknowledges chunk after chunk, each ACK carrying the next number expected', async () => {
    const { peer, connection, handlers } = await pair();
    connection.open(8, 16, []);
    let count = 0;
    handlers.set('n', () => void count++);
    for (let chunk = 0; chunk < 3; chunk++) {
      writeAll(peer, [0, 1, 2, 3].map((i): FrameSpec => ({ type: FrameType.MESSAGE, sequence: chunk * 4 + i, payload: message('n', i) })));
      await peer.waitUntil(() => framesOf(peer, FrameType.ACK).some((frame) => frame.sequence === chunk * 4 + 4), 5000, `the ACK of chunk ${chunk}`);
    }
    expect(framesOf(peer, FrameType.ACK).map((frame) => frame.sequence)).toEqual([4, 8, 12]);
    expect(count).toBe(12);
  });

  it("emits 'message' for a type without a handler", async () => {
    const { peer, connection } = await pair();
    connection.open(8, 8, []);
    const unhandled = nextEvent<[string, unknown, { type: string; transport: string }]>(connection, 'message');
    peer.sendFrame(FrameType.MESSAGE, message('nobody', { a: 1 }), 0);
    const [type, value, info] = await unhandled;
    expect([type, value, info]).toEqual(['nobody', { a: 1 }, { type: 'nobody', transport: 'tcp', requestId: undefined }]);
  });

  it('closes with HW_ERR_SEQUENCE on a gap in the sequence numbers', async () => {
    const { peer, connection, closed } = await pair();
    connection.open(8, 8, []);
    connection.on('message', () => {});
    writeAll(peer, [
      { type: FrameType.MESSAGE, sequence: 0, payload: message('m', 0) },
      { type: FrameType.MESSAGE, sequence: 2, payload: message('m', 2) },
    ]);
    await peer.waitClosed();
    expect(errorOf(peer)).toEqual({ code: 'HW_ERR_SEQUENCE', message: 'frame 2 arrived out of sequence (expected 1)' });
    expect((await closed)[0]).toMatchObject({ code: 'HW_ERR_SEQUENCE' });
  });

  it('closes with HW_ERR_WINDOW_OVERFLOW when the peer sends more unacknowledged messages than the receive window', async () => {
    const { peer, connection, closed } = await pair();
    connection.open(8, 4, []);
    connection.on('message', () => {});
    writeAll(peer, [0, 1, 2, 3, 4].map((i): FrameSpec => ({ type: FrameType.MESSAGE, sequence: i, payload: message('m', i) })));
    await peer.waitClosed();
    expect(errorOf(peer)).toEqual({ code: 'HW_ERR_WINDOW_OVERFLOW', message: 'peer sent 5 unacknowledged messages; the window is 4' });
    expect((await closed)[0]).toMatchObject({ code: 'HW_ERR_WINDOW_OVERFLOW' });
  });
});

describe('Connection: requests', () => {
  it("resolves a request with the peer's answer, and counts it pending until then", async () => {
    const { peer, connection } = await pair();
    connection.open(1, 8, []);
    peer.acknowledgeAll();
    const reply = connection.request('add', [1, 2], 5000, undefined);
    await peer.waitUntil(() => sentMessages(peer).length === 1, 5000, 'the request');
    const [request] = sentMessages(peer);
    expect(request).toMatchObject({ type: 'add', kind: MessageKind.REQUEST, value: [1, 2] });
    expect(connection.stats().pendingRequests).toBe(1);
    peer.sendFrame(FrameType.MESSAGE, message('', 3, MessageKind.RESPONSE, request!.requestId), 0);
    expect(await within(reply, 5000, 'the reply')).toBe(3);
    expect(connection.stats().pendingRequests).toBe(0);
  });

  it('times out after requestTimeoutMs when the call names no timeout', async () => {
    const { connection } = await pair({ requestTimeoutMs: 30 });
    connection.open(8, 8, []);
    await expect(connection.request('slow', undefined, undefined, undefined)).rejects.toMatchObject({ code: 'HW_ERR_REQUEST_TIMEOUT' });
  });
});

describe('Connection: the heartbeat', () => {
  it('PINGs the peer, and a PONG gives an RTT sample', async () => {
    const { peer, connection } = await pair();
    connection.open(8, 8, []);
    connection.startHeartbeat(20, 5000);
    const ping = await peer.waitFor(FrameType.PING);
    expect(ping.payload).toHaveLength(8);
    expect(ping.sequence).toBe(1);
    const sample = nextEvent<[number]>(connection, 'pong');
    peer.sendFrame(FrameType.PONG, ping.payload, ping.sequence);
    const [rttMs] = await sample;
    expect(rttMs).toBeGreaterThanOrEqual(0);
    expect(connection.stats().rttMs).toBe(rttMs);
  });

  it('a peer that keeps answering stays connected; its PINGs are numbered in order', async () => {
    const { peer, connection } = await pair();
    connection.open(8, 8, []);
    connection.startHeartbeat(10, 40);
    let answered = 0;
    await peer.waitUntil(
      () => {
        const pings = framesOf(peer, FrameType.PING);
        for (; answered < pings.length; answered++) peer.sendFrame(FrameType.PONG, pings[answered]!.payload, pings[answered]!.sequence);
        return pings.length >= 12;
      },
      10_000,
      'twelve PINGs (three times the timeout)',
    );
    expect(framesOf(peer, FrameType.PING).map((frame) => frame.sequence).slice(0, 12)).toEqual(Array.from({ length: 12 }, (_, i) => i + 1));
    expect(connection.state).toBe('open');
    expect(errorOf(peer)).toBeUndefined();
  });

  it('fails a silent peer with ERROR HW_ERR_HEARTBEAT_TIMEOUT', async () => {
    const { peer, connection, closed } = await pair();
    connection.open(8, 8, []);
    connection.startHeartbeat(10, 40);
    await peer.waitClosed();
    expect(errorOf(peer)).toEqual({ code: 'HW_ERR_HEARTBEAT_TIMEOUT', message: 'no frame from the peer for 40 ms' });
    expect(framesOf(peer, FrameType.PING).length).toBeGreaterThan(0);
    expect((await closed)[0]).toMatchObject({ code: 'HW_ERR_HEARTBEAT_TIMEOUT' });
  });
});

describe('Connection: closing', () => {
  it('close(): CLOSE with HW_OK and the reason, FIN once what is in flight is acknowledged, then closed without an error', async () => {
    const { peer, connection, closed } = await pair();
    connection.open(8, 8, []);
    connection.send('last', 1);
    await peer.waitFor(FrameType.MESSAGE);
    const closing = connection.close('done here');
    expect(connection.state).toBe('closing');
    const close = await peer.waitFor(FrameType.CLOSE);
    expect(JSON.parse(close.payload.toString())).toEqual({ code: 'HW_OK', reason: 'done here' });
    expect(() => connection.send('more', 1)).toThrow(expect.objectContaining({ code: 'HW_ERR_NOT_CONNECTED', message: 'cannot send: the connection is closing' }));
    // The message is not acknowledged yet: the session waits (and still answers a PING).
    await barrier(peer, 1);
    expect(peer.closed).toBe(false);
    peer.sendFrame(FrameType.ACK, undefined, 2);
    await peer.waitClosed();
    await within(closing, 5000, 'close() to resolve');
    expect(await closed).toEqual([undefined]);
    expect(connection.state).toBe('closed');
    await connection.close();
  });

  it('close() gives up waiting after closeTimeoutMs and destroys the socket', async () => {
    const { peer, connection, closed } = await pair({ closeTimeoutMs: 50 });
    connection.open(8, 8, []);
    connection.send('never acknowledged', 1);
    await peer.waitFor(FrameType.MESSAGE);
    await within(connection.close(), 5000, 'close() to resolve');
    await peer.waitClosed();
    expect(await closed).toEqual([undefined]);
  });

  it("the peer's CLOSE: the session may still answer, and ends once the peer's FIN has come", async () => {
    const { peer, connection, closed } = await pair();
    connection.open(8, 8, []);
    peer.acknowledgeAll();
    peer.sendJson(FrameType.CLOSE, { code: 'HW_OK', reason: 'bye' });
    await waitUntil(() => connection.state === 'closing', 5000, 'the session to be closing');
    expect(connection.send('late answer', 'still allowed')).toBe(true);
    await peer.waitUntil(() => sentMessages(peer).length === 1, 5000, 'the late answer');
    expect(sentMessages(peer)[0]).toMatchObject({ type: 'late answer', value: 'still allowed' });
    expect(peer.closed).toBe(false);
    peer.socket.end();
    expect(await closed).toEqual([undefined]);
  });

  it("the peer's FIN alone closes the session without an error", async () => {
    const { peer, connection, closed } = await pair();
    connection.open(8, 8, []);
    peer.socket.end();
    expect(await closed).toEqual([undefined]);
    expect(connection.state).toBe('closed');
  });

  it.each([
    ['a code of ours', { code: 'HW_ERR_NO_HANDLER', message: 'nobody home' }, 'HW_ERR_NO_HANDLER', 'peer reported: nobody home'],
    ['a code not of ours', { code: 'E_APP', message: 'app failure' }, 'HW_ERR_REMOTE', 'peer reported: app failure'],
    ['no code', { message: 'just a message' }, 'HW_ERR_REMOTE', 'peer reported: just a message'],
    ['a payload that is not JSON', 'not json', 'HW_ERR_REMOTE', 'the peer closed the connection with an error'],
  ])("an ERROR from the peer with %s closes the session with a RemoteError", async (_what, body, code, text) => {
    const { peer, connection, closed } = await pair();
    connection.open(8, 8, []);
    if (typeof body === 'string') peer.sendFrame(FrameType.ERROR, Buffer.from(body));
    else peer.sendJson(FrameType.ERROR, body);
    const [error] = await closed;
    expect(error).toBeInstanceOf(RemoteError);
    expect(error).toMatchObject({ code, message: text });
    await peer.waitClosed();
    // Nothing is sent back: the peer already knows.
    expect(errorOf(peer)).toBeUndefined();
  });

  it('fail(): one ERROR with the code and message, the socket ends, pending requests fail with it as the cause', async () => {
    const { peer, connection, closed } = await pair();
    connection.open(8, 8, []);
    const pending = connection.request('never answered', undefined, 0, undefined);
    const failure = new HybridwireError('HW_ERR_BAD_MESSAGE', 'that was not a message');
    connection.fail(failure);
    connection.fail(new HybridwireError('HW_ERR_SEQUENCE', 'a second failure'));
    await peer.waitClosed();
    expect(framesOf(peer, FrameType.ERROR)).toHaveLength(1);
    expect(errorOf(peer)).toEqual({ code: 'HW_ERR_BAD_MESSAGE', message: 'that was not a message' });
    expect((await closed)[0]).toBe(failure);
    const rejection = (await pending.catch((error: unknown) => error)) as HybridwireError;
    expect(rejection).toMatchObject({ code: 'HW_ERR_CONNECTION_CLOSED', message: 'connection closed before a reply came: that was not a message', cause: failure });
  });

  it('destroy(error): closed at once, with that error', async () => {
    const { peer, connection, closed } = await pair();
    connection.open(8, 8, []);
    const error = new Error('torn down');
    connection.destroy(error);
    expect((await closed)[0]).toBe(error);
    await peer.waitClosed();
    expect(framesOf(peer, FrameType.ERROR)).toEqual([]);
    expect(() => connection.send('x', 1)).toThrow(expect.objectContaining({ code: 'HW_ERR_NOT_CONNECTED', message: 'cannot send: the connection is closed' }));
  });
});
