import { describe, expect, it } from 'vitest';
import { connect, createServer } from '../../ts/index.js';
import { localDialOptions, localListenOptions } from '../../ts/api/local-options.js';

describe('local socket options', () => {
  it('are absent without path', () => {
    expect(localListenOptions({ tcpPort: 5000 })).toBeUndefined();
    expect(localDialOptions({ tcpPort: 5000 })).toBeUndefined();
  });

  it('resolve path and the default file mode', () => {
    expect(localListenOptions({ path: '/tmp/x.sock' })).toEqual({ path: '/tmp/x.sock', mode: 0o600 });
    expect(localListenOptions({ path: '/tmp/x.sock', udpPort: false, pathMode: 0o660 })).toEqual({ path: '/tmp/x.sock', mode: 0o660 });
    expect(localDialOptions({ path: '/tmp/x.sock', udpPort: false })).toBe('/tmp/x.sock');
  });

  it('refuses options a local socket has no use for', () => {
    expect(() => createServer({ path: '/tmp/x.sock', tcpPort: 5000 })).toThrow(expect.objectContaining({ code: 'HW_ERR_INVALID_OPTION', option: 'path' }));
    expect(() => createServer({ path: '/tmp/x.sock', udpPort: 5001 })).toThrow(expect.objectContaining({ code: 'HW_ERR_INVALID_OPTION', option: 'path' }));
    expect(() => createServer({ path: '/tmp/x.sock', udpPort: false })).not.toThrow();
    expect(() => createServer({ pathMode: 0o600 })).toThrow(expect.objectContaining({ code: 'HW_ERR_INVALID_OPTION', option: 'pathMode' }));
    expect(() => createServer({ path: '/tmp/x.sock', pathMode: 0o1000 })).toThrow(expect.objectContaining({ code: 'HW_ERR_INVALID_OPTION', option: 'pathMode' }));
    expect(() => createServer({ path: `/tmp/${'x'.repeat(200)}` })).toThrow(expect.objectContaining({ code: 'HW_ERR_INVALID_OPTION', option: 'path' }));
    return expect(connect({ path: '/tmp/x.sock', tls: true })).rejects.toMatchObject({ code: 'HW_ERR_INVALID_OPTION', option: 'path' });
  });});
