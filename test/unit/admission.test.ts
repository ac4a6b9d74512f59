/**
 * Admission at HELLO (ts/api/admission.ts): TLS required or not, the application's authenticate and
 * its verdicts, and the throttle of addresses that fail it, on a clock the test moves.
 */
import { describe, expect, it } from 'vitest';
import { Admission, AuthThrottle, addressKey, type AdmissionOptions, type SessionOrigin } from '../../ts/api/admission.js';
import type { HybridwireError } from '../../ts/errors.js';
import type { Hello } from '../../ts/session/handshake.js';

const HELLO: Hello = { version: '1.0.0', features: [], mode: 'burst', maxPacketSize: 4096, windowSize: 8, auth: { token: 't' } };
const PLAIN: SessionOrigin = { address: '192.0.2.7', port: 40000, certificate: undefined, encrypted: false };
const ENCRYPTED: SessionOrigin = { ...PLAIN, encrypted: true };

function admission(options: AdmissionOptions, hasTls = false) {
  const counters = { authRefused: 0, authBlocked: 0 };
  const errors: HybridwireError[] = [];
  return { gate: new Admission(options, hasTls, counters, (error) => errors.push(error)), counters, errors };
}

describe('Admission', () => {
  it('requires TLS by default when the server has it, and not otherwise', () => {
    expect(admission({}, true).gate.admit(HELLO, PLAIN)).toMatchObject({ accepted: false, code: 'HW_ERR_ENCRYPTION_REQUIRED' });
    expect(admission({}, true).gate.admit(HELLO, ENCRYPTED)).toBeUndefined();
    expect(admission({}, false).gate.admit(HELLO, PLAIN)).toBeUndefined();
    expect(admission({ requireEncryption: false }, true).gate.admit(HELLO, PLAIN)).toBeUndefined();
    // Asked for without TLS, it refuses every session: there is none that is encrypted.
    expect(admission({ requireEncryption: true }, false).gate.admit(HELLO, PLAIN)).toMatchObject({ code: 'HW_ERR_ENCRYPTION_REQUIRED' });
  });

  it('admits on true only; false, a reason, or anything else refuses with HW_ERR_AUTH_REFUSED, counted', () => {
    const verdicts: unknown[] = [true, false, 'no such user', '', undefined, 1, 'x'.repeat(1000)];
    const { gate, counters } = admission({ authenticate: () => verdicts.shift() as boolean, authFailureLimit: 0 });
    expect(gate.admit(HELLO, PLAIN)).toBeUndefined();
    expect(gate.admit(HELLO, PLAIN)).toMatchObject({ accepted: false, code: 'HW_ERR_AUTH_REFUSED', reason: 'authentication failed' });
    expect(gate.admit(HELLO, PLAIN)).toMatchObject({ code: 'HW_ERR_AUTH_REFUSED', reason: 'no such user' });
    expect(gate.admit(HELLO, PLAIN)).toMatchObject({ code: 'HW_ERR_AUTH_REFUSED', reason: 'authentication failed' });
    expect(gate.admit(HELLO, PLAIN)).toMatchObject({ code: 'HW_ERR_AUTH_REFUSED', reason: 'authentication failed' });
    expect(gate.admit(HELLO, PLAIN)).toMatchObject({ code: 'HW_ERR_AUTH_REFUSED', reason: 'authentication failed' });
    // A reason fits the handshake's 256-character strings.
    expect((gate.admit(HELLO, PLAIN) as { reason: string }).reason).toHaveLength(256);
    expect(counters).toEqual({ authRefused: 6, authBlocked: 0 });
  });

  it('gives authenticate the HELLO and the address, port and certificate', () => {
    const calls: unknown[] = [];
    const certificate = { subject: { CN: 'c' } } as unknown as SessionOrigin['certificate'];
    const { gate } = admission({
      authenticate: (hello, info) => {
        calls.push([hello.auth, info]);
        return true;
      },
    });
    gate.admit(HELLO, { ...ENCRYPTED, certificate });
    expect(calls).toEqual([[{ token: 't' }, { address: '192.0.2.7', port: 40000, certificate }]]);
  });

  it('waits for an asynchronous authenticate, and refuses on a rejection without counting it against the address', async () => {
    let calls = 0;
    const { gate, counters, errors } = admission({
      authFailureLimit: 1,
      authenticate: async (hello) => {
        calls++;
        if (hello.auth === 'crash') throw new Error('database down');
        return hello.auth === 'good' || 'bad token';
      },
    });
    expect(await gate.admit({ ...HELLO, auth: 'good' }, PLAIN)).toBeUndefined();
    expect(await gate.admit({ ...HELLO, auth: 'crash' }, PLAIN)).toMatchObject({ code: 'HW_ERR_AUTH_REFUSED', reason: 'authentication failed' });
    expect(errors.map((error) => [error.code, error.message])).toEqual([['HW_ERR_HANDLER_FAILED', 'authenticate failed: database down']]);
    // The server's failure blocked nobody: the next attempt is asked.
    expect(await gate.admit({ ...HELLO, auth: 'bad' }, PLAIN)).toMatchObject({ reason: 'bad token' });
    expect(calls).toBe(3);
    expect(counters).toEqual({ authRefused: 2, authBlocked: 0 });
  });

  it('an exception thrown at once refuses too', () => {
    const { gate, errors } = admission({
      authenticate: () => {
        throw new Error('oops');
      },
    });
    expect(gate.admit(HELLO, PLAIN)).toMatchObject({ code: 'HW_ERR_AUTH_REFUSED' });
    expect(errors).toHaveLength(1);
  });

  it('refuses an address that failed authFailureLimit times without asking authenticate', () => {
    let calls = 0;
    const { gate, counters } = admission({
      authFailureLimit: 3,
      authenticate: (hello) => {
        calls++;
        return hello.auth === 'right';
      },
    });
    for (let i = 0; i < 3; i++) expect(gate.admit({ ...HELLO, auth: 'wrong' }, PLAIN)).toMatchObject({ code: 'HW_ERR_AUTH_REFUSED' });
    const blocked = gate.admit({ ...HELLO, auth: 'right' }, PLAIN);
    expect(blocked).toMatchObject({ code: 'HW_ERR_AUTH_REFUSED', reason: expect.stringMatching(/too many failed authentications from this address; try again in 60 s/) });
    expect(calls).toBe(3);
    expect(counters).toEqual({ authRefused: 4, authBlocked: 1 });
    // Another address is not blocked.
    expect(gate.admit({ ...HELLO, auth: 'right' }, { ...PLAIN, address: '192.0.2.8' })).toBeUndefined();
  });

  it.each([
    ['requireEncryption', { requireEncryption: 'yes' }, /requireEncryption must be a boolean/],
    ['authenticate', { authenticate: 'always' }, /authenticate must be a function/],
    ['authFailureLimit', { authFailureLimit: -1 }, /authFailureLimit/],
    ['authBlockMs', { authBlockMs: 0 }, /authBlockMs/],
  ])('validates %s', (_name, options, message) => {
    expect(() => admission(options as AdmissionOptions)).toThrow(message);
  });
});

