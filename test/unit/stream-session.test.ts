/**
 * ts/streams/stream-session.ts against a recording connection: ids, the limit, refusals, routing,
 * the checks of what a peer sends, waiting for the session's queue, and the session's close.
 */
import { describe, expect, it } from 'vitest';
import { StreamSession } from '../../ts/streams/stream-session.js';
import { resolveStreamOptions, type StreamOptions } from '../../ts/streams/stream-options.js';
import { STREAM_ACCEPT, STREAM_DATA, STREAM_END, STREAM_OPEN, STREAM_RESET, STREAM_WINDOW, encodeData } from '../../ts/streams/stream-wire.js';
import { FakeConnection, FakeOwner } from '../support/stream-fakes.js';

function session(options: StreamOptions = {}, initiator = true) {
  const connection = new FakeConnection();
  const owner = new FakeOwner();
  const streams = new StreamSession(connection.asConnection(), 'context', resolveStreamOptions(options, 1 << 20), owner, initiator);
  return { connection, owner, streams };
}

const data = (id: number, bytes: number) => encodeData(id, Buffer.alloc(bytes, 1), 0, bytes);

describe('StreamSession', () => {
  it('opens odd ids on the client and even ids on the server, in order', () => {
    const client = session();
    expect([client.streams.open('a', 'tcp').id, client.streams.open('b', 'tcp').id]).toEqual([1, 3]);
    expect(client.connection.bodies(STREAM_OPEN)).toEqual([
      { id: 1, name: 'a', window: 262144, transport: 'tcp' },
      { id: 3, name: 'b', window: 262144, transport: 'tcp' },
    ]);
    const server = session({}, false);
    expect(server.streams.open('c', 'tcp').id).toBe(2);
    expect(client.streams.stats()).toMatchObject({ open: 2, opened: 2 });
  });

  it('sends every message of a UDP stream reliably over UDP, and refuses one without a UDP path', () => {
    const { connection, streams } = session();
    expect(() => streams.open('u', 'udp')).toThrow(expect.objectContaining({ code: 'HW_ERR_UDP_UNAVAILABLE' }));
    connection.udpPath = {};
    const stream = streams.open('u', 'udp');
    streams.receive(STREAM_ACCEPT, { id: stream.id, window: 100 });
    stream.write('hi');
    stream.end();
    expect(connection.sent.map((message) => [message.type, message.options])).toEqual([
      [STREAM_OPEN, { transport: 'udp', reliable: true }],
      [STREAM_DATA, { transport: 'udp', reliable: true }],
      [STREAM_END, { transport: 'udp', reliable: true }],
    ]);
  });

  it('accepts a peer stream before announcing it, and refuses past maxStreams or without a listener', () => {
    const { connection, owner, streams } = session({ maxStreams: 1 }, false);
    streams.receive(STREAM_OPEN, { id: 1, name: 'first', window: 10, transport: 'tcp' });
    expect(connection.sent[0]).toMatchObject({ type: STREAM_ACCEPT, body: { id: 1, window: 262144 } });
    expect(owner.announced.map((stream) => [stream.name, stream.sendCredit])).toEqual([['first', 10]]);
    streams.receive(STREAM_OPEN, { id: 3, name: 'second', window: 10, transport: 'tcp' });
    expect(connection.sent[1]).toMatchObject({ type: STREAM_RESET, body: { id: 3, code: 'HW_ERR_STREAM_LIMIT' } });
    owner.listens = false;
    owner.announced[0]!.destroy();
    streams.receive(STREAM_OPEN, { id: 5, name: 'third', window: 10, transport: 'tcp' });
    expect(connection.bodies(STREAM_RESET).at(-1)).toMatchObject({ id: 5, code: 'HW_ERR_NO_HANDLER' });
    expect(streams.stats()).toMatchObject({ accepted: 1, refused: 2, open: 0 });
    expect(connection.failures).toEqual([]);
  });

  it('closes the session for data past the credit it granted (HW_ERR_FLOW_CONTROL)', () => {
    const { connection, owner, streams } = session({ streamWindowBytes: 1024 }, false);
    streams.receive(STREAM_OPEN, { id: 1, name: '', window: 0, transport: 'tcp' });
    const stream = owner.announced[0]!;
    stream.pause();
    streams.receive(STREAM_DATA, data(1, 1000));
    streams.receive(STREAM_DATA, data(1, 24));
    expect(connection.failures).toEqual([]);
    streams.receive(STREAM_DATA, data(1, 1));
    expect(connection.failures.map((failure) => failure.code)).toEqual(['HW_ERR_FLOW_CONTROL']);
    expect(stream.bytesIn).toBe(1024);
    expect(streams.stats().flowControlErrors).toBe(1);
    expect(owner.totals.flowControlErrors).toBe(1);
  });

  it('closes the session for credit past 2^31 - 1', () => {
    const { connection, streams } = session();
    const stream = streams.open('', 'tcp');
    streams.receive(STREAM_ACCEPT, { id: stream.id, window: 2 ** 31 - 11 });
    streams.receive(STREAM_WINDOW, { id: stream.id, increment: 10 });
    expect(connection.failures).toEqual([]);
    streams.receive(STREAM_WINDOW, { id: stream.id, increment: 1 });
    expect(connection.failures.map((failure) => failure.code)).toEqual(['HW_ERR_FLOW_CONTROL']);
  });

  it.each([
    ['data for a stream never opened', STREAM_DATA, () => data(7, 1)],
    ['an accept for a stream the peer opened', STREAM_ACCEPT, () => ({ id: 2, window: 1 })],
    ['an accept for an id never opened', STREAM_ACCEPT, () => ({ id: 5, window: 1 })],
    ['an open of this side\'s parity', STREAM_OPEN, () => ({ id: 1, name: '', window: 1, transport: 'tcp' })],
    ['a malformed window', STREAM_WINDOW, () => ({ id: 1 })],
  ])('closes the session for %s (HW_ERR_BAD_MESSAGE)', (_what, type, body) => {
    const { connection, streams } = session();
    streams.open('', 'tcp');
    streams.receive(type, body());
    expect(connection.failures.map((failure) => failure.code)).toEqual(['HW_ERR_BAD_MESSAGE']);
  });

  it('drops what arrives for a stream that has ended: it may have been in flight', () => {
    const { connection, streams } = session();
    const stream = streams.open('', 'tcp');
    stream.on('error', () => {});
    stream.destroy();
    expect(connection.bodies(STREAM_RESET)).toEqual([{ id: 1, code: 'HW_ERR_STREAM_RESET', message: 'stream destroyed' }]);
    streams.receive(STREAM_ACCEPT, { id: 1, window: 10 });
    streams.receive(STREAM_DATA, data(1, 5));
    streams.receive(STREAM_END, { id: 1 });
    streams.receive(STREAM_RESET, { id: 1, code: 'X' });
    expect(connection.failures).toEqual([]);
    expect(streams.stats()).toMatchObject({ open: 0, resetsSent: 1, resetsReceived: 0 });
  });

  it('holds data while the session queue is full, and sends it on the session\'s drain', () => {
    const { connection, streams } = session();
    const first = streams.open('first', 'tcp');
    const second = streams.open('second', 'tcp');
    streams.receive(STREAM_ACCEPT, { id: 1, window: 1000 });
    streams.receive(STREAM_ACCEPT, { id: 3, window: 1000 });
    connection.room = false;
    first.write(Buffer.alloc(10));
    second.write(Buffer.alloc(10));
    // The first write found the queue full; the second waits without sending.
    expect(connection.bodies(STREAM_DATA).length).toBe(1);
    connection.room = true;
    connection.emit('drain');
    expect(connection.bodies(STREAM_DATA).length).toBe(2);
    expect(second.bytesOut).toBe(10);
  });

  it('ends its streams when the session closes: with an error for a failure, without for a graceful close', () => {
    const { connection, owner, streams } = session();
    const stream = streams.open('', 'tcp');
    const errors: string[] = [];
    stream.on('error', (error: Error & { code: string }) => errors.push(error.code));
    connection.emit('close', new Error('reset by peer'));
    expect(stream.destroyed).toBe(true);
    expect(stream.state).toBe('reset');
    expect(owner.open).toBe(0);
    expect(() => streams.open('', 'tcp')).toThrow(expect.objectContaining({ code: 'HW_ERR_NOT_CONNECTED' }));
    return new Promise<void>((resolve) => setImmediate(() => {
      expect(errors).toEqual(['HW_ERR_CONNECTION_CLOSED']);
      resolve();
    }));
  });
});
