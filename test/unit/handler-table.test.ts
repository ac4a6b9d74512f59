import { describe, expect, it } from 'vitest';
import { HandlerTable } from '../../ts/api/handler-table.js';
import { SAMPLE_EVERY } from '../../ts/session/handler-calls.js';

describe('HandlerTable', () => {
  it('finds a handler by type, its own before the fallback, and bumps its version on every change', () => {
    const builtin = () => 'builtin';
    const table = new HandlerTable(new Map([['ping', builtin]]));
    expect(table.handlerFor('ping')).toBe(builtin);
    expect(table.handlerFor('chat')).toBeUndefined();
    const own = () => 'own';
    table.set('ping', own);
    expect(table.handlerFor('ping')).toBe(own);
    expect(table.version).toBe(1);
    table.set('chat', own);
    expect(table.handlerFor('chat')).toBe(own);
    expect(table.version).toBe(2);
  });

  it('refuses a handler that is not a function with HW_ERR_INVALID_ARGUMENT, changing nothing', () => {
    const table = new HandlerTable();
    expect(() => table.set('chat', 'not a function')).toThrow(expect.objectContaining({ code: 'HW_ERR_INVALID_ARGUMENT' }));
    expect(table.handlerFor('chat')).toBeUndefined();
    expect(table.version).toBe(0);
  });

  it("refuses the protocol's reserved types (hybridwire:...), leaving their fallback handlers in place", () => {
    const owner = () => 'feature';
    const table = new HandlerTable(new Map([['hybridwire:stream.data', owner]]));
    expect(() => table.set('hybridwire:stream.data', () => 'hijack')).toThrow(expect.objectContaining({ code: 'HW_ERR_INVALID_ARGUMENT' }));
    expect(table.handlerFor('hybridwire:stream.data')).toBe(owner);
    expect(table.version).toBe(0);
  });

  it('keeps one call count per type, shared by every lookup; timing starts for old and new types once asked, counting from then', () => {
    const table = new HandlerTable(new Map([['ping', () => 'builtin']]));
    table.set('chat', () => 'own');
    const chat = table.callsFor('chat');
    expect(table.callsFor('chat')).toBe(chat);
    chat.calls += 5;
    expect(chat.timedAt).toBe(0);
    const sinks: string[] = [];
    table.timeWith((type) => {
      sinks.push(type);
      return { observe: () => undefined };
    });
    expect(chat.timedAt).toBe(5 + SAMPLE_EVERY);
    chat.calls += 2;
    const ping = table.callsFor('ping');
    expect(ping.timedAt).toBe(SAMPLE_EVERY);
    ping.calls += 3;
    expect(sinks).toEqual(['chat', 'ping']);
    expect(table.callCounts()).toEqual([{ type: 'ping', messages: 3 }, { type: 'chat', messages: 2 }]);
    // Handlers are no longer wrapped: a lookup gives the handler itself.
    const own = () => 'replaced';
    table.set('chat', own);
    expect(table.handlerFor('chat')).toBe(own);
    expect(table.callsFor('chat')).toBe(chat);
  });
});
