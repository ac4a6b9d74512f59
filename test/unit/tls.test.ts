/**
 * What ts/transport/tls.ts decides without a socket: the coded error each failure of node:tls
 * becomes, and the options it accepts (test/integration/tls.test.ts drives it over sockets).
 */
import { describe, expect, it } from 'vitest';
import { resolveClientTls, tlsFailure } from '../../ts/transport/tls.js';

function failure(code: string, message = 'x'): Error {
  return Object.assign(new Error(message), { code });
}

describe('tlsFailure', () => {
  it.each([
    ['UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'HW_ERR_TLS_CERT_UNTRUSTED'],
    ['SELF_SIGNED_CERT_IN_CHAIN', 'HW_ERR_TLS_CERT_UNTRUSTED'],
    ['DEPTH_ZERO_SELF_SIGNED_CERT', 'HW_ERR_TLS_CERT_UNTRUSTED'],
    ['ERR_SSL_TLSV1_ALERT_UNKNOWN_CA', 'HW_ERR_TLS_CERT_UNTRUSTED'],
    ['CERT_HAS_EXPIRED', 'HW_ERR_TLS_CERT_EXPIRED'],
    ['CERT_NOT_YET_VALID', 'HW_ERR_TLS_CERT_EXPIRED'],
    ['ERR_TLS_CERT_ALTNAME_INVALID', 'HW_ERR_TLS_HOSTNAME_MISMATCH'],
    ['ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED', 'HW_ERR_TLS_CERT_REQUIRED'],
    ['ERR_SSL_WRONG_VERSION_NUMBER', 'HW_ERR_TLS_HANDSHAKE_FAILED'],
    ['ERR_SSL_TLSV1_ALERT_PROTOCOL_VERSION', 'HW_ERR_TLS_HANDSHAKE_FAILED'],
    ['ERR_SSL_TLSV1_ALERT_NO_APPLICATION_PROTOCOL', 'HW_ERR_TLS_HANDSHAKE_FAILED'],
    ['ERR_TLS_HANDSHAKE_TIMEOUT', 'HW_ERR_HANDSHAKE_TIMEOUT'],
  ])('%s is %s, with the cause kept', (cause, code) => {
    const error = failure(cause);
    const coded = tlsFailure(error, 'example:1');
    expect(coded?.code).toBe(code);
    expect(coded?.cause).toBe(error);
    expect(coded?.message).toContain('example:1');
  });

  it('says a server that answers a ClientHello with something else does not speak TLS', () => {
    expect(tlsFailure(failure('ERR_SSL_WRONG_VERSION_NUMBER'), 'h:1')?.message).toMatch(/does not speak TLS/);
  });

  it('leaves failures of TCP itself alone', () => {
    for (const code of ['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT']) expect(tlsFailure(failure(code), 'h:1')).toBeUndefined();
    expect(tlsFailure(new Error('no code'), 'h:1')).toBeUndefined();
  });
});

describe('resolveClientTls', () => {
  it('verifies by default, takes true for the defaults, and keeps the pins as a set', () => {
    expect(resolveClientTls(true)).toMatchObject({ rejectUnauthorized: true, servername: undefined, pins: undefined });
    const pin = `sha256/${Buffer.alloc(32, 1).toString('base64')}`;
    expect(resolveClientTls({ pins: [pin, pin], servername: 'example.org' })).toMatchObject({ pins: new Set([pin]), servername: 'example.org' });
  });

  it.each([
    [{ pins: [] }, /tls.pins/],
    [{ pins: ['sha256/short='] }, /tls.pins/],
    [{ pins: 'sha256/x' }, /tls.pins/],
    [{ servername: '' }, /tls.servername/],
    [{ servername: '::1' }, /tls.servername/],
    [{ minVersion: 'TLSv1' }, /tls.minVersion/],
    [{ maxVersion: 'TLSv1.1' }, /tls.maxVersion/],
    [{ ca: 'not a certificate' }, /option tls.ca must be certificates/],
    [{ ca: [Buffer.from('x')] }, /option tls.ca must be certificates/],
    ['yes', /option tls must be an object/],
  ])('refuses %j', (options, message) => {
    expect(() => resolveClientTls(options as never)).toThrow(message);
  });
});
