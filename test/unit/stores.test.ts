/**
 * ts/pubsub/stores.ts: the in-memory session and retained stores (order kept, matching by filter).
 */
import { describe, expect, it } from 'vitest';
import { MemoryRetainedStore, MemorySessionStore, newSessionState, type RetainedMessage } from '../../ts/pubsub/stores.js';

const retained = (topic: string): RetainedMessage => ({ topic, qos: 0, encoding: 0, body: Buffer.from(topic), expiresAt: undefined });

describe('MemorySessionStore', () => {
  it('keeps states by identity and commits at once', () => {
    const store = new MemorySessionStore();
    const state = newSessionState('c', true, 10);
    store.set(state);
    store.changed(state);
    expect(store.commit()).toBeUndefined();
    expect(store.get('c')).toBe(state);
    expect([...store.values()]).toEqual([state]);
    store.delete('c');
    expect(store.size).toBe(0);
  });
});

describe('MemoryRetainedStore', () => {
  it('holds one message per topic, matches exact and wildcard filters, in the order last stored', () => {
    const store = new MemoryRetainedStore();
    store.set(retained('a/1'));
    store.set(retained('a/2'));
    store.set(retained('$SYS/x'));
    store.set(retained('a/1'));
    expect(store.size).toBe(3);
    expect([...store.match('a/+')].map((m) => m.topic)).toEqual(['a/2', 'a/1']);
    expect([...store.match('a/2')].map((m) => m.topic)).toEqual(['a/2']);
    expect([...store.match('#')].map((m) => m.topic)).toEqual(['a/2', 'a/1']);
    expect([...store.match('nothing')]).toEqual([]);
    store.delete('a/2');
    expect(store.get('a/2')).toBeUndefined();
    expect(store.commit()).toBeUndefined();
  });
});
