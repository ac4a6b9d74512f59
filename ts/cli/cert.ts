/**
 * `hybridwire cert`: a development CA and a server and a client certificate signed by it, as PEM
 * files, for trying TLS and mutual TLS. The certificates come from `selfsigned` (over
 * @peculiar/x509 and WebCrypto): P-256 keys, ECDSA with SHA-256.
 */
import { X509Certificate } from 'node:crypto';
import fs from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { generate } from 'selfsigned';
import { publicKeyPin } from '../transport/tls.js';

export interface IssuedCertificate {
  /** The certificate, PEM. */
  cert: string;
  /** Its private key, PEM (PKCS #8, unencrypted). */
  key: string;
}

export interface Validity {
  notBefore: Date;
  notAfter: Date;
}

export interface CertificateRequest extends Validity {
  commonName: string;
  /** What the certificate may prove: a server's identity (with `hosts`) or a client's. */
  purpose: 'server' | 'client';
  /** Names and IP addresses the server certificate is for (subjectAltName). */
  hosts?: readonly string[];
}

export const DEFAULT_HOSTS = ['localhost', '127.0.0.1', '::1'];
export const DEFAULT_DAYS = 90;
const KEY = { keyType: 'ec', curve: 'P-256', algorithm: 'sha256' } as const;
const DAY_MS = 86_400_000;
/** Certificates start a little in the past, so that a clock slightly behind does not refuse them. */
const CLOCK_SKEW_MS = 5 * 60_000;

/** A CA certificate that may sign end-entity certificates only (path length 0). */
export async function createAuthority(commonName: string, validity: Validity): Promise<IssuedCertificate> {
  const pems = await generate([{ name: 'commonName', value: commonName }], {
    ...KEY,
    notBeforeDate: validity.notBefore,
    notAfterDate: validity.notAfter,
    extensions: [
      { name: 'basicConstraints', cA: true, pathLenConstraint: 0, critical: true },
      { name: 'keyUsage', keyCertSign: true, cRLSign: true, critical: true },
    ],
  });
  return { cert: pems.cert, key: pems.private };
}

/** A server or client certificate signed by `authority`. */
export async function issueCertificate(authority: IssuedCertificate, request: CertificateRequest): Promise<IssuedCertificate> {
  const hosts = request.hosts ?? [];
  const pems = await generate([{ name: 'commonName', value: request.commonName }], {
    ...KEY,
    notBeforeDate: request.notBefore,
    notAfterDate: request.notAfter,
    ca: { key: authority.key, cert: authority.cert },
    extensions: [
      { name: 'basicConstraints', cA: false, critical: true },
      { name: 'keyUsage', digitalSignature: true, critical: true },
      request.purpose === 'server' ? { name: 'extKeyUsage', serverAuth: true } : { name: 'extKeyUsage', clientAuth: true },
      ...(hosts.length === 0 ? [] : [{ name: 'subjectAltName' as const, altNames: hosts.map((host) => (net.isIP(host) === 0 ? { type: 2 as const, value: host } : { type: 7 as const, ip: host })) }]),
    ],
  });
  return { cert: pems.cert, key: pems.private };
}

export interface DevelopmentCertificates {
  ca: IssuedCertificate;
  server: IssuedCertificate;
  client: IssuedCertificate;
}

/** A new CA, a server certificate for `hosts` and a client certificate, valid for `days` from now. */
export async function developmentCertificates(hosts: readonly string[], days: number): Promise<DevelopmentCertificates> {
  const now = Date.now();
  const validity = { notBefore: new Date(now - CLOCK_SKEW_MS), notAfter: new Date(now + days * DAY_MS) };
  const ca = await createAuthority('hybridwire development CA', validity);
  const server = await issueCertificate(ca, { ...validity, commonName: hosts[0]!, purpose: 'server', hosts });
  const client = await issueCertificate(ca, { ...validity, commonName: 'hybridwire client', purpose: 'client' });
  return { ca, server, client };
}

function checkHost(host: string): string {
  if (net.isIP(host) !== 0 || /^(?=.{1,253}$)(\*\.)?[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/.test(host)) return host;
  throw new Error(`--hosts: '${host}' is neither a host name nor an IP address`);
}

/**
 * Writes ca.pem, server.pem, server-key.pem, client.pem and client-key.pem into `out` (created if
 * missing; the keys readable by their owner only) and prints what it wrote. The CA's own key is
 * not kept: nothing more can be signed with it, so these files are all a leak could expose.
 */
export async function cert(out: string, hosts: readonly string[], days: number): Promise<number> {
  hosts.forEach(checkHost);
  if (hosts.length === 0) throw new Error('--hosts needs at least one host name or IP address');
  if (!Number.isInteger(days) || days < 1 || days > 3650) throw new Error(`--days must be an integer from 1 to 3650, got '${days}'`);
  const { ca, server, client } = await developmentCertificates(hosts, days);
  await fs.mkdir(out, { recursive: true });
  const files: Array<[string, string, number]> = [
    ['ca.pem', ca.cert, 0o644],
    ['server.pem', server.cert, 0o644],
    ['server-key.pem', server.key, 0o600],
    ['client.pem', client.cert, 0o644],
    ['client-key.pem', client.key, 0o600],
  ];
  for (const [name, content, mode] of files) {
    const file = path.join(out, name);
    await fs.writeFile(file, content, { mode });
    // writeFile's mode applies only to a new file.
    await fs.chmod(file, mode);
  }
  process.stdout.write(`wrote ${files.map(([name]) => path.join(out, name)).join(', ')}\n`);
  process.stdout.write(`a development CA and, signed by it, a server certificate for ${hosts.join(', ')} and a client certificate, valid for ${days} days\n`);
  process.stdout.write(`server key pin (connect --pin): ${publicKeyPin(new X509Certificate(server.cert))}\n`);
  return 0;
}
