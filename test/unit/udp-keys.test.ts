/**
 * The keys of sealed datagrams from the TLS exporter (ts/session/udp-keys.ts), over real TLS
 * connections on 127.0.0.1: both ends derive mirrored keys, fresh per epoch and per connection,
 * the AEAD follows the cipher suite, and what one end seals the other opens.
 */
import net from 'node:net';
import { once } from 'node:events';
import { afterEach, describe, expect, it } from 'vitest';
import { UDP_EXPORTER_LABEL, exporterContext, udpAlgorithmFor, udpKeysFromTls, udpSealingFor } from '../../ts/session/udp-keys.js';
import { DatagramSeal, OpenResult } from '../../ts/transport/datagram-seal.js';
import { tlsPair, type TlsPair } from '../support/tls.js';

const TOKEN = Buffer.from('tokenAAA');
const pairs: TlsPair[] = [];
afterEach(() => {
  for (const pair of pairs.splice(0)) pair.close();
});

async function pair(...args: Parameters<typeof tlsPair>): Promise<TlsPair> {
  const made = await tlsPair(...args);
  pairs.push(made);
  return made;
}

describe('udpKeysFromTls', () => {
  it('gives both ends of a TLS 1.3 connection mirrored keys, different per epoch and per connection', async () => {
    const { client, server } = await pair();
    expect(client.getProtocol()).toBe('TLSv1.3');
    const clientKeys = udpKeysFromTls(client, 'client');
    const serverKeys = udpKeysFromTls(server, 'server');
    expect(clientKeys.algorithm).toBe('aes-256-gcm');
    expect(serverKeys.algorithm).toBe('aes-256-gcm');
    const a = clientKeys.keys(0);
    const b = serverKeys.keys(0);
    expect([b.receiveKey, b.receiveIv, b.sendKey, b.sendIv]).toEqual([a.sendKey, a.sendIv, a.receiveKey, a.receiveIv]);
    expect([a.sendKey.length, a.sendIv.length, a.receiveKey.length, a.receiveIv.length]).toEqual([32, 12, 32, 12]);
    expect(a.sendKey).not.toEqual(a.receiveKey);
    // The export itself, with the label and context of docs/PROTOCOL.md 4.4.
    const block = client.exportKeyingMaterial(88, UDP_EXPORTER_LABEL, exporterContext(0));
    expect(Buffer.concat([a.sendKey, a.receiveKey, a.sendIv, a.receiveIv])).toEqual(block);
    expect(exporterContext(2 ** 22 + 1)).toEqual(Buffer.from('0000000000400001', 'hex'));
    expect(clientKeys.keys(1).sendKey).not.toEqual(a.sendKey);
    const other = await pair();
    expect(udpKeysFromTls(other.client, 'client').keys(0).sendKey).not.toEqual(a.sendKey);
  });

  it('what one end seals the other opens, and not a third party with another connection\'s keys', async () => {
    const { client, server } = await pair();
    const sender = new DatagramSeal(TOKEN, udpKeysFromTls(client, 'client'));
    const receiver = new DatagramSeal(TOKEN, udpKeysFromTls(server, 'server'));
    const outsider = new DatagramSeal(TOKEN, udpKeysFromTls((await pair()).server, 'server'));
    const sealed = sender.seal(Buffer.concat([TOKEN, Buffer.from('over the exporter')]))!;
    expect(outsider.open(Buffer.from(sealed.subarray(8)), true)).toBe(OpenResult.UNOPENED);
    const copy = Buffer.from(sealed.subarray(8));
    expect(receiver.open(copy, true)).toBe(OpenResult.OPENED);
    expect(copy.subarray(8, 8 + receiver.framesLength).toString()).toBe('over the exporter');
  });

  it('seals with ChaCha20-Poly1305 when the cipher suite is ChaCha20-Poly1305, on both ends (TLS 1.3 and 1.2)', async () => {
    const v13 = await pair({ ciphers: 'TLS_CHACHA20_POLY1305_SHA256' });
    expect(v13.client.getCipher().standardName).toBe('TLS_CHACHA20_POLY1305_SHA256');
    expect(udpKeysFromTls(v13.client, 'client').algorithm).toBe('chacha20-poly1305');
    expect(udpKeysFromTls(v13.server, 'server').algorithm).toBe('chacha20-poly1305');
    const v12 = await pair({ maxVersion: 'TLSv1.2', ciphers: 'ECDHE-ECDSA-CHACHA20-POLY1305' });
    expect(v12.client.getProtocol()).toBe('TLSv1.2');
    expect(udpKeysFromTls(v12.server, 'server').algorithm).toBe('chacha20-poly1305');
    const sealed = new DatagramSeal(TOKEN, udpKeysFromTls(v12.client, 'client')).seal(Buffer.concat([TOKEN, Buffer.from('x')]))!;
    expect(new DatagramSeal(TOKEN, udpKeysFromTls(v12.server, 'server')).open(Buffer.from(sealed.subarray(8)), true)).toBe(OpenResult.OPENED);
  });

  it('names the AEAD from any suite name', () => {
    expect(udpAlgorithmFor('TLS_AES_256_GCM_SHA384')).toBe('aes-256-gcm');
    expect(udpAlgorithmFor('TLS_AES_128_GCM_SHA256')).toBe('aes-256-gcm');
    expect(udpAlgorithmFor('TLS_CHACHA20_POLY1305_SHA256')).toBe('chacha20-poly1305');
    expect(udpAlgorithmFor('TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256')).toBe('chacha20-poly1305');
  });
});

describe('udpSealingFor', () => {
  it('seals a TLS session\'s datagrams and not a plain TCP session\'s', async () => {
    const { client } = await pair();
    expect(udpSealingFor(client, 'client')?.algorithm).toBe('aes-256-gcm');
    const listener = net.createServer((socket) => socket.destroy());
    listener.listen(0, '127.0.0.1');
    await once(listener, 'listening');
    const plain = net.connect((listener.address() as net.AddressInfo).port, '127.0.0.1');
    await once(plain, 'connect');
    expect(udpSealingFor(plain, 'client')).toBeUndefined();
    plain.destroy();
    listener.close();
  });

  it('a connection that has closed gives no keys: asking for them throws', async () => {
    const made = await pair();
    const sealing = udpKeysFromTls(made.client, 'client');
    made.client.destroy();
    await once(made.client, 'close');
    expect(() => sealing.keys(3)).toThrow();
  });
});
