/**
 * The keys that seal a TLS session's datagrams (docs/PROTOCOL.md 4.4), taken from the TLS
 * exporter (RFC 5705; RFC 8446 section 7.5 for TLS 1.3), as OpenVPN's tls-ekm and DTLS-SRTP take
 * theirs: both ends of the TLS connection compute the same secret bytes, which nobody else can.
 * Each key epoch is one export of 88 bytes under our label, the epoch number as the context:
 *
 *   client key (32) | server key (32) | client IV (12) | server IV (12)
 *
 * The client seals with the client key and IV and opens with the server's; the server the reverse.
 * The AEAD follows the TLS cipher suite, which both ends know: ChaCha20-Poly1305 when the suite is
 * a ChaCha20 one (a client or server that prefers it, as on hardware without AES instructions),
 * AES-256-GCM otherwise, and so by default (Node's TLS 1.3 suites start with TLS_AES_256_GCM_SHA384).
 */
import type { Socket } from 'node:net';
import tls from 'node:tls';
import type { EpochKeys, SealAlgorithm, UdpSealing } from '../transport/datagram-seal.js';

/** The exporter label: RFC 5705 leaves labels that begin with EXPERIMENTAL to private use. */
export const UDP_EXPORTER_LABEL = 'EXPERIMENTAL-hybridwire-udp-v1';
const KEY_SIZE = 32;
const IV_SIZE = 12;
const EXPORT_SIZE = 2 * KEY_SIZE + 2 * IV_SIZE;

/** The AEAD that seals the datagrams of a TLS connection whose cipher suite is `suite`. */
export function udpAlgorithmFor(suite: string): SealAlgorithm {
  return /CHACHA20/i.test(suite) ? 'chacha20-poly1305' : 'aes-256-gcm';
}

/** The context of `epoch`'s export: the epoch as 8 big-endian bytes. */
export function exporterContext(epoch: number): Buffer {
  const context = Buffer.alloc(8);
  context.writeBigUInt64BE(BigInt(epoch));
  return context;
}

/** One epoch's export, split into this end's keys. */
export function splitExport(block: Uint8Array, role: 'client' | 'server'): EpochKeys {
  const clientKey = block.subarray(0, KEY_SIZE);
  const serverKey = block.subarray(KEY_SIZE, 2 * KEY_SIZE);
  const clientIv = block.subarray(2 * KEY_SIZE, 2 * KEY_SIZE + IV_SIZE);
  const serverIv = block.subarray(2 * KEY_SIZE + IV_SIZE, EXPORT_SIZE);
  return role === 'client'
    ? { sendKey: clientKey, sendIv: clientIv, receiveKey: serverKey, receiveIv: serverIv }
    : { sendKey: serverKey, sendIv: serverIv, receiveKey: clientKey, receiveIv: clientIv };
}

/**
 * The sealing of the datagrams of the session carried by `tlsSocket` (whose handshake is done),
 * for the end that is `role`.
 */
export function udpKeysFromTls(tlsSocket: tls.TLSSocket, role: 'client' | 'server'): UdpSealing {
  const cipher = tlsSocket.getCipher();
  return {
    algorithm: udpAlgorithmFor(cipher.standardName ?? cipher.name),
    keys: (epoch) => splitExport(tlsSocket.exportKeyingMaterial(EXPORT_SIZE, UDP_EXPORTER_LABEL, exporterContext(epoch)), role),
  };
}

/** The sealing of a session whose TCP side is `socket`: from its TLS exporter when it is TLS, else none. */
export function udpSealingFor(socket: Socket, role: 'client' | 'server'): UdpSealing | undefined {
  return socket instanceof tls.TLSSocket ? udpKeysFromTls(socket, role) : undefined;
}
