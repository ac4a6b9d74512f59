/**
 * ts/pubsub/subscription.ts: iteration, the callback form, the bounded buffer, and the end.
 */
import { describe, expect, it } from 'vitest';
import { Subscription } from '../../ts/pubsub/subscription.js';
import type { PubsubMessage } from '../../ts/pubsub/wire.js';

const message = (payload: number): PubsubMessage => ({ topic: 't', payload, qos: 0, retain: false });

describe('Subscription', () => {
  it('yields buffered and waiting messages in order; ends on unsubscribe', async () => {
    const removed: Subscription[] = [];
    const subscription = new Subscription('t', 0, undefined, async (s) => void removed.push(s));
    subscription.push(message(1));
    const iterator = subscription[Symbol.asyncIterator]();
    expect((await iterator.next()).value).toEqual(message(1));
    const waiting = iterator.next();
    subscription.push(message(2));
    expect((await waiting).value).toEqual(message(2));
    const pending = iterator.next();
    await subscription.unsubscribe();
    expect((await pending).done).toBe(true);
    expect(removed).toEqual([subscription]);
    subscription.push(message(3));
    expect((await iterator.next()).done).toBe(true);
  });

  it('keeps at most maxBuffered messages, dropping the oldest and counting them', async () => {
    const subscription = new Subscription('t', 0, undefined, async () => {}, 2);
    for (let i = 1; i <= 4; i++) subscription.push(message(i));
    expect(subscription.dropped).toBe(2);
    const iterator = subscription[Symbol.asyncIterator]();
    expect([(await iterator.next()).value, (await iterator.next()).value]).toEqual([message(3), message(4)]);
  });

  it('calls its handler instead of buffering; leaving a for-await loop unsubscribes', async () => {
    const seen: PubsubMessage[] = [];
    const handled = new Subscription('t', 1, (m) => seen.push(m), async () => {});
    handled.push(message(1));
    expect(seen).toEqual([message(1)]);
    let removed = 0;
    const iterated = new Subscription('t', 0, undefined, async () => void removed++);
    iterated.push(message(1));
    for await (const m of iterated) {
      expect(m).toEqual(message(1));
      break;
    }
    expect(removed).toBe(1);
  });
});
