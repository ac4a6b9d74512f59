import { describe, expect, it } from 'vitest';
import { DeliveryWindow } from '../../ts/session/delivery-window.js';
import { FrameType, ROW_WIDTH } from '../../ts/codec/frame.js';

/** A decoded-row table as the frame decoder writes it: only type and sequence matter here. */
function rows(frames: Array<[type: number, sequence: number]>): Uint32Array {
  const table = new Uint32Array(frames.length * ROW_WIDTH);
  frames.forEach(([type, sequence], i) => {
    table[i * ROW_WIDTH + 2] = type;
    table[i * ROW_WIDTH + 5] = sequence;
  });
  return table;
}

describe('DeliveryWindow, send side', () => {
  it('grants sequence numbers up to the window and frees them as acks arrive', () => {
    const window = new DeliveryWindow(4, 4);
    expect(window.reserve(3)).toBe(3);
    expect(window.reserve(3)).toBe(1);
    expect(window.reserve(1)).toBe(0);
    expect(window.inFlight).toBe(4);
    expect(window.available).toBe(0);
    expect(window.acknowledge(2)).toBe(2);
    expect(window.available).toBe(2);
    expect(window.acknowledge(2)).toBe(0);
    expect(window.acknowledge(4)).toBe(2);
    expect(window.inFlight).toBe(0);
  });

  it('refuses an ack for frames never sent, and one that moves backwards', () => {
    const window = new DeliveryWindow(8, 8);
    window.reserve(2);
    expect(window.acknowledge(3)).toBe(-1);
    expect(window.acknowledge(2)).toBe(2);
    expect(window.acknowledge(1)).toBe(-1);
    expect(window.inFlight).toBe(0);
  });

  it('step mode (a window of one) lets one frame out at a time; a zero window counts as one', () => {
    for (const size of [1, 0]) {
      const window = new DeliveryWindow(size, size);
      expect(window.reserve(5)).toBe(1);
      expect(window.reserve(1)).toBe(0);
      expect(window.acknowledge(1)).toBe(1);
      expect(window.reserve(1)).toBe(1);
    }
  });

  it('keeps counting across the u32 wrap of sequence numbers', () => {
    const size = 1 << 20;
    const window = new DeliveryWindow(size, size);
    let acked = 0;
    for (let i = 0; i < 4096; i++) {
      expect(window.reserve(size)).toBe(size);
      acked = (acked + size) >>> 0;
      expect(window.acknowledge(acked)).toBe(size);
    }
    expect(acked).toBe(0);
    expect(window.reserve(3)).toBe(3);
    expect(window.acknowledge(0xffffffff)).toBe(-1);
    expect(window.acknowledge(3)).toBe(3);
  });
});

describe('DeliveryWindow, receive side', () => {
  it('accepts sequenced frames in order and skips the ones that carry no stream sequence', () => {
    const window = new DeliveryWindow(8, 8);
    const table = rows([
      [FrameType.TYPE_DEF, 0],
      [FrameType.ACK, 77],
      [FrameType.MESSAGE, 1],
      [FrameType.PING, 5],
      [FrameType.MESSAGE, 2],
    ]);
    expect(window.accept(table, 0, 5)).toBe(5);
    expect(window.nextExpected).toBe(3);
    expect(window.unacknowledged).toBe(3);
    window.acked();
    expect(window.unacknowledged).toBe(0);
    expect(window.nextExpected).toBe(3);
  });

  it('returns the index of the first frame out of sequence, having accepted those before it', () => {
    const window = new DeliveryWindow(8, 8);
    const table = rows([
      [FrameType.MESSAGE, 0],
      [FrameType.MESSAGE, 1],
      [FrameType.MESSAGE, 3],
      [FrameType.MESSAGE, 4],
    ]);
    expect(window.accept(table, 0, 4)).toBe(2);
    expect(window.nextExpected).toBe(2);
    const repeated = new DeliveryWindow(8, 8);
    expect(repeated.accept(rows([[FrameType.MESSAGE, 0], [FrameType.MESSAGE, 0]]), 0, 2)).toBe(1);
  });

  it('starts at the given row, and counts what it accepts until an ACK goes out', () => {
    const window = new DeliveryWindow(2, 2);
    const table = rows([
      [FrameType.HELLO_DONE, 9],
      [FrameType.MESSAGE, 0],
      [FrameType.MESSAGE, 1],
      [FrameType.MESSAGE, 2],
    ]);
    expect(window.accept(table, 1, 4)).toBe(4);
    // Over the window: the connection closes with HW_ERR_WINDOW_OVERFLOW on this.
    expect(window.unacknowledged).toBeGreaterThan(window.receiveWindow);
  });

  it('follows the stream across the u32 wrap', () => {
    const window = new DeliveryWindow(8, 8);
    window.nextExpected = 0xfffffffe;
    const table = rows([
      [FrameType.MESSAGE, 0xfffffffe],
      [FrameType.MESSAGE, 0xffffffff],
      [FrameType.MESSAGE, 0],
      [FrameType.MESSAGE, 1],
    ]);
    expect(window.accept(table, 0, 4)).toBe(4);
    expect(window.nextExpected).toBe(2);
  });

  it('goes back to the first sequenced frame not yet processed, so that no ACK covers it, and takes it again later', () => {
    const window = new DeliveryWindow(8, 8);
    const table = rows([
      [FrameType.TYPE_DEF, 0],
      [FrameType.MESSAGE, 1],
      [FrameType.PING, 7],
      [FrameType.MESSAGE, 2],
    ]);
    expect(window.accept(table, 0, 4)).toBe(4);
    expect(window.nextExpected).toBe(3);
    // Processing stopped at row 1: rows 1 to 3 wait.
    window.unaccept(table, 1, 4);
    expect(window.nextExpected).toBe(1);
    expect(window.unacknowledged).toBe(1);
    window.acked();
    expect(window.accept(table, 1, 4)).toBe(4);
    expect(window.nextExpected).toBe(3);
    expect(window.unacknowledged).toBe(2);
    // Stopped at a frame without a stream sequence, with none after it: nothing to go back on.
    window.unaccept(table, 2, 3);
    expect(window.nextExpected).toBe(3);
  });
});
