/**
 * ts/api/identity.ts: the clientId option's bounds, and the registry that keeps one session per
 * identity (the newer takes over, the older's late close does not unregister the newer).
 */
import { describe, expect, it } from 'vitest';
import { ClientIdRegistry, checkClientIdOption, identityOf, takenOver } from '../../ts/api/identity.js';

describe('clientId', () => {
  it('is 1 to 256 UTF-8 bytes', () => {
    expect(checkClientIdOption(undefined)).toBeUndefined();
    expect(checkClientIdOption('a')).toBe('a');
    expect(checkClientIdOption('x'.repeat(256))).toBe('x'.repeat(256));
    for (const bad of ['', 'x'.repeat(257), 'é'.repeat(129), 7, null]) {
      expect(() => checkClientIdOption(bad)).toThrow(expect.objectContaining({ code: 'HW_ERR_INVALID_OPTION', option: 'clientId' }));
    }
  });

  it('is the identity of a session that names one; its session id otherwise', () => {
    expect(identityOf({ id: 's-1', clientId: 'c' })).toBe('c');
    expect(identityOf({ id: 's-1', clientId: undefined })).toBe('s-1');
  });
});

describe('ClientIdRegistry', () => {
  it('hands back the session a newer one takes over from, and keeps the newer when the older closes', () => {
    const registry = new ClientIdRegistry<{ id: string; clientId: string | undefined }>();
    const first = { id: 's-1', clientId: 'c' };
    const second = { id: 's-2', clientId: 'c' };
    expect(registry.add(first)).toBeUndefined();
    expect(registry.get('c')).toBe(first);
    expect(registry.add(second)).toBe(first);
    registry.remove(first);
    expect(registry.get('c')).toBe(second);
    registry.remove(second);
    expect(registry.get('c')).toBeUndefined();
  });

  it('knows a session without a clientId by its session id', () => {
    const registry = new ClientIdRegistry<{ id: string; clientId: string | undefined }>();
    const anonymous = { id: 's-9', clientId: undefined };
    registry.add(anonymous);
    expect(registry.get('s-9')).toBe(anonymous);
  });

  it('makes the takeover error with its code', () => {
    expect(takenOver('c')).toMatchObject({ code: 'HW_ERR_SESSION_TAKEN_OVER' });
  });
});
