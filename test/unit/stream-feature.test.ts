/** ts/streams/stream-feature.ts: openStream()'s arguments, and sessions with and without the feature. */
import { EventEmitter } from 'node:events';
import { describe, expect, it } from 'vitest';
import { StreamFeature, openStream, streamStatsOf } from '../../ts/streams/stream-feature.js';
import { STREAM_OPEN } from '../../ts/streams/stream-wire.js';
import { FakeConnection } from '../support/stream-fakes.js';

function attached(features = ['streams']) {
  const emitter = new EventEmitter();
  const feature = new StreamFeature({}, 1 << 20, emitter);
  const connection = new FakeConnection();
  connection.features = new Set(features);
  feature.attach(connection.asConnection(), { connection }, true);
  return { emitter, feature, connection };
}

describe('openStream', () => {
  it('takes a name, options, both or neither', () => {
    const { connection } = attached();
    expect(openStream(connection.asConnection(), 'a', undefined).name).toBe('a');
    expect(openStream(connection.asConnection(), { transport: 'tcp' }, undefined).name).toBe('');
    expect(openStream(connection.asConnection(), undefined, undefined).transport).toBe('tcp');
    expect(connection.bodies(STREAM_OPEN).length).toBe(3);
  });

  it('refuses bad arguments with HW_ERR_INVALID_ARGUMENT, sending nothing', () => {
    const { connection } = attached();
    const session = connection.asConnection();
    expect(() => openStream(session, 5 as never, undefined)).toThrow(expect.objectContaining({ code: 'HW_ERR_INVALID_ARGUMENT' }));
    expect(() => openStream(session, 'x', { transport: 'quic' as never })).toThrow(expect.objectContaining({ code: 'HW_ERR_INVALID_ARGUMENT' }));
    expect(() => openStream(session, 'x'.repeat(1025), undefined)).toThrow(expect.objectContaining({ code: 'HW_ERR_INVALID_ARGUMENT' }));
    expect(connection.sent).toEqual([]);
  });

  it('refuses a session that did not negotiate streams, or is not open', () => {
    const { connection } = attached(['json']);
    expect(() => openStream(connection.asConnection(), 'x', undefined)).toThrow(expect.objectContaining({ code: 'HW_ERR_UNSUPPORTED_FEATURE' }));
    connection.state = 'closed';
    expect(() => openStream(connection.asConnection(), 'x', undefined)).toThrow(expect.objectContaining({ code: 'HW_ERR_NOT_CONNECTED' }));
    expect(streamStatsOf(connection.asConnection())).toBeUndefined();
  });
});

describe('StreamFeature', () => {
  it("routes the reserved types to the session's streams, and counts them all", () => {
    const { emitter, feature, connection } = attached();
    const announced: unknown[] = [];
    emitter.on('stream', (stream, context) => announced.push([stream.name, context]));
    const handlers = feature.handlers();
    expect([...handlers.keys()].every((type) => type.startsWith('hybridwire:stream.'))).toBe(true);
    handlers.get(STREAM_OPEN)!({ id: 2, name: 'pushed', window: 10, transport: 'tcp' }, { connection }, undefined as never);
    expect(announced).toEqual([['pushed', { connection }]]);
    expect(feature.stats()).toMatchObject({ open: 1, accepted: 1 });
    expect(streamStatsOf(connection.asConnection())).toMatchObject({ open: 1, accepted: 1 });
  });

  it('answers a session without the feature with HW_ERR_NO_HANDLER', () => {
    const { feature, connection } = attached(['json']);
    expect(() => feature.handlers().get(STREAM_OPEN)!({ id: 2, name: '', window: 1, transport: 'tcp' }, { connection }, undefined as never)).toThrow(
      expect.objectContaining({ code: 'HW_ERR_NO_HANDLER' }),
    );
  });
});
