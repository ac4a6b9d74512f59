import { describe, expect, it } from 'vitest';
import { ADMIN_TYPE, adminAllowed, checkAdminToken, isLoopback } from '../../ts/features/admin/admin.js';
import { createServer, type Peer } from '../../ts/index.js';
import { OptionError } from '../../ts/errors.js';

const remote = { address: '192.0.2.7', port: 40000, family: 'IPv4' };

describe('the admin request policy', () => {
  it.each([
    ['127.0.0.1', true],
    ['127.3.2.1', true],
    ['::1', true],
    ['::ffff:127.0.0.1', true],
    ['192.0.2.7', false],
    ['::ffff:192.0.2.7', false],
    ['2001:db8::1', false],
    ['::', false],
  ])('%s is loopback: %s', (address, loopback) => {
    expect(isLoopback(address)).toBe(loopback);
  });

  it('allows loopback without a token, and another address only with the right token', () => {
    expect(adminAllowed({ address: '127.0.0.1', port: 1, family: 'IPv4' }, undefined, undefined)).toBe(true);
    expect(adminAllowed(remote, undefined, undefined)).toBe(false);
    expect(adminAllowed(remote, 'anything-at-all', undefined)).toBe(false);
    expect(adminAllowed(remote, undefined, 'correct horse battery')).toBe(false);
    expect(adminAllowed(remote, 'correct horse batterY', 'correct horse battery')).toBe(false);
    expect(adminAllowed(remote, 42, 'correct horse battery')).toBe(false);
    expect(adminAllowed(remote, 'correct horse battery', 'correct horse battery')).toBe(true);
  });

  it('takes an adminToken of 8 to 1024 characters', () => {
    expect(checkAdminToken(undefined)).toBeUndefined();
    expect(checkAdminToken('12345678')).toBe('12345678');
    for (const bad of ['short', 12345678, 'x'.repeat(1025)]) expect(() => checkAdminToken(bad)).toThrow(OptionError);
    expect(() => createServer({ adminToken: 'short' })).toThrow(/option adminToken must be a string of 8 to 1024 characters/);
  });

  it("the server's handler refuses a peer from another address without the token, with HW_ERR_FORBIDDEN, and answers one with it", () => {
    const server = createServer({ udpPort: false, adminToken: 'correct horse battery' });
    const handler = (server as unknown as { handlers: { handlerFor(type: string): (payload: unknown, peer: Peer) => unknown } }).handlers.handlerFor(ADMIN_TYPE)!;
    const peer = { tcpAddress: remote } as Peer;
    expect(() => handler({}, peer)).toThrow(expect.objectContaining({ code: 'HW_ERR_FORBIDDEN' }));
    expect(() => handler({ token: 'wrong token here' }, peer)).toThrow(expect.objectContaining({ code: 'HW_ERR_FORBIDDEN' }));
    expect(handler({ token: 'correct horse battery' }, peer)).toMatchObject({ sessionCount: 0, peers: [], figures: expect.objectContaining({ sessions: 0 }) });
  });

  it('is answered with builtins off too', () => {
    const server = createServer({ udpPort: false, builtins: false });
    const handlers = (server as unknown as { handlers: { handlerFor(type: string): unknown } }).handlers;
    expect(handlers.handlerFor('ping')).toBeUndefined();
    expect(handlers.handlerFor(ADMIN_TYPE)).toBeTypeOf('function');
  });
});
