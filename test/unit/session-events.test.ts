import { EventEmitter, once } from 'node:events';
import { describe, expect, it } from 'vitest';
import { deferListenerTable } from '../../ts/session/session-events.js';

class Deferred extends EventEmitter<{ ping: [n: number]; error: [error: Error] }> {
  constructor() {
    super();
    deferListenerTable(this);
  }
}

describe('deferListenerTable', () => {
  it('leaves the emitter without a listener table until its first listener', () => {
    const emitter = new Deferred();
    expect((emitter as unknown as { _events: unknown })._events).toBeUndefined();
    expect(emitter.emit('ping', 1)).toBe(false);
    expect(emitter.listenerCount('ping')).toBe(0);
    expect(emitter.eventNames()).toEqual([]);
    emitter.off('ping', () => {});
    emitter.removeAllListeners();
    expect((emitter as unknown as { _events: unknown })._events).toBeUndefined();
  });

  it('behaves as any emitter once listened to: on, once, off, and the error rule', async () => {
    const emitter = new Deferred();
    const heard: number[] = [];
    const listener = (n: number) => heard.push(n);
    emitter.on('ping', listener);
    emitter.once('ping', (n) => heard.push(n * 10));
    expect(emitter.emit('ping', 1)).toBe(true);
    emitter.emit('ping', 2);
    emitter.off('ping', listener);
    emitter.emit('ping', 3);
    expect(heard).toEqual([1, 10, 2]);
    const waited = once(emitter, 'ping');
    emitter.emit('ping', 4);
    expect(await waited).toEqual([4]);
    // An 'error' nobody hears is thrown, with a table or without one.
    expect(() => new Deferred().emit('error', new Error('unheard'))).toThrow('unheard');
    expect(() => emitter.emit('error', new Error('still unheard'))).toThrow('still unheard');
  });
});
