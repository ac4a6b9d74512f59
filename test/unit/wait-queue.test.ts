import { describe, expect, it } from 'vitest';
import { join, WaitQueue } from '../../ts/reliable/wait-queue.js';
import { SendStatus } from '../../ts/native/layouts.js';
import type { NativeReliableEndpoint } from '../../ts/native/addon.js';

/** A native send buffer stand-in that takes `room` messages, then refuses. */
function sink(room: number): { handle: NativeReliableEndpoint; taken: Array<[string, number, number, number]> } {
  const taken: Array<[string, number, number, number]> = [];
  const handle = {
    send(payload: Uint8Array, reliability: number, channel: number, flags: number): number {
      if (taken.length >= room) return SendStatus.WOULD_BLOCK;
      taken.push([Buffer.from(payload).toString(), reliability, channel, flags]);
      return SendStatus.OK;
    },
  } as unknown as NativeReliableEndpoint;
  return { handle, taken };
}

describe('WaitQueue', () => {
  it('moves waiting messages in order while the send buffer takes them, and counts the bytes left', () => {
    const queue = new WaitQueue();
    expect(queue.empty).toBe(true);
    queue.push(Buffer.from('one'), 1, 2, 0);
    queue.push(Buffer.from('three'), 0, 5, 1);
    queue.push(Buffer.from('sixsix'), 2, 7, 0);
    expect(queue.bytes).toBe(14);
    const first = sink(2);
    expect(queue.moveInto(first.handle)).toBe(true);
    expect(first.taken).toEqual([
      ['one', 1, 2, 0],
      ['three', 0, 5, 1],
    ]);
    expect(queue.empty).toBe(false);
    expect(queue.bytes).toBe(6);
    expect(queue.moveInto(sink(0).handle)).toBe(false);
    const second = sink(5);
    expect(queue.moveInto(second.handle)).toBe(true);
    expect(second.taken).toEqual([['sixsix', 2, 7, 0]]);
    expect(queue.empty).toBe(true);
    expect(queue.bytes).toBe(0);
  });

  it('forgets everything on clear', () => {
    const queue = new WaitQueue();
    queue.push(Buffer.from('x'), 0, 0, 0);
    queue.clear();
    expect(queue.empty).toBe(true);
    expect(queue.bytes).toBe(0);
    expect(queue.moveInto(sink(5).handle)).toBe(false);
  });
});

describe('join', () => {
  it('joins a prefix\'s first bytes and a body, bytes or UTF-8 text', () => {
    expect(join(Buffer.from('abcdef'), 3, Buffer.from('XY')).toString()).toBe('abcXY');
    expect(join(Buffer.from('ab'), 2, 'é!').toString()).toBe('abé!');
    expect(join(Buffer.alloc(0), 0, '').length).toBe(0);
  });
});