describe('AuthThrottle', () => {
  function throttle(limit: number, blockMs: number) {
    const clock = { now: 1_000_000 };
    return { throttle: new AuthThrottle(limit, blockMs, () => clock.now), clock };
  }

  it('blocks for blockMs after the last of limit failures, then forgets them', () => {
    const { throttle: t, clock } = throttle(2, 1000);
    t.failed('10.0.0.1');
    expect(t.blockedFor('10.0.0.1')).toBe(0);
    clock.now += 500;
    t.failed('10.0.0.1');
    expect(t.blockedFor('10.0.0.1')).toBe(1000);
    clock.now += 999;
    expect(t.blockedFor('10.0.0.1')).toBe(1);
    clock.now += 1;
    expect(t.blockedFor('10.0.0.1')).toBe(0);
    expect(t.size).toBe(0);
  });

  it('starts the count again when failures are more than blockMs apart', () => {
    const { throttle: t, clock } = throttle(2, 1000);
    t.failed('10.0.0.1');
    clock.now += 1000;
    t.failed('10.0.0.1');
    expect(t.blockedFor('10.0.0.1')).toBe(0);
  });

  it('counts an IPv6 address by its /64 and an IPv4-mapped one as IPv4', () => {
    const { throttle: t } = throttle(2, 1000);
    t.failed('2001:db8:1:2::1');
    t.failed('2001:db8:1:2:ffff::9%eth0');
    expect(t.blockedFor('2001:0db8:0001:0002:0:0:0:77')).toBe(1000);
    expect(t.blockedFor('2001:db8:1:3::1')).toBe(0);
    t.failed('::ffff:192.0.2.1');
    t.failed('192.0.2.1');
    expect(t.blockedFor('192.0.2.1')).toBe(1000);
    expect(addressKey('::1')).toBe('0:0:0:0::/64');
    expect(addressKey('fe80::1')).toBe('fe80:0:0:0::/64');
  });

  it('never blocks with a limit of 0', () => {
    const { throttle: t } = throttle(0, 1000);
    for (let i = 0; i < 100; i++) t.failed('10.0.0.1');
    expect(t.blockedFor('10.0.0.1')).toBe(0);
    expect(t.size).toBe(0);
  });

  it('remembers at most 65,536 addresses, forgetting the one that failed least recently', () => {
    const { throttle: t } = throttle(1, 1000);
    for (let i = 0; i <= 65_536; i++) t.failed(`10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`);
    expect(t.size).toBe(65_536);
    expect(t.blockedFor('10.0.0.0')).toBe(0);
    expect(t.blockedFor('10.0.0.1')).toBe(1000);
    expect(t.blockedFor('10.1.0.0')).toBe(1000);
  });
});
