import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadConfig, readConfig } from '../../ts/config/load-config.js';
import { OPTION_KEYS } from '../../ts/config/option-keys.js';
import { ConfigError } from '../../ts/errors.js';
import { createServer } from '../../ts/api/server.js';
import { resolveLimits } from '../../ts/api/limits.js';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hw-config-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

let files = 0;
function file(text: string): string {
  const name = path.join(dir, `config-${files++}.toml`);
  fs.writeFileSync(name, text);
  return name;
}

/** The ConfigError that `run` throws. */
function configError(run: () => unknown): ConfigError {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).code).toBe('HW_ERR_CONFIG');
    return error as ConfigError;
  }
  throw new Error('no error was thrown');
}

describe('loadConfig', () => {
  it('reads options by their own names, nested options from tables', () => {
    const name = file('tcpPort = 5000\nmaxConnections = 100\nhost = "127.0.0.1"\nudpPort = false\n\n[reconnect]\nmaxAttempts = 3\njitter = 0.5\n');
    expect(loadConfig(name, {})).toEqual({ tcpPort: 5000, maxConnections: 100, host: '127.0.0.1', udpPort: false, reconnect: { maxAttempts: 3, jitter: 0.5 } });
  });

  it('takes compression as a table, true, false, or HYBRIDWIRE_COMPRESSION_* variables, and refuses an unknown algorithm', () => {
    const name = file('[compression]\nalgorithm = ["zstd", "lz4"]\nlevel = 5\nthreshold = 512\n');
    expect(loadConfig(name, {})).toEqual({ compression: { algorithm: ['zstd', 'lz4'], level: 5, threshold: 512 } });
    expect(loadConfig(file('compression = true\n'), {})).toEqual({ compression: {} });
    expect(loadConfig(file('compression = false\n'), {})).toEqual({ compression: false });
    expect(loadConfig(undefined, { HYBRIDWIRE_COMPRESSION_ALGORITHM: 'gzip,brotli', HYBRIDWIRE_COMPRESSION_THRESHOLD: '2048' })).toEqual({ compression: { algorithm: ['gzip', 'brotli'], threshold: 2048 } });
    expect(() => loadConfig(file('[compression]\nalgorithm = ["lzma"]\n'), {})).toThrow(/compression.algorithm.*a list of "lz4", "zstd", "deflate", "gzip", "brotli"/);
  });

  it('without a file, takes the environment alone; without either, nothing', () => {
    expect(loadConfig(undefined, {})).toEqual({});
    expect(loadConfig(undefined, { HYBRIDWIRE_MAX_CONNECTIONS: '7', HYBRIDWIRE_UDP_PORT: 'false', PATH: '/bin' })).toEqual({ maxConnections: 7, udpPort: false });
  });

  it('maps a key to HYBRIDWIRE_ and its path in upper snake case, and the environment wins over the file', () => {
    const name = file('maxConnections = 100\nheartbeatIntervalMs = 1000\n[reconnect]\nmaxAttempts = 3\n');
    const env = { HYBRIDWIRE_MAX_CONNECTIONS: '250', HYBRIDWIRE_RECONNECT_MAX_ATTEMPTS: '9', HYBRIDWIRE_RECONNECT_INITIAL_DELAY_MS: '50' };
    expect(loadConfig(name, env)).toEqual({ maxConnections: 250, heartbeatIntervalMs: 1000, reconnect: { maxAttempts: 9, initialDelayMs: 50 } });
  });

  it('flags win over the environment, which wins over the file, which wins over defaults; each value names its source', () => {
    const name = file('# comment\n\ntcpPort = 6000\nudpPort = 6001\nmaxConnections = 5\n');
    const { options, settings } = readConfig(name, { HYBRIDWIRE_UDP_PORT: '7001', HYBRIDWIRE_MAX_CONNECTIONS: '6' }, {
      flags: [{ key: 'udpPort', value: 8001, source: '--udp-port' }],
      defaults: [{ key: 'host', value: '0.0.0.0', source: 'default' }, { key: 'tcpPort', value: 5000, source: 'default' }],
    });
    expect(options).toEqual({ host: '0.0.0.0', tcpPort: 6000, udpPort: 8001, maxConnections: 6 });
    expect(settings).toEqual([
      { key: 'host', value: '0.0.0.0', source: 'default' },
      { key: 'tcpPort', value: 6000, source: `${name}:3` },
      { key: 'udpPort', value: 8001, source: '--udp-port' },
      { key: 'maxConnections', value: 6, source: 'HYBRIDWIRE_MAX_CONNECTIONS' },
    ]);
  });

  it('gives an options object createServer() takes as it is', async () => {
    const server = createServer(loadConfig(file('host = "127.0.0.1"\ntcpPort = 0\nudpPort = false\nmaxConnections = 3\n'), {}));
    expect(server.options.maxConnections).toBe(3);
    const { tcpPort } = await server.listen();
    expect(tcpPort).toBeGreaterThan(0);
    await server.close();
  });

  it('refuses an unknown key, naming it, the file and line, and a near name', () => {
    const name = file('tcpPort = 1\n\nmaxConection = 100\n');
    const error = configError(() => loadConfig(name, {}));
    expect(error.key).toBe('maxConection');
    expect(error.source).toBe(`${name}:3`);
    expect(error.message).toContain(`${name}:3`);
    expect(error.message).toContain('maxConnections');
  });

  it('refuses an unknown key inside a table, and a table for an option that is not an object', () => {
    const inTable = file('[reconnect]\nmaxAttempts = 2\nretries = 4\n');
    expect(configError(() => loadConfig(inTable, {})).source).toBe(`${inTable}:3`);
    expect(configError(() => loadConfig(inTable, {})).key).toBe('reconnect.retries');
    const table = file('[maxConnections]\nvalue = 1\n');
    const error = configError(() => loadConfig(table, {}));
    expect(error.message).toContain('maxConnections');
    expect(error.source).toBe(`${table}:1`);
  });

  it('refuses an unknown HYBRIDWIRE_ variable, naming it, but leaves the addon switches and other variables alone', () => {
    const error = configError(() => loadConfig(undefined, { HYBRIDWIRE_MAX_CONECTIONS: '5' }));
    expect(error.source).toBe('HYBRIDWIRE_MAX_CONECTIONS');
    expect(error.message).toContain('HYBRIDWIRE_MAX_CONNECTIONS');
    expect(loadConfig(undefined, { HYBRIDWIRE_UDP_NO_GSO: '1', HYBRIDWIRE_UDP_LIBUV: '1', MAX_CONNECTIONS: 'x' })).toEqual({});
  });

  it.each([
    ['maxConnections = 0', 'maxConnections', 'an integer from 1 to 10000000'],
    ['maxConnections = "many"', 'maxConnections', 'an integer from 1 to 10000000'],
    ['maxConnections = 1.5', 'maxConnections', 'an integer from 1 to 10000000'],
    ['maxFrameSize = 1023', 'maxFrameSize', 'an integer from 1024 to'],
    ['tcpPort = 70000', 'tcpPort', 'an integer from 0 to 65535'],
    ['udpPort = true', 'udpPort', 'an integer from 0 to 65535, or false'],
    ['builtins = "yes"', 'builtins', 'true, false, or a list of "ping", "echo", "stats", "broadcast"'],
    ['mode = "fast"', 'mode', '"burst" or "step"'],
    ['host = 127', 'host', 'a string'],
    ['adminToken = "short"', 'adminToken', 'a string of 8 to 1024 characters'],
    ['[reconnect]\njitter = 2', 'reconnect.jitter', 'a number from 0 to 1'],
  ])('refuses %j, naming the key, the file and line, and the range', (text, key, allowed) => {
    const name = file(`# first line\n${text}\n`);
    const error = configError(() => loadConfig(name, {}));
    expect(error.key).toBe(key);
    expect(error.source).toBe(`${name}:${text.startsWith('[') ? 3 : 2}`);
    expect(error.allowed).toContain(allowed);
    expect(error.message).toContain(key);
    expect(error.message).toContain(error.source);
    expect(error.message).toContain(allowed);
  });

  it('does not repeat a secret it refuses', () => {
    const error = configError(() => loadConfig(undefined, { HYBRIDWIRE_ADMIN_TOKEN: 'hunter2' }));
    expect(error.message).not.toContain('hunter2');
    expect(error.message).toContain('got 7 characters');
  });

  it('takes its ranges from the options the library validates (no range restated)', () => {
    // The same bound the library refuses is the one the configuration refuses.
    expect(() => resolveLimits({ udpMinRtoMs: 60_001 })).toThrow('from 1 to 60000');
    expect(configError(() => loadConfig(undefined, { HYBRIDWIRE_UDP_MIN_RTO_MS: '60001' })).allowed).toBe('an integer from 1 to 60000');
  });

  it('refuses a variable of the wrong type or out of range, naming the variable', () => {
    const error = configError(() => loadConfig(undefined, { HYBRIDWIRE_HEARTBEAT_INTERVAL_MS: 'soon' }));
    expect(error.key).toBe('heartbeatIntervalMs');
    expect(error.source).toBe('HYBRIDWIRE_HEARTBEAT_INTERVAL_MS');
    expect(error.message).toContain('variable HYBRIDWIRE_HEARTBEAT_INTERVAL_MS');
    expect(error.message).toContain('an integer from 10 to 3600000');
    expect(configError(() => loadConfig(undefined, { HYBRIDWIRE_TCP_PORT: '-1' })).key).toBe('tcpPort');
  });

  it('checks the rules between options with the library, naming the option that was set', () => {
    const name = file('heartbeatIntervalMs = 5000\nheartbeatTimeoutMs = 4000\n');
    const error = configError(() => loadConfig(name, {}));
    expect(error.key).toBe('heartbeatTimeoutMs');
    expect(error.source).toBe(`${name}:2`);
    expect(error.message).toContain('must exceed heartbeatIntervalMs');
    // Only one side of the rule set: the error names that one.
    const queue = configError(() => loadConfig(undefined, { HYBRIDWIRE_MAX_QUEUE_BYTES: '1000' }));
    expect(queue.key).toBe('maxQueueBytes');
    expect(queue.source).toBe('HYBRIDWIRE_MAX_QUEUE_BYTES');
  });

  it('reports a file that is not TOML with its line, and a file that cannot be read', () => {
    const name = file('tcpPort = 1\nmaxConnections = = 3\n');
    const error = configError(() => loadConfig(name, {}));
    expect(error.source).toBe(`${name}:2`);
    expect(configError(() => loadConfig(path.join(dir, 'missing.toml'), {})).message).toContain('missing.toml');
  });

  it('refuses reconnect = false together with reconnect options', () => {
    const error = configError(() => loadConfig(file('reconnect = false\n'), { HYBRIDWIRE_RECONNECT_MAX_ATTEMPTS: '3' }));
    expect(error.key).toBe('reconnect');
  });

  it('takes builtins as true, false or a list of names, from the file or a comma-separated variable', () => {
    const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'hw-config-')), 'builtins.toml');
    fs.writeFileSync(file, 'builtins = ["ping", "stats"]\n');
    expect(loadConfig(file, {}).builtins).toEqual(['ping', 'stats']);
    expect(loadConfig(undefined, { HYBRIDWIRE_BUILTINS: 'echo, broadcast' }).builtins).toEqual(['echo', 'broadcast']);
    expect(loadConfig(undefined, { HYBRIDWIRE_BUILTINS: 'false' }).builtins).toBe(false);
    expect(() => loadConfig(undefined, { HYBRIDWIRE_BUILTINS: 'ping,shell' })).toThrow(expect.objectContaining({ code: 'HW_ERR_CONFIG' }));
  });

  it('leaves the variables that are not options alone (the addon override of the sanitizer run among them)', () => {
    expect(() => loadConfig(undefined, { HYBRIDWIRE_ADDON: '/tmp/hybridwire.node', HYBRIDWIRE_UDP_NO_GSO: '1' })).not.toThrow();
    expect(() => loadConfig(undefined, { HYBRIDWIRE_ADDONS: 'x' })).toThrow(expect.objectContaining({ code: 'HW_ERR_CONFIG' }));
  });

  it('loads the commented example in docs/', () => {
    const example = path.resolve(__dirname, '../../docs/hybridwire.example.toml');
    const options = loadConfig(example, {});
    expect(options).toEqual({
      host: '127.0.0.1',
      tcpPort: 5000,
      udpPort: 5001,
      maxConnections: 1000,
      requestTimeoutMs: 5000,
      heartbeatIntervalMs: 2000,
      heartbeatTimeoutMs: 6000,
      reconnect: { maxAttempts: 20 },
    });
    // Every option is named in it, set or commented, so that the example documents them all.
    const text = fs.readFileSync(example, 'utf8');
    for (const { key } of OPTION_KEYS) expect(text).toMatch(new RegExp(`^#? ?${key.split('.').at(-1)} = `, 'm'));
  });
});

