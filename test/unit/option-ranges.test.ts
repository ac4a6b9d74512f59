import { describe, expect, it } from 'vitest';
import { CLIENT_RANGES, INTEGER_RANGES, LIMIT_RANGES, SERVER_RANGES, integerOption } from '../../ts/api/option-ranges.js';
import { resolveLimits } from '../../ts/api/limits.js';
import { Server } from '../../ts/api/server.js';
import { Client } from '../../ts/api/client.js';
import { OptionError } from '../../ts/errors.js';
import { OPTION_KEYS } from '../../ts/config/option-keys.js';

describe('the table of integer options', () => {
  it('holds the defaults the library resolves', () => {
    const limits = resolveLimits({}) as unknown as Record<string, number>;
    for (const [name, range] of Object.entries(LIMIT_RANGES)) expect([name, limits[name]]).toEqual([name, range.default]);
    const server = new Server({});
    expect(server.options.maxConnections).toBe(SERVER_RANGES.maxConnections.default);
    expect(server.options.handshakeTimeoutMs).toBe(SERVER_RANGES.handshakeTimeoutMs.default);
  });

  it.each(Object.entries(INTEGER_RANGES))('%s: its bounds are what the library accepts, one past them an OptionError naming it', (name, range) => {
    expect(integerOption(name as never, range.min)).toBe(range.min);
    expect(integerOption(name as never, range.max)).toBe(range.max);
    for (const outside of [range.min - 1, range.max + 1]) {
      let thrown: unknown;
      try {
        integerOption(name as never, outside);
      } catch (error) {
        thrown = error;
      }
      expect(thrown).toBeInstanceOf(OptionError);
      expect((thrown as OptionError).option).toBe(name);
      expect((thrown as OptionError).message).toContain(`from ${range.min} to ${range.max}`);
    }
  });

  it('is what the constructors check: a server and a client refuse one past a bound', () => {
    expect(() => new Server({ maxConnections: SERVER_RANGES.maxConnections.max + 1 })).toThrow(OptionError);
    expect(() => new Server({ udpReassemblyTotalBytes: SERVER_RANGES.udpReassemblyTotalBytes.min - 1 })).toThrow(OptionError);
    expect(() => new Client({ tcpPort: 1, connectTimeoutMs: CLIENT_RANGES.connectTimeoutMs.min - 1 })).toThrow(OptionError);
    expect(() => new Client({ tcpPort: 1, reconnect: { maxAttempts: CLIENT_RANGES['reconnect.maxAttempts'].max + 1 } })).toThrow(OptionError);
  });

  it("the configuration's other defaults are the library's", () => {
    const server = new Server({});
    const defaults = Object.fromEntries(OPTION_KEYS.filter((entry) => entry.default !== undefined).map((entry) => [entry.key, entry.default]));
    expect([defaults.tcpPort, defaults.udpPort, defaults.builtins]).toEqual([server.options.tcpPort, server.options.udpPort, server.options.builtins]);
  });
});
