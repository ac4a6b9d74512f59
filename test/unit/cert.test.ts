/**
 * The certificates of `hybridwire cert` (ts/cli/cert.ts), read back with node:crypto: a CA that
 * signs them, names and addresses where they belong, keys that match, the validity asked for.
 */
import { X509Certificate, createHash, createPrivateKey } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { createAuthority, developmentCertificates, issueCertificate } from '../../ts/cli/cert.js';
import { publicKeyPin } from '../../ts/transport/tls.js';

describe('development certificates', () => {
  it('a CA, and a server and a client certificate that it signed, whose keys match them', async () => {
    const { ca, server, client } = await developmentCertificates(['localhost', '127.0.0.1', '::1'], 30);
    const authority = new X509Certificate(ca.cert);
    expect(authority.ca).toBe(true);
    expect(authority.subject).toBe('CN=hybridwire development CA');
    for (const issued of [server, client]) {
      const certificate = new X509Certificate(issued.cert);
      expect(certificate.ca).toBe(false);
      expect(certificate.checkIssued(authority)).toBe(true);
      expect(certificate.verify(authority.publicKey)).toBe(true);
      expect(certificate.checkPrivateKey(createPrivateKey(issued.key))).toBe(true);
      expect(certificate.publicKey.asymmetricKeyDetails?.namedCurve).toBe('prime256v1');
    }
    const serverCertificate = new X509Certificate(server.cert);
    expect(serverCertificate.checkHost('localhost')).toBe('localhost');
    expect(serverCertificate.checkIP('127.0.0.1')).toBe('127.0.0.1');
    expect(serverCertificate.checkIP('::1')).toBe('::1');
    expect(serverCertificate.checkHost('example.com')).toBeUndefined();
    expect(serverCertificate.keyUsage).toEqual(['1.3.6.1.5.5.7.3.1']);
    const clientCertificate = new X509Certificate(client.cert);
    expect(clientCertificate.subject).toBe('CN=hybridwire client');
    expect(clientCertificate.keyUsage).toEqual(['1.3.6.1.5.5.7.3.2']);
    expect(clientCertificate.subjectAltName).toBeUndefined();
    // Another run makes another CA: nothing is shared between developers' certificates.
    const again = await developmentCertificates(['localhost'], 30);
    expect(new X509Certificate(again.server.cert).checkIssued(authority)).toBe(false);
  });

  it('is valid from a few minutes ago for the days asked', async () => {
    const before = Date.now();
    const { server } = await developmentCertificates(['localhost'], 7);
    const certificate = new X509Certificate(server.cert);
    const from = Date.parse(certificate.validFrom);
    const to = Date.parse(certificate.validTo);
    expect(from).toBeLessThan(before);
    expect(before - from).toBeLessThanOrEqual(6 * 60_000);
    expect(Math.round((to - before) / 86_400_000)).toBe(7);
  });

  it('issues with the validity given (an expired one, for tests of refusals)', async () => {
    const ca = await createAuthority('test CA', { notBefore: new Date('2020-01-01T00:00:00Z'), notAfter: new Date('2040-01-01T00:00:00Z') });
    const old = await issueCertificate(ca, { commonName: 'old', purpose: 'client', notBefore: new Date('2020-01-01T00:00:00Z'), notAfter: new Date('2021-01-01T00:00:00Z') });
    const certificate = new X509Certificate(old.cert);
    expect(new Date(certificate.validTo).toISOString()).toBe('2021-01-01T00:00:00.000Z');
    expect(certificate.serialNumber).toMatch(/^[0-9A-F]{32}$/);
  });

  it("pins a key as sha256/ and the base64 SHA-256 of its SubjectPublicKeyInfo, curl's --pinnedpubkey form", async () => {
    const { server } = await developmentCertificates(['localhost'], 1);
    const certificate = new X509Certificate(server.cert);
    const spki = certificate.publicKey.export({ type: 'spki', format: 'der' });
    expect(publicKeyPin(certificate)).toBe(`sha256/${createHash('sha256').update(spki).digest('base64')}`);
    expect(publicKeyPin(certificate)).toMatch(/^sha256\/[A-Za-z0-9+/]{43}=$/);
  });
});
