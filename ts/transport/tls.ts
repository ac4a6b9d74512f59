/**
 * TLS under the framing (docs/PROTOCOL.md 3.5). node:tls (OpenSSL) does all the cryptography; this
 * module holds what hybridwire decides around it: the options and their secure defaults
 * (verification on, TLS 1.3 unless 1.2 is allowed), the pinning of a server's public key, the
 * certificate a peer proved, the coded error a failed handshake becomes, and the keying material
 * a session exports.
 */
import { X509Certificate, createHash } from 'node:crypto';
import net from 'node:net';
import tls from 'node:tls';
import { HybridwireError, OptionError, type ErrorCode } from '../errors.js';

/** The ALPN protocol id both ends offer (RFC 7301): a TLS endpoint of another protocol is refused in the handshake. */
export const ALPN_PROTOCOL = 'hybridwire/1';

/** `createServer({ tls })`: node:tls secure-context options (key, cert, ca, ciphers...) and client authentication. */
export interface ServerTlsOptions extends tls.SecureContextOptions {
  /**
   * Require a client certificate that chains to `ca` (mutual TLS): a client without one, or with
   * one that does not verify, is refused. Default false.
   */
  requestCert?: boolean;
  /** With requestCert: false asks for a certificate without requiring it (peer.certificate tells). Default true. */
  rejectUnauthorized?: boolean;
}

/** `connect({ tls })`: node:tls secure-context options and the checks of the server's identity. */
export interface ClientTlsOptions extends tls.SecureContextOptions {
  /** The name sent in SNI and checked against the server's certificate. Default: `host` when it is a name. */
  servername?: string;
  /**
   * Verify the server's certificate chain and name. Default true. false skips both: then only
   * `pins`, if given, say who the server is.
   */
  rejectUnauthorized?: boolean;
  /**
   * SHA-256 hashes of public keys (SPKI) as `sha256/<base64>`, the form of curl's --pinnedpubkey:
   * the server's certificate must carry one of them, besides passing verification.
   */
  pins?: string[];
}

/** A verified certificate of the other end of a session. */
export interface PeerCertificate {
  /** Subject fields as node:tls gives them, e.g. `{ CN: 'client', O: 'example' }`. */
  subject: Record<string, string | string[]>;
  issuer: Record<string, string | string[]>;
  /** SHA-256 of the certificate (DER) as colon-separated hex pairs, like X509Certificate.fingerprint256. */
  fingerprint: string;
  /** The same value under node:crypto's name. */
  fingerprint256: string;
  /** `sha256/<base64>` of its public key (SPKI): what `pins` lists. */
  pin: string;
  subjectAltName: string | undefined;
  serialNumber: string;
  validFrom: string;
  validTo: string;
}

export interface ServerTls {
  /** For tls.Server, which builds its context itself; checked by building one here. */
  contextOptions: tls.SecureContextOptions;
  requestCert: boolean;
  rejectUnauthorized: boolean;
}

export interface ClientTls {
  context: tls.SecureContext;
  servername: string | undefined;
  rejectUnauthorized: boolean;
  pins: ReadonlySet<string> | undefined;
}

const VERSIONS = ['TLSv1.2', 'TLSv1.3'];
const PIN = /^sha256\/[A-Za-z0-9+/]{43}=$/;

/** The options with the default minVersion, checked by building a context from them. */
function contextOptionsOf(options: tls.SecureContextOptions): { contextOptions: tls.SecureContextOptions; context: tls.SecureContext } {
  const { minVersion = 'TLSv1.3', maxVersion } = options;
  if (!VERSIONS.includes(minVersion)) throw new OptionError(`option tls.minVersion must be 'TLSv1.3' (the default) or 'TLSv1.2', got ${String(minVersion)}`);
  if (maxVersion !== undefined && !VERSIONS.includes(maxVersion)) throw new OptionError(`option tls.maxVersion must be 'TLSv1.3' or 'TLSv1.2', got ${String(maxVersion)}`);
  // node:tls ignores a `ca` it cannot read, leaving nothing to verify against: say so now.
  for (const ca of options.ca === undefined ? [] : [options.ca].flat()) {
    try {
      new X509Certificate(ca);
    } catch {
      throw new OptionError('option tls.ca must be certificates (PEM or DER): one of them is not');
    }
  }
  const contextOptions = { ...options, minVersion };
  try {
    return { contextOptions, context: tls.createSecureContext(contextOptions) };
  } catch (error) {
    throw new OptionError(`option tls: ${(error as Error).message}`);
  }
}

function checkObject(value: unknown): asserts value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new OptionError('option tls must be an object of node:tls options');
}

function checkBoolean(name: string, value: unknown, fallback: boolean): boolean {
  if (value === undefined) return fallback;
  if (typeof value !== 'boolean') throw new OptionError(`option tls.${name} must be a boolean, got ${String(value)}`);
  return value;
}

