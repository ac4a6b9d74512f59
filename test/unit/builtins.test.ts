import { describe, expect, it } from 'vitest';
import { BUILTIN_NAMES, builtinHandlers, relayed, resolveBuiltins, type BuiltinHost } from '../../ts/api/builtins.js';
import type { Peer } from '../../ts/api/peer.js';
import type { Payload } from '../../ts/session/message.js';

describe('resolveBuiltins', () => {
  it('true is all four, false none, a list those named', () => {
    expect([...resolveBuiltins(true)]).toEqual(['ping', 'echo', 'stats', 'broadcast']);
    expect([...resolveBuiltins(false)]).toEqual([]);
    expect([...resolveBuiltins(['stats', 'ping'])]).toEqual(['stats', 'ping']);
    expect([...resolveBuiltins([])]).toEqual([]);
  });

  it.each([['yes'], [1], [null], [['ping', 'shell']], [[1]], [{ ping: true }], ['ping'], [['PING']]])('refuses %j with HW_ERR_INVALID_OPTION naming the option and the names', (value) => {
    expect(() => resolveBuiltins(value)).toThrow(
      expect.objectContaining({ code: 'HW_ERR_INVALID_OPTION', message: expect.stringContaining("option builtins must be true, false or a list of names from 'ping', 'echo', 'stats', 'broadcast'") }),
    );
  });
});

describe('builtinHandlers', () => {
  const sent: Array<[string, Payload, Peer | undefined]> = [];
  const host: BuiltinHost = {
    broadcast: (type, payload, options) => {
      sent.push([type, payload, options?.except]);
      return 3;
    },
    stats: () => ({ connectedClients: 4 }),
  };
  const peer = { id: 'ab' } as Peer;

  it('has a handler for each enabled name only', () => {
    expect([...builtinHandlers(host, new Set(BUILTIN_NAMES)).keys()]).toEqual(['ping', 'echo', 'stats', 'broadcast']);
    expect([...builtinHandlers(host, new Set(['echo'] as const)).keys()]).toEqual(['echo']);
    expect(builtinHandlers(host, new Set()).size).toBe(0);
  });

  it('ping answers pong, echo its payload, stats the counters, broadcast the count it relayed to, never to the sender', () => {
    const handlers = builtinHandlers(host, new Set(BUILTIN_NAMES));
    const info = undefined as never;
    expect(handlers.get('ping')!(undefined, peer, info)).toBe('pong');
    expect(handlers.get('echo')!({ a: 1 }, peer, info)).toEqual({ a: 1 });
    expect(handlers.get('stats')!(undefined, peer, info)).toEqual({ connectedClients: 4 });
    expect(handlers.get('broadcast')!({ t: 1 }, peer, info)).toBe(3);
    expect(sent).toEqual([['broadcast', { from: 'ab', payload: { t: 1 } }, peer]]);
  });
});

describe('relayed: a broadcast names its sender', () => {
  it('wraps JSON and empty payloads as { from, payload }', () => {
    expect(relayed('hi', 's1')).toEqual({ from: 's1', payload: 'hi' });
    expect(relayed(null, 's1')).toEqual({ from: 's1', payload: null });
    expect(relayed(undefined, 's1')).toEqual({ from: 's1', payload: null });
  });

  it('prefixes bytes with a u8 length and the UTF-8 bytes of the id (the example of docs/PROTOCOL.md, section 9)', () => {
    expect(Buffer.from(relayed(new Uint8Array([1, 2]), '3f2a') as Uint8Array).toString('hex')).toBe('0433663261' + '0102');
    expect(Buffer.from(relayed(new Uint8Array(0), 'é') as Uint8Array).toString('hex')).toBe('02c3a9');
  });
});
