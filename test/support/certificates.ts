/**
 * Certificates for TLS tests, made the way `hybridwire cert` makes them (ts/cli/cert.ts): a CA
 * with a server certificate for localhost, 127.0.0.1 and ::1 and a client certificate; a second,
 * unrelated CA with its own; and expired ones. Made once per test file.
 */
import { X509Certificate } from 'node:crypto';
import { createAuthority, issueCertificate, type IssuedCertificate } from '../../ts/cli/cert.js';
import { publicKeyPin } from '../../ts/transport/tls.js';

export interface TestCertificates {
  ca: IssuedCertificate;
  server: IssuedCertificate;
  client: IssuedCertificate;
  /** Another CA, which the servers and clients of these tests do not trust, and its certificates. */
  otherCa: IssuedCertificate;
  otherServer: IssuedCertificate;
  otherClient: IssuedCertificate;
  /** Signed by `ca`, but valid only until yesterday. */
  expiredServer: IssuedCertificate;
  expiredClient: IssuedCertificate;
  /** Signed by `ca`, for example.com only. */
  wrongHostServer: IssuedCertificate;
  /** The pin (sha256/<base64> of the SPKI) of `server`'s key. */
  serverPin: string;
}

const DAY_MS = 86_400_000;
let made: Promise<TestCertificates> | undefined;

async function make(): Promise<TestCertificates> {
  const now = Date.now();
  const valid = { notBefore: new Date(now - DAY_MS), notAfter: new Date(now + DAY_MS) };
  const expired = { notBefore: new Date(now - 10 * DAY_MS), notAfter: new Date(now - DAY_MS) };
  const hosts = ['localhost', '127.0.0.1', '::1'];
  const ca = await createAuthority('test CA', valid);
  const otherCa = await createAuthority('other CA', valid);
  const server = await issueCertificate(ca, { ...valid, commonName: 'localhost', purpose: 'server', hosts });
  return {
    ca,
    server,
    client: await issueCertificate(ca, { ...valid, commonName: 'test client', purpose: 'client' }),
    otherCa,
    otherServer: await issueCertificate(otherCa, { ...valid, commonName: 'localhost', purpose: 'server', hosts }),
    otherClient: await issueCertificate(otherCa, { ...valid, commonName: 'intruder', purpose: 'client' }),
    expiredServer: await issueCertificate(ca, { ...expired, commonName: 'localhost', purpose: 'server', hosts }),
    expiredClient: await issueCertificate(ca, { ...expired, commonName: 'old client', purpose: 'client' }),
    wrongHostServer: await issueCertificate(ca, { ...valid, commonName: 'example.com', purpose: 'server', hosts: ['example.com'] }),
    serverPin: publicKeyPin(new X509Certificate(server.cert)),
  };
}

export function testCertificates(): Promise<TestCertificates> {
  made ??= make();
  return made;
}
