import { describe, expect, it } from 'vitest';
import { HandlerTable } from '../../ts/api/handler-table.js';

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

  it('once instrumented, gives each handler (own or fallback) wrapped once, rewraps a replaced one, and bumps its version', () => {
    const builtin = () => 'builtin';
    const table = new HandlerTable(new Map([['ping', builtin]]));
    const own = () => 'own';
    table.set('chat', own);
    const wrapped: string[] = [];
    table.instrumentWith((type, handler) => {
      wrapped.push(type);
      return () => `wrapped ${String(handler(undefined, undefined, undefined as never))}`;
    });
    expect(table.version).toBe(2);
    expect(table.handlerFor('chat')!(undefined, undefined, undefined as never)).toBe('wrapped own');
    expect(table.handlerFor('ping')!(undefined, undefined, undefined as never)).toBe('wrapped builtin');
    expect(table.handlerFor('chat')).toBe(table.handlerFor('chat'));
    expect(table.handlerFor('none')).toBeUndefined();
    table.set('chat', () => 'replaced');
    expect(table.handlerFor('chat')!(undefined, undefined, undefined as never)).toBe('wrapped replaced');
    expect(wrapped).toEqual(['chat', 'ping', 'chat']);
  });
});
