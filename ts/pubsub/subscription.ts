/**
 * What client.subscribe() resolves to: an async iterable of the messages its filter brings, or,
 * in the callback form, the handle of a handler. Messages wait for the iterator in a bounded
 * buffer: past `maxBuffered` the oldest are dropped and counted in `dropped`.
 */
import type { PubsubMessage } from './wire.js';

/** Messages held for an iterator that has not asked for them yet. */
export const DEFAULT_MAX_BUFFERED = 10_000;

export class Subscription implements AsyncIterable<PubsubMessage> {
  /** Messages dropped because the iterator fell more than maxBuffered behind. */
  dropped = 0;
  private readonly buffer: PubsubMessage[] = [];
  private waiting: ((result: IteratorResult<PubsubMessage>) => void) | undefined;
  private ended = false;

  constructor(
    /** The filter as subscribed (`$share/GROUP/filter` included, `*` written as given). */
    readonly filter: string,
    /** The QoS the server granted (the one asked for until it has answered). */
    public qos: number,
    private readonly handler: ((message: PubsubMessage) => void) | undefined,
    private readonly remove: (subscription: Subscription) => Promise<void>,
    private readonly maxBuffered = DEFAULT_MAX_BUFFERED,
  ) {}

  /** Stops this subscription (the server's, once no other Subscription of this client has its filter). */
  unsubscribe(): Promise<void> {
    if (this.ended) return Promise.resolve();
    this.end();
    return this.remove(this);
  }

  /** @internal A message for this subscription. */
  push(message: PubsubMessage): void {
    if (this.ended) return;
    if (this.handler !== undefined) {
      this.handler(message);
      return;
    }
    const waiting = this.waiting;
    if (waiting !== undefined) {
      this.waiting = undefined;
      waiting({ value: message, done: false });
      return;
    }
    this.buffer.push(message);
    if (this.buffer.length > this.maxBuffered) {
      this.buffer.shift();
      this.dropped++;
    }
  }

  /** @internal No more messages will come (unsubscribed, or the client closed). */
  end(): void {
    if (this.ended) return;
    this.ended = true;
    const waiting = this.waiting;
    this.waiting = undefined;
    waiting?.({ value: undefined, done: true });
  }

  [Symbol.asyncIterator](): AsyncIterator<PubsubMessage> {
    return {
      next: () => {
        const message = this.buffer.shift();
        if (message !== undefined) return Promise.resolve({ value: message, done: false });
        if (this.ended) return Promise.resolve({ value: undefined, done: true });
        return new Promise((resolve) => (this.waiting = resolve));
      },
      // Leaving a for-await loop early ends the subscription.
      return: async () => {
        await this.unsubscribe();
        return { value: undefined, done: true };
      },
    };
  }
}
