/** ts/session/socket-write.ts: one buffer as it is, a few small ones joined, more corked; bytes counted. */
import { describe, expect, it } from 'vitest';
import { writeBuffers } from '../../ts/session/socket-write.js';
import { FakeSocket } from '../support/fake-socket.js';

describe('writeBuffers', () => {
  it('writes one buffer as it is, joins up to four small ones, and writes more one by one', () => {
    const socket = new FakeSocket();
    const counts = { bytesOut: 0 };
    const one = Buffer.from('abc');
    writeBuffers(socket.asSocket(), [one], 1, counts);
    expect(socket.writes[0]).toEqual(one);
    writeBuffers(socket.asSocket(), [Buffer.from('de'), Buffer.from('fg'), Buffer.from('unused')], 2, counts);
    expect(socket.writes[1]!.toString()).toBe('defg');
    const many = Array.from({ length: 5 }, (_, i) => Buffer.from(String(i)));
    writeBuffers(socket.asSocket(), many, 5, counts);
    expect(socket.writes.slice(2).map(String)).toEqual(['0', '1', '2', '3', '4']);
    expect(counts.bytesOut).toBe(3 + 4 + 5);
  });

  it('returns false when the socket says its buffer is full', () => {
    const socket = new FakeSocket();
    socket.write = () => false;
    expect(writeBuffers(socket.asSocket(), [Buffer.from('x')], 1, { bytesOut: 0 })).toBe(false);
  });
});