/** Validates a server's `tls` option once, building its secure context. */
export function resolveServerTls(options: ServerTlsOptions): ServerTls {
  checkObject(options);
  if (options.pfx === undefined && (options.key === undefined || options.cert === undefined)) {
    throw new OptionError('option tls needs key and cert (or pfx): the server must prove who it is');
  }
  const { requestCert, rejectUnauthorized, ...contextOptions } = options;
  return {
    contextOptions: contextOptionsOf(contextOptions).contextOptions,
    requestCert: checkBoolean('requestCert', requestCert, false),
    rejectUnauthorized: checkBoolean('rejectUnauthorized', rejectUnauthorized, true),
  };
}

/** Validates a client's `tls` option once (`true` means the defaults), building its secure context. */
export function resolveClientTls(options: ClientTlsOptions | true): ClientTls {
  const given = options === true ? {} : options;
  checkObject(given);
  const { servername, rejectUnauthorized, pins, ...contextOptions } = given;
  if (servername !== undefined && (typeof servername !== 'string' || servername === '' || net.isIP(servername) !== 0)) {
    throw new OptionError(`option tls.servername must be a host name (not an IP address), got ${String(servername)}`);
  }
  if (pins !== undefined && (!Array.isArray(pins) || pins.length === 0 || !pins.every((pin) => typeof pin === 'string' && PIN.test(pin)))) {
    throw new OptionError("option tls.pins must be a non-empty array of 'sha256/<base64 of 32 bytes>' strings");
  }
  return {
    context: contextOptionsOf(contextOptions).context,
    servername,
    rejectUnauthorized: checkBoolean('rejectUnauthorized', rejectUnauthorized, true),
    pins: pins === undefined ? undefined : new Set(pins),
  };
}

/** `sha256/<base64>` of a certificate's public key (SPKI, DER), the form `pins` takes. */
export function publicKeyPin(certificate: X509Certificate): string {
  const spki = certificate.publicKey.export({ type: 'spki', format: 'der' });
  return `sha256/${createHash('sha256').update(spki).digest('base64')}`;
}

function fieldsOf(name: tls.Certificate | undefined): Record<string, string | string[]> {
  const fields: Record<string, string | string[]> = {};
  for (const [key, value] of Object.entries(name ?? {})) if (value !== undefined) fields[key] = value;
  return fields;
}

/**
 * The certificate the other end presented, if any. Read through getPeerCertificate() only: in
 * Node 20, once getPeerX509Certificate() has been called, getPeerCertificate() returns nothing.
 * In TLS 1.3 a client reads it in 'secureConnect' (a session ticket arriving later replaces it).
 */
function presented(socket: tls.TLSSocket): tls.DetailedPeerCertificate | undefined {
  const details = socket.getPeerCertificate(false) as tls.DetailedPeerCertificate | null;
  return details === null || details.raw === undefined ? undefined : details;
}

/** The certificate the other end of `socket` presented, or undefined (none, or not TLS). */
export function peerCertificate(socket: net.Socket): PeerCertificate | undefined {
  if (!(socket instanceof tls.TLSSocket)) return undefined;
  const details = presented(socket);
  if (details === undefined) return undefined;
  return {
    subject: fieldsOf(details.subject),
    issuer: fieldsOf(details.issuer),
    fingerprint: details.fingerprint256,
    fingerprint256: details.fingerprint256,
    pin: publicKeyPin(new X509Certificate(details.raw)),
    subjectAltName: details.subjectaltname,
    serialNumber: details.serialNumber,
    validFrom: details.valid_from,
    validTo: details.valid_to,
  };
}

/** A pinned server whose key is not among the pins: the error to close with, else undefined. */
export function checkPins(socket: tls.TLSSocket, settings: ClientTls): HybridwireError | undefined {
  if (settings.pins === undefined) return undefined;
  const certificate = presented(socket);
  const pin = certificate === undefined ? undefined : publicKeyPin(new X509Certificate(certificate.raw));
  if (pin !== undefined && settings.pins.has(pin)) return undefined;
  return new HybridwireError('HW_ERR_TLS_PIN_MISMATCH', `the server's public key ${pin ?? '(none)'} matches none of the ${settings.pins.size} pin(s)`);
}

/** Whether `socket` carries TLS. */
export function isEncrypted(socket: net.Socket): socket is tls.TLSSocket {
  return socket instanceof tls.TLSSocket;
}

/**
 * Keying material exported from the TLS session under `socket` (RFC 5705; RFC 8446 §7.5 in TLS
 * 1.3): both ends of the session get the same `length` bytes for the same `label` and `context`,
 * and nobody else can compute them. undefined when the session is not TLS (or its handshake is
 * not done). This is what keys the sealing of a session's datagrams, on either side:
 *
 * ```ts
 * const keys = exportKeyingMaterial(connection.socket, 88, 'EXPERIMENTAL-hybridwire-udp-v1'); // docs/PROTOCOL.md 4.4
 * if (keys === undefined) { ... the session is plaintext ... }
 * ```
 */
