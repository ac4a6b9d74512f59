/**
 * ts/qos/send-queue.ts: when a send must wait, the order waiting messages leave in, the client's
 * shaping on an injected clock (its timer under fake timers), and what a closed session does.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { SendQueue, type QueueingSendPath } from '../../ts/qos/send-queue.js';
import { HIGH, LOW, NORMAL } from '../../ts/qos/priority-scheduler.js';
import { clientQos, newQosTotals } from '../../ts/qos/qos-settings.js';
import { MessageKind } from '../../ts/session/message.js';

afterEach(() => {
  vi.useRealTimers();
});

class FakePath implements QueueingSendPath {
  blocked = false;
  readonly sent: string[] = [];
  encodeQueued(_alias: number, _encoding: number, _kind: number, _requestId: number, body: Uint8Array | string): void {
    this.sent.push(String(body));
  }
}

describe('SendQueue without a rate limit', () => {
  it('makes a send wait only while the path is blocked or others wait, and pumps in priority order', () => {
    const path = new FakePath();
    const totals = newQosTotals();
    const queue = new SendQueue(path, { maxFrameSize: 1 << 20 }, totals);
    expect(queue.mustWait(10)).toBe(false);
    path.blocked = true;
    expect(queue.mustWait(10)).toBe(true);
    queue.enqueue(LOW, 1, 0, MessageKind.MESSAGE, 0, 'low', 30);
    queue.enqueue(NORMAL, 1, 0, MessageKind.MESSAGE, 0, 'normal', 30);
    queue.enqueue(HIGH, 1, 0, MessageKind.MESSAGE, 0, 'high', 30);
    path.blocked = false;
    // Others wait: a new send queues behind them, whatever the path.
    expect(queue.mustWait(10)).toBe(true);
    expect(queue.bytes).toBe(90);
    expect(totals.waiting).toEqual([1, 1, 1]);
    queue.pump();
    expect(path.sent).toEqual(['high', 'normal', 'low']);
    expect(totals).toMatchObject({ queued: [1, 1, 1], sent: [1, 1, 1], waiting: [0, 0, 0] });
  });

  it('stops pumping as soon as the path blocks again', () => {
    const path = new FakePath();
    const queue = new SendQueue(path, { maxFrameSize: 1 << 20 }, newQosTotals());
    path.blocked = true;
    for (let i = 0; i < 5; i++) queue.enqueue(NORMAL, 1, 0, MessageKind.MESSAGE, 0, `m${i}`, 30);
    path.blocked = false;
    path.encodeQueued = function (this: FakePath, ...args) {
      FakePath.prototype.encodeQueued.apply(this, args);
      if (this.sent.length === 2) this.blocked = true;
    };
    queue.pump();
    expect(path.sent).toEqual(['m0', 'm1']);
    expect(queue.length).toBe(3);
  });

  it('refuses at once a message the encoder would refuse as too large', () => {
    const queue = new SendQueue(new FakePath(), { maxFrameSize: 1024 }, newQosTotals());
    expect(() => queue.enqueue(NORMAL, 1, 0, MessageKind.REQUEST, 7, 'x'.repeat(1017), 1041)).toThrow(expect.objectContaining({ code: 'HW_ERR_FRAME_TOO_LARGE' }));
    expect(queue.length).toBe(0);
  });

  it('once stopped, drops what waits (counted out of waiting) and refuses more', () => {
    const path = new FakePath();
    const totals = newQosTotals();
    const queue = new SendQueue(path, { maxFrameSize: 1 << 20 }, totals);
    path.blocked = true;
    queue.enqueue(HIGH, 1, 0, MessageKind.MESSAGE, 0, 'a', 30);
    queue.stop();
    expect(totals.waiting).toEqual([0, 0, 0]);
    expect(() => queue.enqueue(HIGH, 1, 0, MessageKind.MESSAGE, 0, 'b', 30)).toThrow(expect.objectContaining({ code: 'HW_ERR_NOT_CONNECTED' }));
  });
});

describe('SendQueue with a rate limit (client shaping)', () => {
  it('lets the burst through, queues the rest, and its timer sends them as tokens refill', () => {
    vi.useFakeTimers();
    let now = 0;
    const settings = { ...clientQos({ rateLimit: { messagesPerSecond: 10, burst: 2 } }), clock: () => now };
    const path = new FakePath();
    const queue = new SendQueue(path, { maxFrameSize: 1 << 20, qos: settings }, settings.totals);
    const sent: string[] = [];
    for (let i = 0; i < 5; i++) {
      if (queue.mustWait(30)) queue.enqueue(NORMAL, 1, 0, MessageKind.MESSAGE, 0, `m${i}`, 30);
      else sent.push(`m${i}`);
    }
    expect(sent).toEqual(['m0', 'm1']);
    expect(path.sent).toEqual([]);
    now = 100;
    vi.advanceTimersByTime(100);
    expect(path.sent).toEqual(['m2']);
    now = 300;
    vi.advanceTimersByTime(200);
    expect(path.sent).toEqual(['m2', 'm3', 'm4']);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('stop() clears its timer', () => {
    vi.useFakeTimers();
    const settings = { ...clientQos({ rateLimit: { messagesPerSecond: 1, burst: 1 } }), clock: () => 0 };
    const queue = new SendQueue(new FakePath(), { maxFrameSize: 1 << 20, qos: settings }, settings.totals);
    expect(queue.mustWait(1)).toBe(false);
    queue.enqueue(NORMAL, 1, 0, MessageKind.MESSAGE, 0, 'm', 30);
    expect(vi.getTimerCount()).toBe(1);
    queue.stop();
    expect(vi.getTimerCount()).toBe(0);
  });
});