describe('rate limits in a configuration', () => {
  it('reads rateLimit as a table and rateLimits as a table of limits; a server takes them', () => {
    const name = file('[rateLimit]\nmessagesPerSecond = 100\naction = "drop"\n\n[rateLimits.chat]\nmessagesPerSecond = 5\n\n[rateLimits."sensors/#"]\nbytesPerSecond = 1000\naction = "disconnect"\n');
    const options = loadConfig(name, {});
    expect(options).toEqual({
      rateLimit: { messagesPerSecond: 100, action: 'drop' },
      rateLimits: { chat: { messagesPerSecond: 5 }, 'sensors/#': { bytesPerSecond: 1000, action: 'disconnect' } },
    });
    expect(() => createServer(options)).not.toThrow();
  });

  it('takes them from variables: fields of rateLimit one by one, rateLimits as JSON', () => {
    const options = loadConfig(undefined, { HYBRIDWIRE_RATE_LIMIT_BYTES_PER_SECOND: '2048', HYBRIDWIRE_RATE_LIMITS: '[{"match":"chat","messagesPerSecond":3}]' });
    expect(options).toEqual({ rateLimit: { bytesPerSecond: 2048 }, rateLimits: [{ match: 'chat', messagesPerSecond: 3 }] });
  });

  it('refuses a field out of range, a bad action, a limit with no rate and a bad filter, naming the option', () => {
    expect(configError(() => loadConfig(file('[rateLimit]\nmessagesPerSecond = -5\n'), {})).message).toMatch(/option rateLimit\.messagesPerSecond .* must be an integer from 0 to 1000000000/);
    expect(configError(() => loadConfig(file('[rateLimit]\nmessagesPerSecond = 5\naction = "ban"\n'), {})).message).toMatch(/option rateLimit\.action .* must be "delay" or "drop" or "disconnect"/);
    expect(configError(() => loadConfig(file('[rateLimit]\nburst = 5\n'), {})).message).toMatch(/rateLimit must give messagesPerSecond or bytesPerSecond/);
    expect(configError(() => loadConfig(file('[rateLimits."a/#/b"]\nmessagesPerSecond = 5\n'), {})).message).toMatch(/is not a valid topic filter/);
  });

  it('hybridwire config --print writes them back as TOML that loads to the same options', async () => {
    const { describeConfig } = await import('../../ts/cli/config.js');
    const source = file('[rateLimit]\nmessagesPerSecond = 100\n\n[rateLimits."sensors/#"]\nbytesPerSecond = 1000\n');
    const printed = describeConfig(readConfig(source, {}).settings).join('\n');
    expect(printed).toMatch(/^\[rateLimit\]$/m);
    const reloaded = loadConfig(file(printed), {});
    expect({ rateLimit: reloaded.rateLimit, rateLimits: reloaded.rateLimits }).toEqual(loadConfig(source, {}));
  });
});