export function exportKeyingMaterial(socket: net.Socket, length: number, label: string, context?: Buffer): Buffer | undefined {
  if (!isEncrypted(socket) || socket.getProtocol() === null || !socket.encrypted) return undefined;
  return socket.exportKeyingMaterial(length, label, context as Buffer);
}

// What OpenSSL and node:tls call the failures (X.509 verification codes, alerts received from
// the other end, node:tls's own), by what they mean to a user.
const FAILURES: ReadonlyArray<[ErrorCode, string, readonly string[]]> = [
  [
    'HW_ERR_TLS_CERT_UNTRUSTED',
    'the certificate does not chain to a trusted CA',
    [
      'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
      'UNABLE_TO_GET_ISSUER_CERT',
      'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
      'SELF_SIGNED_CERT_IN_CHAIN',
      'DEPTH_ZERO_SELF_SIGNED_CERT',
      'CERT_SIGNATURE_FAILURE',
      'CERT_UNTRUSTED',
      'CERT_REJECTED',
      'INVALID_CA',
      'INVALID_PURPOSE',
      'PATH_LENGTH_EXCEEDED',
      'CERT_CHAIN_TOO_LONG',
      'ERR_SSL_TLSV1_ALERT_UNKNOWN_CA',
      'ERR_SSL_SSLV3_ALERT_BAD_CERTIFICATE',
      'ERR_SSL_SSLV3_ALERT_CERTIFICATE_UNKNOWN',
    ],
  ],
  ['HW_ERR_TLS_CERT_EXPIRED', 'the certificate has expired or is not valid yet', ['CERT_HAS_EXPIRED', 'CERT_NOT_YET_VALID', 'ERR_SSL_SSLV3_ALERT_CERTIFICATE_EXPIRED']],
  ['HW_ERR_TLS_HOSTNAME_MISMATCH', "the certificate is not for the host's name", ['ERR_TLS_CERT_ALTNAME_INVALID']],
  ['HW_ERR_TLS_CERT_REQUIRED', 'the server requires a client certificate', ['ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED', 'ERR_SSL_PEER_DID_NOT_RETURN_A_CERTIFICATE']],
];
const CODE_OF = new Map<string, [ErrorCode, string]>(FAILURES.flatMap(([code, meaning, causes]) => causes.map((cause) => [cause, [code, meaning]] as const)));
/** A reply that is not TLS: the other end does not speak it (a plaintext hybridwire server answers a ClientHello with an ERROR frame). */
const NOT_TLS = new Set(['ERR_SSL_WRONG_VERSION_NUMBER', 'ERR_SSL_PACKET_LENGTH_TOO_LONG', 'ERR_SSL_RECORD_LAYER_FAILURE', 'ERR_SSL_UNEXPECTED_EOF_WHILE_READING']);

/**
 * The coded error for a failure of the TLS layer (`where` says with whom), or undefined when
 * `error` is not one (a refused or reset TCP connection).
 */
export function tlsFailure(error: Error, where: string): HybridwireError | undefined {
  const cause = (error as { code?: unknown }).code;
  if (typeof cause !== 'string') return undefined;
  const known = CODE_OF.get(cause);
  if (known) return new HybridwireError(known[0], `TLS with ${where} failed: ${known[1]} (${cause}: ${error.message})`, { cause: error });
  if (cause === 'ERR_TLS_HANDSHAKE_TIMEOUT') return new HybridwireError('HW_ERR_HANDSHAKE_TIMEOUT', `TLS with ${where} failed: the handshake took too long`, { cause: error });
  if (NOT_TLS.has(cause)) return new HybridwireError('HW_ERR_TLS_HANDSHAKE_FAILED', `TLS with ${where} failed: the other end does not speak TLS (${cause})`, { cause: error });
  if (cause.startsWith('ERR_SSL_') || cause.startsWith('ERR_TLS_') || /^[A-Z_]+_CERT|^CERT_/.test(cause)) {
    return new HybridwireError('HW_ERR_TLS_HANDSHAKE_FAILED', `TLS with ${where} failed (${cause}: ${error.message})`, { cause: error });
  }
  return undefined;
}

/** The coded error for a server-side verification result of a client certificate (`authorizationError`). */
export function clientCertificateFailure(socket: tls.TLSSocket): HybridwireError {
  const reason = String(socket.authorizationError ?? 'UNABLE_TO_GET_ISSUER_CERT');
  if (presented(socket) === undefined) return new HybridwireError('HW_ERR_TLS_CERT_REQUIRED', 'this server requires a client certificate signed by a CA it trusts; none was presented');
  const [code, meaning] = CODE_OF.get(reason) ?? ['HW_ERR_TLS_CERT_UNTRUSTED', 'the certificate does not verify'];
  return new HybridwireError(code, `the client certificate was refused: ${meaning} (${reason})`);
}
