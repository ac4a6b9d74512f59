/** ts/qos/priority-scheduler.ts: deficit round robin 8:4:1 by bytes over three FIFO queues. */
import { describe, expect, it } from 'vitest';
import { HIGH, LOW, NORMAL, PriorityScheduler, QUANTUM_BYTES, checkedPriority, priorityIndex } from '../../ts/qos/priority-scheduler.js';

interface Message {
  size: number;
  label: string;
}

function drain(scheduler: PriorityScheduler<Message>): string[] {
  const out: string[] = [];
  while (scheduler.length > 0) out.push(scheduler.shift().label);
  return out;
}

describe('PriorityScheduler', () => {
  it('sends small high-priority messages first, then normal, then low, each queue in order', () => {
    const scheduler = new PriorityScheduler<Message>();
    for (let i = 0; i < 3; i++) {
      scheduler.push(LOW, { size: 100, label: `low${i}` });
      scheduler.push(NORMAL, { size: 100, label: `normal${i}` });
      scheduler.push(HIGH, { size: 100, label: `high${i}` });
    }
    expect(scheduler.length).toBe(9);
    expect(scheduler.bytes).toBe(900);
    expect(drain(scheduler)).toEqual(['high0', 'high1', 'high2', 'normal0', 'normal1', 'normal2', 'low0', 'low1', 'low2']);
    expect(scheduler.bytes).toBe(0);
  });

  it('shares bytes 8:4:1 while every queue is busy', () => {
    const scheduler = new PriorityScheduler<Message>();
    for (let i = 0; i < 1300; i++) {
      scheduler.push(HIGH, { size: 256, label: 'high' });
      scheduler.push(NORMAL, { size: 256, label: 'normal' });
      scheduler.push(LOW, { size: 256, label: 'low' });
    }
    // A round is 128 + 64 + 16 messages of 256 bytes (32, 16 and 4 KiB of credit): 6 rounds.
    const first = Array.from({ length: 6 * 208 }, () => scheduler.shift().label);
    const count = (name: string) => first.filter((label) => label === name).length;
    expect(count('high')).toBe(6 * 128);
    expect(count('normal')).toBe(6 * 64);
    expect(count('low')).toBe(6 * 16);
  });

  it('never starves low: a low message waits at most one round behind an endless high backlog', () => {
    const scheduler = new PriorityScheduler<Message>();
    for (let i = 0; i < 1000; i++) scheduler.push(HIGH, { size: 1000, label: 'high' });
    scheduler.push(LOW, { size: 1000, label: 'low' });
    const order = drain(scheduler);
    // High's first turn sends 8 × 4096 bytes' worth (32 messages of 1000 bytes), then low's turn comes.
    expect(order.indexOf('low')).toBe(Math.floor((8 * QUANTUM_BYTES) / 1000));
  });

  it('a message larger than a turn\'s credit still leaves, once its queue has saved enough', () => {
    const scheduler = new PriorityScheduler<Message>();
    scheduler.push(LOW, { size: 10 * QUANTUM_BYTES, label: 'big low' });
    for (let i = 0; i < 200; i++) scheduler.push(HIGH, { size: QUANTUM_BYTES, label: 'high' });
    const order = drain(scheduler);
    // Low saves 4 KiB per round: its 40 KiB message goes in round 10, after 80 of high's 4 KiB ones.
    expect(order.indexOf('big low')).toBe(80);
  });

  it('peek() names the message shift() takes; clear() empties every queue', () => {
    const scheduler = new PriorityScheduler<Message>();
    scheduler.push(NORMAL, { size: 10, label: 'a' });
    scheduler.push(HIGH, { size: 10, label: 'b' });
    expect(scheduler.peek().label).toBe('b');
    expect(scheduler.shift().label).toBe('b');
    const cleared: number[] = [];
    scheduler.clear((priority) => cleared.push(priority));
    expect(cleared).toEqual([NORMAL]);
    expect(scheduler.length).toBe(0);
    expect(scheduler.waiting(NORMAL)).toBe(0);
  });

  it('an emptied queue keeps no credit: a new episode starts with high again', () => {
    const scheduler = new PriorityScheduler<Message>();
    scheduler.push(LOW, { size: 10, label: 'low' });
    expect(scheduler.shift().label).toBe('low');
    scheduler.push(LOW, { size: 10, label: 'low2' });
    scheduler.push(HIGH, { size: 10, label: 'high' });
    expect(drain(scheduler)).toEqual(['high', 'low2']);
  });
});

describe('priorityIndex and checkedPriority', () => {
  it('map the names, default to normal, and refuse anything else with HW_ERR_INVALID_ARGUMENT', () => {
    expect([priorityIndex('high'), priorityIndex('normal'), priorityIndex('low'), priorityIndex(undefined)]).toEqual([HIGH, NORMAL, LOW, NORMAL]);
    expect(priorityIndex('HIGH')).toBe(-1);
    expect(() => checkedPriority(3)).toThrow(expect.objectContaining({ code: 'HW_ERR_INVALID_ARGUMENT' }));
  });
});
