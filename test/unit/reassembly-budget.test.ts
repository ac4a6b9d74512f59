import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { FrameEncoder, FrameFlag, FrameType } from '../../ts/index.js';
import { ReassemblyBudget, ReliableEndpoint } from '../../ts/reliable/reliable-endpoint.js';
import { pseudoRandomBytes as pattern } from '../support/bytes.js';

// The reassembly budget a server's endpoints share (native/core/reliable/memory-budget.h): fair
// shares of the total, and charges given back as soon as an endpoint closes.

const MiB = 1024 * 1024;
const FRAGMENT = 1000;

/** Fragment `index` of a reliable ordered message on channel 0 that starts at sequence `first`. */
function fragment(message: { length: number; bytes?: Buffer }, first: number, index: number): Buffer {
  const count = Math.ceil(message.length / FRAGMENT);
  const size = index + 1 === count ? message.length - FRAGMENT * (count - 1) : FRAGMENT;
  const prefix = Buffer.alloc(12);
  prefix.writeUInt32LE(message.length, 0);
  prefix.writeUInt32LE(index, 4);
  prefix.writeUInt32LE(count, 8);
  const data = message.bytes?.subarray(index * FRAGMENT, index * FRAGMENT + size) ?? Buffer.alloc(size);
  return new FrameEncoder().encodeToBuffer([
    { type: FrameType.MESSAGE, flags: FrameFlag.RELIABLE | FrameFlag.FRAGMENT, channel: 0, sequence: first + index, payload: Buffer.concat([prefix, data]) },
  ]);
}

function endpoint(budget: ReassemblyBudget, delivered: Buffer[] = []): ReliableEndpoint {
  const created = new ReliableEndpoint({ token: Buffer.from('TOKEN--8'), onDatagram: () => {}, budget, now: () => Date.now() });
  created.on('message', (payload) => delivered.push(Buffer.from(payload)));
  return created;
}

describe('ReassemblyBudget', () => {
  const open: ReliableEndpoint[] = [];

  beforeEach(() => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'setImmediate', 'clearImmediate', 'Date'] });
  });

  afterEach(() => {
    for (const each of open.splice(0)) each.close();
    vi.useRealTimers();
  });

  it('gets an endpoint\'s charges back the moment it closes, not when it is collected', () => {
    const budget = new ReassemblyBudget(64 * MiB);
    const holder = endpoint(budget);
    holder.receive(fragment({ length: 4 * MiB - 64 }, 0, 0));
    expect(budget.usedBytes).toBe(4 * MiB);
    expect(budget.holders).toBe(1);
    holder.close();
    expect(budget.usedBytes).toBe(0);
    expect(budget.holders).toBe(0);
    // Its statistics outlive it.
    expect(holder.stats().messagesDelivered).toBe(0);
    expect(holder.stats().datagramsReceived).toBe(1);
  });

  it('20 endpoints holding the first fragment of a 4 MiB reliable message each cannot shut a 21st out', () => {
    const budget = new ReassemblyBudget(64 * MiB);
    const hostile = Array.from({ length: 20 }, () => endpoint(budget));
    open.push(...hostile);
    for (const each of hostile) each.receive(fragment({ length: 4 * MiB - 64 }, 0, 0));
    // Each went on as far as its share allowed; one share stays free for a newcomer.
    const held = hostile.filter((each) => each.stats().reassemblyBytes > 0).length;
    expect(budget.holders).toBe(held);
    expect(budget.usedBytes).toBe(held * 4 * MiB);
    expect(budget.usedBytes).toBeLessThanOrEqual(64 * MiB - (64 * MiB) / (held + 1));
    expect(budget.refusedCharges).toBe(20 - held);

    // A well-behaved peer's fragmented reliable messages get through.
    const delivered: Buffer[] = [];
    const good = endpoint(budget, delivered);
    open.push(good);
    const messages = [pattern(1 * MiB, 1), pattern(3 * MiB, 2)];
    let first = 0;
    for (const message of messages) {
      const count = Math.ceil(message.length / FRAGMENT);
      for (let index = 0; index < count; index++) good.receive(fragment({ length: message.length, bytes: message }, first, index));
      first += count;
    }
    expect(delivered.length).toBe(2);
    expect(delivered[0]!.equals(messages[0]!)).toBe(true);
    expect(delivered[1]!.equals(messages[1]!)).toBe(true);
    expect(good.stats().drops.reassemblyOverflow).toBe(0);

    // And when the hostile endpoints close, the budget is empty at once.
    for (const each of hostile) each.close();
    expect(budget.usedBytes).toBe(0);
    expect(budget.holders).toBe(0);
  });

  it('keeps one share free: an endpoint goes past its share only while a share stays free after it', () => {
    const budget = new ReassemblyBudget(8000);
    const one = endpoint(budget);
    const two = endpoint(budget);
    open.push(one, two);
    // Alone, its share is 8000 / 2: 5000 + 64 bytes is past it, and would leave less than a share free.
    one.receive(fragment({ length: 5000 }, 0, 0));
    expect(one.stats().drops.reassemblyOverflow).toBe(1);
    one.receive(fragment({ length: 3000 }, 0, 0));
    expect(budget.usedBytes).toBe(3064);
    // With two holding memory, a share is 8000 / 3.
    two.receive(fragment({ length: 3000 }, 0, 0));
    expect(two.stats().drops.reassemblyOverflow).toBe(1);
    two.receive(fragment({ length: 2000 }, 0, 0));
    expect(budget.usedBytes).toBe(3064 + 2064);
    expect(budget.holders).toBe(2);
    expect(budget.refusedCharges).toBe(2);
  });

  it('lets an endpoint past its share while the room is not needed', () => {
    const budget = new ReassemblyBudget(64 * MiB);
    const holders = Array.from({ length: 40 }, () => endpoint(budget));
    open.push(...holders);
    // 40 endpoints holding a little: a share is 64 MiB / 41, about 1.6 MiB.
    for (const each of holders.slice(1)) each.receive(fragment({ length: 10_000 }, 0, 0));
    holders[0]!.receive(fragment({ length: 4 * MiB - 64 }, 0, 0));
    expect(holders[0]!.stats().reassemblyBytes).toBe(4 * MiB);
    expect(budget.refusedCharges).toBe(0);
  });
});
