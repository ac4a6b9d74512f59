/**
 * `hybridwire cert`: a development CA and a server and a client certificate signed by it, as PEM
 * files, for trying TLS and mutual TLS. The certificates are built by @peculiar/x509 and signed
 * through WebCrypto (Node's OpenSSL): P-256 keys, ECDSA with SHA-256, the extensions RFC 5280 asks
 * of a CA and its certificates (key identifiers included, which OpenSSL's strict verification,
 * Python's default since 3.13, requires).
 */
import { KeyObject, X509Certificate, createPrivateKey, randomBytes, webcrypto } from 'node:crypto';
import fs from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import * as x509 from '@peculiar/x509';
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
const DAY_MS = 86_400_000;
/** Certificates start a little in the past, so that a clock slightly behind does not refuse them. */
const CLOCK_SKEW_MS = 5 * 60_000;
const KEY_ALGORITHM = { name: 'ECDSA', namedCurve: 'P-256' };
const SIGNATURE_ALGORITHM = { name: 'ECDSA', hash: 'SHA-256' };
/** Node's WebCrypto, as @peculiar/x509 types it (the DOM's Crypto, which Node's matches). */
type X509Crypto = NonNullable<Parameters<typeof x509.X509CertificateGenerator.create>[1]>;
type X509Key = Parameters<typeof x509.SubjectKeyIdentifierExtension.create>[0];
type X509KeyPair = Parameters<typeof x509.X509CertificateGenerator.createSelfSigned>[0]['keys'];
const crypto = webcrypto as unknown as X509Crypto;

function newKeys(): Promise<webcrypto.CryptoKeyPair> {
  return webcrypto.subtle.generateKey(KEY_ALGORITHM, true, ['sign', 'verify']);
}

/** A positive 128-bit serial number, random as the CA/Browser Forum asks (at least 64 bits). */
function serialNumber(): string {
  const bytes = randomBytes(16);
  bytes[0] = (bytes[0]! & 0x7f) | 0x01;
  return bytes.toString('hex');
}

function pemKey(key: webcrypto.CryptoKey): string {
  return KeyObject.from(key).export({ type: 'pkcs8', format: 'pem' }) as string;
}

/** A CA certificate that may sign end-entity certificates only (path length 0). */
export async function createAuthority(commonName: string, validity: Validity): Promise<IssuedCertificate> {
  const keys = await newKeys();
  const certificate = await x509.X509CertificateGenerator.createSelfSigned(
    {
      serialNumber: serialNumber(),
      name: [{ CN: [commonName] }],
      notBefore: validity.notBefore,
      notAfter: validity.notAfter,
      signingAlgorithm: SIGNATURE_ALGORITHM,
      keys: keys as unknown as X509KeyPair,
      extensions: [
        new x509.BasicConstraintsExtension(true, 0, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
        await x509.SubjectKeyIdentifierExtension.create(keys.publicKey as unknown as X509Key, false, crypto),
      ],
    },
    crypto,
  );
  return { cert: certificate.toString('pem'), key: pemKey(keys.privateKey) };
}

/** A server or client certificate signed by `authority`. */
export async function issueCertificate(authority: IssuedCertificate, request: CertificateRequest): Promise<IssuedCertificate> {
  const issuer = new x509.X509Certificate(authority.cert);
  const issuerKeyId = issuer.getExtension(x509.SubjectKeyIdentifierExtension)?.keyId;
  const signingKey = await webcrypto.subtle.importKey('pkcs8', createPrivateKey(authority.key).export({ type: 'pkcs8', format: 'der' }), KEY_ALGORITHM, false, ['sign']);
  const keys = await newKeys();
  const hosts = request.hosts ?? [];
  const certificate = await x509.X509CertificateGenerator.create(
    {
      serialNumber: serialNumber(),
      subject: [{ CN: [request.commonName] }],
      issuer: issuer.subject,
      notBefore: request.notBefore,
      notAfter: request.notAfter,
      signingAlgorithm: SIGNATURE_ALGORITHM,
      publicKey: keys.publicKey as unknown as X509Key,
      signingKey: signingKey as unknown as X509KeyPair['privateKey'],
      extensions: [
        new x509.BasicConstraintsExtension(false, undefined, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
        new x509.ExtendedKeyUsageExtension([request.purpose === 'server' ? x509.ExtendedKeyUsage.serverAuth : x509.ExtendedKeyUsage.clientAuth]),
        await x509.SubjectKeyIdentifierExtension.create(keys.publicKey as unknown as X509Key, false, crypto),
        issuerKeyId === undefined ? await x509.AuthorityKeyIdentifierExtension.create(issuer.publicKey, false, crypto) : new x509.AuthorityKeyIdentifierExtension(issuerKeyId),
        ...(hosts.length === 0 ? [] : [new x509.SubjectAlternativeNameExtension(hosts.map((host) => ({ type: net.isIP(host) === 0 ? ('dns' as const) : ('ip' as const), value: host })))]),
      ],
    },
    crypto,
  );
  return { cert: certificate.toString('pem'), key: pemKey(keys.privateKey) };
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
