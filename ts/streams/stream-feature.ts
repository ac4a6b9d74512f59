/**
 * Streams on a server's or a client's sessions: the handlers of the reserved stream types (which
 * the server or client puts before the application's), a StreamSession per session that
 * negotiated `streams`, and the counters of them all.
 */
import type { EventEmitter } from 'node:events';
import type { Connection, Handler } from '../session/connection.js';
import type { Payload } from '../session/message.js';
import { HybridwireError } from '../errors.js';
import type { HybridwireStream } from './duplex-stream.js';
import { resolveStreamOptions, type StreamLimits, type StreamOptions } from './stream-options.js';
import { StreamSession, type StreamSessionOwner } from './stream-session.js';
import { newStreamTotals, type StreamSessionStats, type StreamTotals } from './stream-stats.js';
import { MAX_NAME_BYTES, STREAMS_FEATURE, STREAM_ACCEPT, STREAM_DATA, STREAM_END, STREAM_OPEN, STREAM_RESET, STREAM_WINDOW, type StreamTransport } from './stream-wire.js';

const STREAM_TYPES = [STREAM_OPEN, STREAM_ACCEPT, STREAM_DATA, STREAM_WINDOW, STREAM_END, STREAM_RESET];

/** The stream sessions of every connection, whoever owns it. */
const sessions = new WeakMap<Connection, StreamSession>();

export interface OpenStreamOptions {
  /** 'tcp' (default) or 'udp': the session's reliable, ordered UDP channel. */
  transport?: StreamTransport;
}

export class StreamFeature implements StreamSessionOwner {
  readonly limits: StreamLimits;
  readonly totals: StreamTotals = newStreamTotals();
  private open = 0;

  /** `emitter` emits 'stream' (stream, its Peer or Client). */
  constructor(
    options: StreamOptions,
    maxFrameSize: number,
    private readonly emitter: EventEmitter,
  ) {
    this.limits = resolveStreamOptions(options, maxFrameSize);
  }

  listening(): boolean {
    return this.emitter.listenerCount('stream') > 0;
  }

  announce(stream: HybridwireStream, context: unknown): void {
    this.emitter.emit('stream', stream, context);
  }

  /** The handlers of the reserved stream types, for a handler table's fallback. */
  handlers(): Map<string, Handler> {
    const table = new Map<string, Handler>();
    for (const type of STREAM_TYPES) {
      table.set(type, (payload: Payload, context: unknown) => {
        const connection = (context as { connection?: Connection } | undefined)?.connection;
        const session = connection === undefined ? undefined : sessions.get(connection);
        if (session === undefined) throw new HybridwireError('HW_ERR_NO_HANDLER', `no handler for message type '${type}': the session did not negotiate streams`);
        session.receive(type, payload);
      });
    }
    return table;
  }

  /** A session has opened: it gets streams if both sides offered them. */
  attach(connection: Connection, context: unknown, initiator: boolean): void {
    if (!connection.features.has(STREAMS_FEATURE)) return;
    sessions.set(connection, new StreamSession(connection, context, this.limits, this, initiator));
  }

  openChanged(delta: number): void {
    this.open += delta;
  }

  /** The counters of every session (closed ones included) and the streams open now. */
  stats(): StreamSessionStats {
    return { open: this.open, ...this.totals };
  }
}

/** Opens a stream on a session (client.openStream(), peer.openStream()). */
export function openStream(connection: Connection, name: string | OpenStreamOptions | undefined, options: OpenStreamOptions | undefined): HybridwireStream {
  if (typeof name === 'object' && name !== null && options === undefined) {
    options = name;
    name = undefined;
  }
  if (name !== undefined && typeof name !== 'string') throw new HybridwireError('HW_ERR_INVALID_ARGUMENT', 'a stream name must be a string');
  const transport = options?.transport ?? 'tcp';
  if (transport !== 'tcp' && transport !== 'udp') throw new HybridwireError('HW_ERR_INVALID_ARGUMENT', `transport must be 'tcp' or 'udp', got ${String(transport)}`);
  const streamName = name ?? '';
  if (Buffer.byteLength(streamName) > MAX_NAME_BYTES) throw new HybridwireError('HW_ERR_INVALID_ARGUMENT', `a stream name is at most ${MAX_NAME_BYTES} UTF-8 bytes`);
  const session = sessions.get(connection);
  if (session === undefined) {
    if (connection.state !== 'open') throw new HybridwireError('HW_ERR_NOT_CONNECTED', `cannot open a stream: the connection is ${connection.state}`);
    throw new HybridwireError('HW_ERR_UNSUPPORTED_FEATURE', 'the peer does not support streams (feature "streams" was not negotiated)');
  }
  return session.open(streamName, transport);
}

/** The stream counters of a session (undefined when it did not negotiate streams). */
export function streamStatsOf(connection: Connection): StreamSessionStats | undefined {
  return sessions.get(connection)?.stats();
}
