import { describe, expect, it } from 'vitest';
import { RequestTable } from '../../ts/session/requests.js';

function open(table: RequestTable, timeoutMs = 0, signal?: AbortSignal): { id: number; reply: Promise<unknown> } {
  const reply = table.open('t', timeoutMs, signal);
  return { id: table.lastId, reply };
}

describe('RequestTable', () => {
  it('resolves and rejects requests by id, and only by their own id', async () => {
    const table = new RequestTable(100);
    const a = open(table);
    const b = open(table);
    expect(a.id).not.toBe(b.id);
    expect(table.size).toBe(2);
    expect(table.resolve(b.id, 'bee')).toBe(true);
    expect(table.resolve(b.id, 'again')).toBe(false);
    // Ids that share a's slot, or were never handed out, settle nothing.
    for (const stranger of [a.id + 16, a.id + 1024, a.id + 2 ** 31, 0, 0xffffffff]) expect(table.resolve(stranger, 'x')).toBe(false);
    expect(table.reject(a.id, new Error('no'))).toBe(true);
    await expect(b.reply).resolves.toBe('bee');
    await expect(a.reply).rejects.toThrow('no');
    expect(table.size).toBe(0);
  });

  it('settles nothing before its first request, and works after', async () => {
    const table = new RequestTable(4);
    expect(table.resolve(1, 'x')).toBe(false);
    expect(table.reject(0, new Error('x'))).toBe(false);
    table.rejectAll(new Error('none pending'));
    expect(table.size).toBe(0);
    const a = open(table);
    expect(table.resolve(a.id, 'first')).toBe(true);
    await expect(a.reply).resolves.toBe('first');
  });

  it('keeps ids unique past a request that stays pending while thousands come and go', async () => {
    const table = new RequestTable(10_000);
    const old = open(table);
    const seen = new Set<number>([old.id]);
    for (let i = 0; i < 5000; i++) {
      const next = open(table);
      expect(seen.has(next.id)).toBe(false);
      seen.add(next.id);
      expect(table.resolve(next.id, i)).toBe(true);
      await expect(next.reply).resolves.toBe(i);
    }
    expect(table.resolve(old.id, 'old')).toBe(true);
    await expect(old.reply).resolves.toBe('old');
  });

  it('holds thousands in flight (growing), answers them in any order, and works on once they are gone', async () => {
    const table = new RequestTable(5000);
    const requests = Array.from({ length: 5000 }, () => open(table));
    expect(new Set(requests.map((r) => r.id)).size).toBe(5000);
    expect(() => table.open('t', 0, undefined)).toThrow(expect.objectContaining({ code: 'HW_ERR_TOO_MANY_REQUESTS' }));
    const order = requests.map((_, i) => i).sort((x, y) => ((x * 7919) % 5000) - ((y * 7919) % 5000));
    for (const i of order) expect(table.resolve(requests[i]!.id, i)).toBe(true);
    expect(await Promise.all(requests.map((r) => r.reply))).toEqual(requests.map((_, i) => i));
    expect(table.size).toBe(0);
    const after = open(table);
    expect(table.resolve(after.id, 'after')).toBe(true);
    await expect(after.reply).resolves.toBe('after');
  });

  it('times requests out, aborts them, and fails all of them at once', async () => {
    const table = new RequestTable(100);
    const timed = open(table, 5);
    const waiting = open(table);
    await expect(timed.reply).rejects.toMatchObject({ code: 'HW_ERR_REQUEST_TIMEOUT' });
    expect(table.size).toBe(1);
    const controller = new AbortController();
    const aborted = open(table, 0, controller.signal);
    controller.abort();
    await expect(aborted.reply).rejects.toMatchObject({ name: 'AbortError' });
    table.rejectAll(new Error('gone'));
    await expect(waiting.reply).rejects.toThrow('gone');
    expect(table.size).toBe(0);
    expect(table.resolve(waiting.id, 'late')).toBe(false);
  });
});
