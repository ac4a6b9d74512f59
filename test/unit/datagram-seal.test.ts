/**
 * Sealed datagrams (ts/transport/datagram-seal.ts over native/core/crypto): the bytes against
 * node:crypto's own AEADs, batches and socket rows, key epochs asked for as they come, the
 * integrity limit, and keys that cannot be had.
 */
import { createCipheriv, randomBytes, type CipherGCMTypes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { DatagramSeal, EPOCH_RECORDS, OpenResult, SEAL_OVERHEAD, type EpochKeys, type SealAlgorithm, type UdpSealing } from '../../ts/transport/datagram-seal.js';
import { DONT_FRAGMENT } from '../../ts/native/layouts.js';

const TOKEN = Buffer.from('tokenAAA');
const ALGORITHMS: SealAlgorithm[] = ['aes-256-gcm', 'chacha20-poly1305'];

/** Fixed keys per epoch, the two ends' views of them, and the epochs asked for. */
function sealings(algorithm: SealAlgorithm): { client: UdpSealing; server: UdpSealing; asked: number[]; material: (epoch: number) => Buffer } {
  const asked: number[] = [];
  const material = (epoch: number) => Buffer.from(Array.from({ length: 88 }, (_, i) => (i * 7 + epoch * 13) & 0xff));
  const view = (role: 'client' | 'server') => ({
    algorithm,
    keys: (epoch: number): EpochKeys => {
      asked.push(epoch);
      const block = material(epoch);
      const [clientKey, serverKey, clientIv, serverIv] = [block.subarray(0, 32), block.subarray(32, 64), block.subarray(64, 76), block.subarray(76, 88)];
      return role === 'client'
        ? { sendKey: clientKey, sendIv: clientIv, receiveKey: serverKey, receiveIv: serverIv }
        : { sendKey: serverKey, sendIv: serverIv, receiveKey: clientKey, receiveIv: clientIv };
    },
  });
  return { client: view('client'), server: view('server'), asked, material };
}

/** node:crypto's sealing of `frames` as record `record`: the reference the native bytes must equal. */
function reference(algorithm: SealAlgorithm, key: Buffer, iv: Buffer, record: bigint, frames: Buffer): Buffer {
  const header = Buffer.alloc(16);
  TOKEN.copy(header);
  header.writeBigUInt64LE(record, 8);
  const nonce = Buffer.from(iv);
  const number = Buffer.alloc(12);
  number.writeBigUInt64BE(record, 4);
  for (let i = 0; i < 12; i++) nonce[i]! ^= number[i]!;
  const cipher = createCipheriv(algorithm as CipherGCMTypes, key, nonce, { authTagLength: 16 });
  cipher.setAAD(header);
  return Buffer.concat([header, cipher.update(frames), cipher.final(), cipher.getAuthTag()]);
}

describe.each(ALGORITHMS)('%s', (algorithm) => {
  it('seals as node:crypto does (nonce = IV xor record number, token and record number authenticated) and opens once', () => {
    const { client, server, material } = sealings(algorithm);
    const sender = new DatagramSeal(TOKEN, client, { firstRecord: 41 });
    const receiver = new DatagramSeal(TOKEN, server);
    const frames = randomBytes(300);
    const sealed = sender.seal(Buffer.concat([TOKEN, frames]))!;
    const block = material(0);
    expect(sealed).toEqual(reference(algorithm, block.subarray(0, 32), block.subarray(64, 76), 41n, frames));
    expect(sealed.length).toBe(8 + frames.length + SEAL_OVERHEAD);

    const copy = Buffer.from(sealed.subarray(8));
    expect(receiver.open(copy, true)).toBe(OpenResult.OPENED);
    expect(copy.subarray(8, 8 + receiver.framesLength)).toEqual(frames);
    expect(receiver.open(Buffer.from(sealed.subarray(8)), true)).toBe(OpenResult.REPLAYED);
    expect(receiver.stats()).toEqual({ algorithm, sealed: 0, opened: 1, unopened: 0, replayed: 1, sendEpoch: 0, receiveEpoch: 0 });
    expect(sender.stats()).toMatchObject({ sealed: 1 });
  });

  it('seals a flush as a batch (lengths grow by 24, DONT_FRAGMENT kept) and opens socket rows in place, keeping those that open', () => {
    const { client, server } = sealings(algorithm);
    const sender = new DatagramSeal(TOKEN, client);
    const receiver = new DatagramSeal(TOKEN, server);
    const payloads = [randomBytes(10), randomBytes(1200), randomBytes(0)];
    const slab = Buffer.concat(payloads.flatMap((payload) => [TOKEN, payload]));
    const lengths = new Uint32Array([18, 1208 | DONT_FRAGMENT, 8]);
    const out = sender.sealBatch(slab, 0, lengths, 3)!;
    expect(Array.from(sender.lengths.subarray(0, 3))).toEqual([42, (1232 | DONT_FRAGMENT) >>> 0, 32]);
    const datagrams = [out.subarray(0, 42), out.subarray(42, 42 + 1232), out.subarray(1274, 1306)].map((d) => Buffer.from(d));
    const flipped = Buffer.from(datagrams[1]!);
    flipped[100]! ^= 0x01;
    // As a socket batch: the three, a copy with a bit flipped, a replay of the first, then one from another sender.
    const batch = [datagrams[0]!, flipped, datagrams[1]!, datagrams[0]!, datagrams[2]!, datagrams[2]!];
    const bytes = Buffer.concat(batch);
    const rows = new Uint32Array(4 * batch.length);
    let offset = 0;
    batch.forEach((datagram, i) => {
      rows.set([offset, datagram.length, 4000, i === 5 ? 1 : 0], 4 * i);
      offset += datagram.length;
    });
    expect(receiver.openRows(bytes, rows, 0, batch.length)).toBe(5);
    expect(receiver.kept).toBe(3);
    const opened = [0, 1, 2].map((i) => bytes.subarray(rows[4 * i]!, rows[4 * i]! + rows[4 * i + 1]!));
    expect(opened).toEqual(payloads.map((payload) => Buffer.concat([TOKEN, payload])));
    expect(Array.from(rows.subarray(0, 12)).filter((_, i) => i % 4 >= 2)).toEqual([4000, 0, 4000, 0, 4000, 0]);
    expect(receiver.stats()).toMatchObject({ opened: 3, unopened: 1, replayed: 1 });
  });

  it('only judges without accepting: the same datagram opens again later, and is delivered once', () => {
    const { client, server } = sealings(algorithm);
    const sealed = new DatagramSeal(TOKEN, client).seal(Buffer.concat([TOKEN, Buffer.from('frames')]))!;
    const receiver = new DatagramSeal(TOKEN, server);
    expect(receiver.open(Buffer.from(sealed.subarray(8)), false)).toBe(OpenResult.OPENED);
    expect(receiver.open(Buffer.from(sealed.subarray(8)), true)).toBe(OpenResult.OPENED);
    expect(receiver.open(Buffer.from(sealed.subarray(8)), true)).toBe(OpenResult.REPLAYED);
  });

  it('asks for each epoch\'s keys as it comes, and zeroes them once installed', () => {
    const { client, server, asked } = sealings(algorithm);
    const given: EpochKeys[] = [];
    const watched: UdpSealing = { algorithm, keys: (epoch) => given[given.push(client.keys(epoch)) - 1]! };
    const sender = new DatagramSeal(TOKEN, watched, { firstRecord: EPOCH_RECORDS - 1 });
    expect(asked).toEqual([0, 1]);
    expect(given.every((keys) => keys.sendKey.every((byte) => byte === 0))).toBe(true);
    const receiver = new DatagramSeal(TOKEN, server);
    const last = sender.seal(Buffer.concat([TOKEN, Buffer.from('last of epoch 0')]))!;
    expect(asked).toEqual([0, 1, 0, 1, 2]);
    const first = sender.seal(Buffer.concat([TOKEN, Buffer.from('first of epoch 1')]))!;
    expect(sender.stats().sendEpoch).toBe(1);
    expect(receiver.open(Buffer.from(first.subarray(8)), true)).toBe(OpenResult.OPENED);
    expect(receiver.stats().receiveEpoch).toBe(1);
    expect(asked.at(-1)).toBe(2);
    // The previous epoch's keys are still there for stragglers within the window.
    expect(receiver.open(Buffer.from(last.subarray(8)), true)).toBe(OpenResult.OPENED);
  });

  it('stops opening at the integrity limit (RFC 9001 6.6), genuine datagrams included', () => {
    const { client, server } = sealings(algorithm);
    const sender = new DatagramSeal(TOKEN, client);
    const receiver = new DatagramSeal(TOKEN, server, { integrityLimit: 2 });
    for (let i = 0; i < 2; i++) {
      const forged = Buffer.from(sender.seal(Buffer.concat([TOKEN, Buffer.from('x')]))!.subarray(8));
      forged[forged.length - 1]! ^= 0xff;
      expect(receiver.open(forged, true)).toBe(i === 0 ? OpenResult.UNOPENED : OpenResult.LIMIT_REACHED);
    }
    expect(receiver.limitReached).toBe(true);
    expect(receiver.open(Buffer.from(sender.seal(Buffer.concat([TOKEN, Buffer.from('y')]))!.subarray(8)), true)).toBe(OpenResult.LIMIT_REACHED);
  });
});

describe('keys that cannot be had', () => {
  it('a keys() that throws stops sealing with HW_ERR_AEAD_LIMIT_REACHED', () => {
    const seal = new DatagramSeal(TOKEN, {
      algorithm: 'aes-256-gcm',
      keys: () => {
        throw new Error('the TLS socket is gone');
      },
    });
    expect(seal.seal(Buffer.concat([TOKEN, Buffer.from('x')]))).toBeUndefined();
    expect(seal.failure).toMatchObject({ code: 'HW_ERR_AEAD_LIMIT_REACHED' });
    expect(seal.failure!.message).toContain('the TLS socket is gone');
  });

  it('keys of the wrong size are refused', () => {
    const short = Buffer.alloc(16);
    const seal = new DatagramSeal(TOKEN, { algorithm: 'chacha20-poly1305', keys: () => ({ sendKey: short, sendIv: Buffer.alloc(12), receiveKey: Buffer.alloc(32), receiveIv: Buffer.alloc(12) }) });
    expect(seal.failure).toMatchObject({ code: 'HW_ERR_INVALID_ARGUMENT' });
    expect(seal.failure!.message).toContain('sendKey must be 32 bytes');
  });

  it('an unknown algorithm is HW_ERR_INVALID_ARGUMENT', () => {
    expect(() => new DatagramSeal(TOKEN, { algorithm: 'aes-128-cbc' as SealAlgorithm, keys: () => sealings('aes-256-gcm').client.keys(0) })).toThrow(
      expect.objectContaining({ code: 'HW_ERR_INVALID_ARGUMENT' }),
    );
  });
});
