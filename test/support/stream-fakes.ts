/**
 * Stand-ins for the session around ts/streams in unit tests: a connection that records what is
 * sent (and can say its queue is full), and the owner that hears announced streams.
 */
import { EventEmitter } from 'node:events';
import type { Connection, SendOptions } from '../../ts/session/connection.js';
import type { Payload } from '../../ts/session/message.js';
import type { HybridwireStream } from '../../ts/streams/duplex-stream.js';
import type { StreamSessionOwner } from '../../ts/streams/stream-session.js';
import { newStreamTotals } from '../../ts/streams/stream-stats.js';

export interface SentMessage {
  type: string;
  body: Payload;
  options: SendOptions | undefined;
}

export class FakeConnection extends EventEmitter {
  readonly sent: SentMessage[] = [];
  readonly failures: Array<{ code: string; message: string }> = [];
  features: ReadonlySet<string> = new Set(['streams']);
  state = 'open';
  udpPath: object | undefined = undefined;
  /** What send() returns: false says the queue is past its high-water mark. */
  room = true;

  send(type: string, body: Payload, options?: SendOptions): boolean {
    this.sent.push({ type, body: body instanceof Uint8Array ? Buffer.from(body) : body, options });
    return this.room;
  }

  fail(error: { code: string; message: string }): void {
    this.failures.push(error);
  }

  /** Messages of `type` sent so far, their bodies. */
  bodies(type: string): Payload[] {
    return this.sent.filter((message) => message.type === type).map((message) => message.body);
  }

  asConnection(): Connection {
    return this as unknown as Connection;
  }
}

export class FakeOwner implements StreamSessionOwner {
  readonly totals = newStreamTotals();
  readonly announced: HybridwireStream[] = [];
  open = 0;
  listens = true;

  listening(): boolean {
    return this.listens;
  }

  announce(stream: HybridwireStream): void {
    this.announced.push(stream);
  }

  openChanged(delta: number): void {
    this.open += delta;
  }
}
