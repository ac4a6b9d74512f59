/**
 * Every test vector of docs/PROTOCOL.md, read from the document itself (so that the text and this
 * test cannot drift apart), decoded with hybridwire's decoders and encoded again with its encoders.
 * A vector is a ```hex block after a label such as **V1.**; see the document's introduction for
 * the notation. Each label has one check below, and each check one vector in the document.
 */
import { createCipheriv, type CipherGCMTypes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { FrameDecoder, FrameEncoder, FrameFlag, FrameType, ReliableEndpoint, lz4Compress, lz4Decompress, type FrameSpec } from '../../ts/index.js';
import { DatagramDecoder } from '../../ts/codec/datagram-decoder.js';
import { Reliability } from '../../ts/reliable/reliable-endpoint.js';
import { DatagramSeal, OpenResult, type SealAlgorithm } from '../../ts/transport/datagram-seal.js';
import { splitExport } from '../../ts/session/udp-keys.js';
import { TLS_RECORD_BYTES, joinIntoRecords } from '../../ts/session/tls-records.js';
import { sessionCompression } from '../../ts/compression/session-compression.js';
import { codecOf } from '../../ts/compression/algorithms.js';
import {
  STREAM_ACCEPT,
  STREAM_DATA,
  STREAM_END,
  STREAM_OPEN,
  STREAM_RESET,
  STREAM_WINDOW,
  acceptBody,
  dataStreamId,
  decodeAccept,
  decodeEnd,
  decodeOpen,
  decodeReset,
  decodeWindow,
  encodeData,
  endBody,
  openBody,
  resetBody,
  windowBody,
} from '../../ts/streams/stream-wire.js';
import { decodeAck, decodeRecord, encodeAck, encodeRecord } from '../../ts/pubsub/wire.js';
import { Encoding, MessageKind, decodeBody, decodeTypeDef, encodeTypeDef, newMessageHeader, readMessageHeader, writeMessagePrefix } from '../../ts/session/message.js';

/** Frame types section 4.1 adds; the codec names them in ts/codec/frame.ts once the server handles them. */
const PATH_CHALLENGE = 0x0b;
const PATH_RESPONSE = 0x0c;
const TOKEN = Buffer.from('tokenAAA');

/** Parses the hex notation of docs/PROTOCOL.md: one Buffer per datagram or frame (blank-line separated). */
function parseHexBlock(block: string): Buffer[] {
  const units: Buffer[] = [];
  let bytes: number[] = [];
  for (const line of block.split('\n')) {
    if (line.trim() === '') {
      if (bytes.length > 0) units.push(Buffer.from(bytes));
      bytes = [];
      continue;
    }
    // Bytes are separated by single spaces; two or more start the comment.
    const hexPart = line.split(/ {2,}/)[0]!.trim();
    for (const token of hexPart.split(' ')) {
      if (token === '|') continue;
      const match = /^([0-9a-f]{2})(?:\*(\d+))?$/.exec(token);
      if (!match) throw new Error(`not a byte in a hex block: '${token}' in line '${line}'`);
      const value = Number.parseInt(match[1]!, 16);
      const count = match[2] === undefined ? 1 : Number(match[2]);
      for (let i = 0; i < count; i++) bytes.push(value);
    }
  }
  if (bytes.length > 0) units.push(Buffer.from(bytes));
  return units;
}

/** Every labelled hex block of the document, by label. */
function readVectors(markdown: string): Map<string, Buffer[]> {
  const vectors = new Map<string, Buffer[]>();
  const blocks = /```hex\n([\s\S]*?)```/g;
  let previousEnd = 0;
  for (let match = blocks.exec(markdown); match !== null; match = blocks.exec(markdown)) {
    const labels = [...markdown.slice(previousEnd, match.index).matchAll(/\*\*([A-Z]\d+)\.\*\*/g)];
    const label = labels.at(-1)?.[1];
    if (label === undefined) throw new Error(`a hex block at offset ${match.index} has no **label.** before it`);
    if (vectors.has(label)) throw new Error(`two hex blocks are labelled ${label}`);
    vectors.set(label, parseHexBlock(match[1]!));
    previousEnd = match.index + match[0].length;
  }
  return vectors;
}

const document = readFileSync(new URL('../../docs/PROTOCOL.md', import.meta.url), 'utf8');
const vectors = readVectors(document);

function units(label: string, count: number): Buffer[] {
  const found = vectors.get(label);
  if (found === undefined) throw new Error(`docs/PROTOCOL.md has no vector ${label}`);
  expect(found, `${label}: datagrams or frames`).toHaveLength(count);
  return found;
}

interface DecodedFrame {
  type: number;
  flags: number;
  channel: number;
  sequence: number;
  payload: Buffer;
}

function decodeStream(bytes: Buffer): DecodedFrame[] {
  const decoder = new FrameDecoder();
  const count = decoder.push(bytes);
  decoder.end();
  return Array.from({ length: count }, (_, i) => ({
    type: decoder.type(i),
    flags: decoder.flags(i),
    channel: decoder.channel(i),
    sequence: decoder.sequence(i),
    payload: Buffer.from(decoder.payload(i)),
  }));
}

/** The frames of a datagram, which must start with the vectors' token. */
function decodeDatagram(datagram: Buffer): DecodedFrame[] {
  expect(datagram.subarray(0, 8)).toEqual(TOKEN);
  const decoder = new DatagramDecoder();
  const count = decoder.decode(datagram.subarray(8));
  expect(decoder.error).toBeUndefined();
  return Array.from({ length: count }, (_, i) => ({
    type: decoder.type(i),
    flags: decoder.flags(i),
    channel: decoder.channel(i),
    sequence: decoder.sequence(i),
    payload: Buffer.from(decoder.payload(i)),
  }));
}

function encode(frames: FrameSpec[]): Buffer {
  return new FrameEncoder().encodeToBuffer(frames);
}

/** A frame both ways: the bytes decode to `spec`, and `spec` encodes to the bytes. */
function expectFrames(bytes: Buffer, specs: FrameSpec[], datagram: boolean): void {
  const decoded = datagram ? decodeDatagram(bytes) : decodeStream(bytes);
  expect(decoded).toEqual(
    specs.map((spec) => ({ type: spec.type, flags: spec.flags ?? 0, channel: spec.channel ?? 0, sequence: spec.sequence ?? 0, payload: Buffer.from(spec.payload ?? []) })),
  );
  expect(datagram ? Buffer.concat([TOKEN, encode(specs)]) : encode(specs)).toEqual(bytes);
}

/** A message prefix and body as hybridwire writes them. */
function message(alias: number, encoding: number, kind: number, body: Buffer | string): Buffer {
  const prefix = Buffer.alloc(8 + 256);
  const length = writeMessagePrefix(prefix, alias, encoding, kind, 0, undefined);
  return Buffer.concat([prefix.subarray(0, length), Buffer.from(body)]);
}

/** Parses one message with hybridwire's reader: its prefix fields and decoded body. */
function readMessage(bytes: Buffer): { alias: number; encoding: number; kind: number; body: unknown } {
  const header = readMessageHeader(bytes, 0, bytes.length, newMessageHeader());
  const body = decodeBody(bytes, bytes.length, header);
  return { alias: header.alias, encoding: header.encoding, kind: header.kind, body: body instanceof Uint8Array ? Buffer.from(body) : body };
}

/** A reliable endpoint on a clock the test sets, collecting what it sends and delivers. */
class TestEndpoint {
  readonly sent: Buffer[] = [];
  readonly delivered: Array<{ text: string; channel: number; reliability: number; flags: number }> = [];
  clockMs = 0;
  readonly endpoint: ReliableEndpoint;

  constructor(options: { mtu?: number; maxMtu?: number } = {}) {
    this.endpoint = new ReliableEndpoint({ token: TOKEN, onDatagram: (d) => this.sent.push(Buffer.from(d)), now: () => this.clockMs, ...options });
    this.endpoint.on('message', (payload, channel, reliability, flags) => this.delivered.push({ text: payload.toString(), channel, reliability, flags }));
  }

  /** Feeds a datagram of the document (token included, as it travels). */
  receive(datagram: Buffer): void {
    expect(datagram.subarray(0, 8)).toEqual(TOKEN);
    this.endpoint.receive(datagram.subarray(8));
  }
}

/** A reliable frame of one byte on `channel`, without a token, as a peer's endpoint would feed it. */
function reliableFrame(sequence: number, channel: number): Buffer {
  return encode([{ type: FrameType.MESSAGE, flags: FrameFlag.RELIABLE, channel, sequence, payload: Buffer.from([0x61 + sequence]) }]);
}

/**
 * The keys of the document's export blocks (K1 for epoch 0, K2 for epoch 1), as `role` uses them;
 * zeros for later epochs, which a sealer asks for ahead but no vector uses.
 */
function exportedKeys(role: 'client' | 'server'): (epoch: number) => ReturnType<typeof splitExport> {
  return (epoch) => splitExport(epoch > 1 ? Buffer.alloc(88) : Buffer.from(units(epoch === 0 ? 'K1' : 'K2', 1)[0]!), role);
}

/**
 * A sealed vector (section 4.4): `record` of `sender`'s direction seals the first datagram into the
 * second, with hybridwire's sealer and with node:crypto's AEAD (nonce = IV xor record number, the
 * first 16 bytes as associated data); the other end opens it back, once.
 */
/**
 * A COMPRESSED frame of section 12 carrying the message of M3: it decompresses to that message, and
 * hybridwire's own compression of the message (the same bytes, or others that decode alike) round-trips.
 */
function expectCompressed(label: string, algorithm: string): void {
  const [bytes] = units(label, 1);
  const plain = message(1, Encoding.JSON, MessageKind.MESSAGE, JSON.stringify({ text: 'a'.repeat(32) }));
  const [frame] = decodeStream(bytes!);
  expect(frame).toMatchObject({ type: FrameType.MESSAGE, flags: FrameFlag.COMPRESSED, sequence: 2 });
  const compression = sessionCompression(undefined, new Set(), algorithm)!;
  expect(compression.decompress(frame!.payload, 0, frame!.payload.length, 1 << 20)).toEqual(plain);
  const ours = compression.compress(plain, 4, plain.subarray(4))!;
  expect(ours.readUInt32LE(0)).toBe(47);
  expect(compression.decompress(ours, 0, ours.length, 1 << 20)).toEqual(plain);
  expect(encode([{ type: FrameType.MESSAGE, flags: FrameFlag.COMPRESSED, sequence: 2, payload: ours }])).toEqual(bytes);
}

function expectSealed(label: string, algorithm: SealAlgorithm, sender: 'client' | 'server', record: number): void {
  const [plain, sealed] = units(label, 2);
  const receiver = sender === 'client' ? 'server' : 'client';
  const seal = new DatagramSeal(TOKEN, { algorithm, keys: exportedKeys(sender) }, { firstRecord: record });
  expect(seal.seal(plain!)).toEqual(sealed);

  const keys = exportedKeys(sender)(Math.floor(record / 2 ** 22));
  const nonce = Buffer.from(keys.sendIv);
  const number = Buffer.alloc(12);
  number.writeBigUInt64BE(BigInt(record), 4);
  for (let i = 0; i < 12; i++) nonce[i]! ^= number[i]!;
  const cipher = createCipheriv(algorithm as CipherGCMTypes, keys.sendKey, nonce, { authTagLength: 16 });
  cipher.setAAD(sealed!.subarray(0, 16));
  expect(Buffer.concat([sealed!.subarray(0, 16), cipher.update(plain!.subarray(8)), cipher.final(), cipher.getAuthTag()])).toEqual(sealed);

  const opener = new DatagramSeal(TOKEN, { algorithm, keys: exportedKeys(receiver) });
  const copy = Buffer.from(sealed!.subarray(8));
  expect(opener.open(copy, true)).toBe(OpenResult.OPENED);
  expect(Buffer.concat([TOKEN, copy.subarray(8, 8 + opener.framesLength)])).toEqual(plain);
  expect(opener.open(Buffer.from(sealed!.subarray(8)), true)).toBe(OpenResult.REPLAYED);
}

/** An export block: 88 bytes, split as section 4.4 lays them out. */
function expectExport(label: string, first: number): void {
  const [block] = units(label, 1);
  expect(block).toEqual(Buffer.from(Array.from({ length: 88 }, (_, i) => first + i)));
  const client = splitExport(block!, 'client');
  const server = splitExport(block!, 'server');
  expect(client.sendKey).toEqual(block!.subarray(0, 32));
  expect(client.receiveKey).toEqual(block!.subarray(32, 64));
  expect(client.sendIv).toEqual(block!.subarray(64, 76));
  expect(client.receiveIv).toEqual(block!.subarray(76, 88));
  expect([server.sendKey, server.sendIv, server.receiveKey, server.receiveIv]).toEqual([client.receiveKey, client.receiveIv, client.sendKey, client.sendIv]);
}

const checks: Record<string, () => void> = {
  F1: () => expectFrames(units('F1', 1)[0]!, [{ type: FrameType.PING, sequence: 7 }], false),

  F2: () => expectFrames(units('F2', 1)[0]!, [{ type: FrameType.MESSAGE, flags: FrameFlag.RELIABLE, channel: 2, sequence: 1, payload: Buffer.from('hi') }], false),

  F3: () => expectFrames(units('F3', 1)[0]!, [{ type: FrameType.MESSAGE, payload: Buffer.from('hello') }], false),

  F4: () => {
    const padding = units('F4', 1)[0]!;
    expectFrames(padding, [{ type: FrameType.PADDING, payload: Buffer.alloc(8) }], false);
    // As the TLS write path makes it: the 24 bytes left in a record before a frame that would cross.
    const first = encode([{ type: FrameType.MESSAGE, payload: Buffer.alloc(TLS_RECORD_BYTES - 24 - 16) }]);
    const second = encode([{ type: FrameType.MESSAGE, payload: Buffer.alloc(100) }]);
    const written = joinIntoRecords([first, second], 2, first.length + second.length);
    expect(written.subarray(first.length, first.length + padding.length)).toEqual(padding);
  },

  P1: () => {
    const [ping, challenge, response, pong] = units('P1', 4);
    const secret = Buffer.from('5c0e93d17a28f4b6', 'hex');
    expectFrames(ping!, [{ type: FrameType.PING, sequence: 1, payload: Buffer.alloc(8) }], true);
    expectFrames(challenge!, [{ type: PATH_CHALLENGE, payload: secret }], true);
    expectFrames(response!, [{ type: PATH_RESPONSE, payload: secret }], false);
    expectFrames(pong!, [{ type: FrameType.PONG }], true);
    // The token's HELLO_ACK form, as section 4 decodes it.
    expect(Buffer.from('746f6b656e414141', 'hex')).toEqual(TOKEN);
  },

  M1: () => {
    const [bytes] = units('M1', 1);
    const [frame] = decodeStream(bytes!);
    expect(frame).toMatchObject({ type: FrameType.MESSAGE, flags: FrameFlag.BATCH, sequence: 4 });
    const entries: unknown[] = [];
    for (let at = 0; at < frame!.payload.length; ) {
      const length = frame!.payload.readUInt32LE(at);
      entries.push(readMessage(frame!.payload.subarray(at + 4, at + 4 + length)));
      at += 4 + length;
    }
    expect(entries).toEqual([
      { alias: 1, encoding: Encoding.BINARY, kind: MessageKind.MESSAGE, body: Buffer.from([0xaa]) },
      { alias: 1, encoding: Encoding.BINARY, kind: MessageKind.MESSAGE, body: Buffer.from([0xbb, 0xbb]) },
    ]);
    const encoder = new FrameEncoder();
    encoder.beginBatch(FrameType.MESSAGE, FrameFlag.BATCH, 0, 4, 100);
    expect(encoder.batchWord(1, Buffer.from([0xaa]))).toBe(true);
    expect(encoder.batchWord(1, Buffer.from([0xbb, 0xbb]))).toBe(true);
    encoder.endBatch();
    expect(Buffer.concat(encoder.flush())).toEqual(bytes);
  },

  M2: () => {
    const [typeDef, chat] = units('M2', 2);
    expectFrames(typeDef!, [{ type: FrameType.TYPE_DEF, sequence: 0, payload: encodeTypeDef(1, 'chat') }], false);
    expect(decodeTypeDef(decodeStream(typeDef!)[0]!.payload)).toEqual({ alias: 1, name: 'chat' });
    expectFrames(chat!, [{ type: FrameType.MESSAGE, sequence: 1, payload: message(1, Encoding.JSON, MessageKind.MESSAGE, JSON.stringify({ t: 1 })) }], false);
    expect(readMessage(decodeStream(chat!)[0]!.payload)).toEqual({ alias: 1, encoding: Encoding.JSON, kind: MessageKind.MESSAGE, body: { t: 1 } });
  },

  M3: () => {
    const [bytes] = units('M3', 1);
    const plain = message(1, Encoding.JSON, MessageKind.MESSAGE, JSON.stringify({ text: 'a'.repeat(32) }));
    expect(plain).toHaveLength(47);
    const [frame] = decodeStream(bytes!);
    expect(frame).toMatchObject({ type: FrameType.MESSAGE, flags: FrameFlag.COMPRESSED, sequence: 2 });
    const size = frame!.payload.readUInt32LE(0);
    const decompressed = lz4Decompress(frame!.payload.subarray(4), size);
    expect(decompressed).toEqual(plain);
    expect(readMessage(decompressed).body).toEqual({ text: 'a'.repeat(32) });
    const sizeField = Buffer.alloc(4);
    sizeField.writeUInt32LE(plain.length, 0);
    expect(encode([{ type: FrameType.MESSAGE, flags: FrameFlag.COMPRESSED, sequence: 2, payload: Buffer.concat([sizeField, lz4Compress(plain)]) }])).toEqual(bytes);
  },

  V7: () => {
    const [datagram] = units('V7', 1);
    const plain = message(1, Encoding.JSON, MessageKind.MESSAGE, JSON.stringify({ text: 'a'.repeat(32) }));
    const size = Buffer.alloc(4);
    size.writeUInt32LE(plain.length, 0);
    const sender = new TestEndpoint();
    sender.endpoint.send(Buffer.concat([size, lz4Compress(plain)]), { reliable: true, channel: 0, flags: FrameFlag.COMPRESSED });
    sender.endpoint.flush();
    expect(sender.sent).toEqual([datagram]);
    // The receiving endpoint passes the flag up with the message, which decompresses to M3's.
    const received: Array<{ payload: Buffer; flags: number }> = [];
    const receiver = new ReliableEndpoint({ token: TOKEN, onDatagram: () => {}, now: () => 0 });
    receiver.on('message', (payload, _channel, _reliability, flags) => received.push({ payload: Buffer.from(payload), flags }));
    receiver.receive(datagram!.subarray(8));
    expect(received.map(({ flags }) => flags)).toEqual([FrameFlag.COMPRESSED]);
    expect(sessionCompression(undefined, new Set(), 'lz4')!.decompress(received[0]!.payload, 0, received[0]!.payload.length, 1 << 20)).toEqual(plain);
    sender.endpoint.close();
    receiver.close();
  },

  Z1: () => expectCompressed('Z1', 'zstd'),
  Z2: () => expectCompressed('Z2', 'gzip'),
  Z3: () => expectCompressed('Z3', 'deflate'),
  Z4: () => expectCompressed('Z4', 'brotli'),
  Z5: () => {
    const [frame] = decodeStream(units('Z5', 1)[0]!);
    expect(frame).toMatchObject({ type: FrameType.MESSAGE, flags: FrameFlag.COMPRESSED, sequence: 2 });
    const compression = sessionCompression(undefined, new Set(), 'deflate')!;
    expect(() => compression.decompress(frame!.payload, 0, frame!.payload.length, 1 << 20)).toThrow(expect.objectContaining({ code: 'HW_ERR_DECOMPRESSED_TOO_LARGE' }));
    // The data holds the 200-byte message the vector names.
    expect(readMessage(codecOf('deflate')!.decompress(frame!.payload.subarray(4), 200)).body).toBe('a'.repeat(194));
  },

  V1: () => {
    const [datagram] = units('V1', 1);
    const sender = new TestEndpoint();
    sender.endpoint.send(Buffer.from('hi'), { reliable: true, channel: 2 });
    sender.endpoint.flush();
    expect(sender.sent).toEqual([datagram]);
    const receiver = new TestEndpoint();
    receiver.receive(datagram!);
    expect(receiver.delivered).toEqual([{ text: 'hi', channel: 2, reliability: Reliability.RELIABLE_ORDERED, flags: 0 }]);
    sender.endpoint.close();
    receiver.endpoint.close();
  },

  V2: () => {
    const [datagram] = units('V2', 1);
    const sender = new TestEndpoint();
    sender.endpoint.send(Buffer.from('ping'));
    sender.endpoint.send(Buffer.from('pong'), { reliable: true, ordered: false, channel: 7 });
    sender.endpoint.flush();
    expect(sender.sent).toEqual([datagram]);
    const receiver = new TestEndpoint();
    receiver.receive(datagram!);
    expect(receiver.delivered).toEqual([
      { text: 'ping', channel: 0, reliability: Reliability.UNRELIABLE, flags: 0 },
      { text: 'pong', channel: 7, reliability: Reliability.RELIABLE_UNORDERED, flags: 0 },
    ]);
    // No payload flag is left set: the endpoint sets only its own (RELIABLE, UNORDERED, FRAGMENT).
    expect(decodeDatagram(datagram!).map((frame) => frame.flags)).toEqual([0, FrameFlag.UNORDERED | FrameFlag.RELIABLE]);
    sender.endpoint.close();
    receiver.endpoint.close();
  },

  // V3 and V4 are two ACKs of one exchange: the receiver writes them, and a sender that sent
  // sequences 0..9 on channel 1 accepts them and releases what they pass.
  V3: () => {
    const [v3] = units('V3', 1);
    const [v4] = units('V4', 1);
    const receiver = new TestEndpoint();
    for (const sequence of [0, 1, 2, 5, 6, 9]) {
      receiver.clockMs = sequence === 9 ? 10 : 5;
      receiver.endpoint.receive(reliableFrame(sequence, 1));
    }
    receiver.clockMs = 10.25;
    receiver.endpoint.flush();
    expect(receiver.sent.pop()).toEqual(v3);
    receiver.clockMs = 11;
    receiver.endpoint.receive(reliableFrame(3, 1));
    receiver.endpoint.flush();
    expect(receiver.sent.pop()).toEqual(v4);
    expect(receiver.delivered.map((d) => d.text)).toEqual(['a', 'b', 'c', 'd']);
    receiver.endpoint.close();

    const sender = new TestEndpoint();
    for (let i = 0; i < 10; i++) sender.endpoint.send(Buffer.from([0x61 + i]), { reliable: true, channel: 1 });
    sender.endpoint.flush();
    expect(sender.endpoint.stats().messagesInFlight).toBe(10);
    sender.receive(v3!);
    // Ordered messages are released once the cumulative point passes them: 0, 1 and 2.
    expect(sender.endpoint.stats()).toMatchObject({ messagesInFlight: 7, drops: { malformed: 0 } });
    sender.receive(v4!);
    expect(sender.endpoint.stats()).toMatchObject({ messagesInFlight: 6, drops: { malformed: 0 } });
    sender.endpoint.close();
  },

  V4: () => {
    // Written and read with V3; here, what the document says it holds.
    const [ack] = units('V4', 1);
    const [frame] = decodeDatagram(ack!);
    expect(frame).toMatchObject({ type: FrameType.ACK, flags: FrameFlag.RELIABLE, channel: 1, sequence: 4 });
    expect(frame!.payload.readUInt32LE(0)).toBe(0xffffffff);
    expect(frame!.payload.readUInt16LE(4)).toBe(2);
  },

  V5: () => {
    const [first, second] = units('V5', 2);
    const text = 'At mtu 128 a message of more than 72 bytes goes in fragments of F = 60 bytes each';
    expect(Buffer.byteLength(text)).toBe(81);
    const sender = new TestEndpoint({ mtu: 128 });
    sender.endpoint.send(Buffer.from(text));
    sender.endpoint.flush();
    expect(sender.sent).toEqual([first, second]);
    expect(Math.max(first!.length, second!.length)).toBeLessThanOrEqual(128);
    const receiver = new TestEndpoint();
    receiver.receive(first!);
    expect(receiver.delivered).toEqual([]);
    receiver.receive(second!);
    expect(receiver.delivered).toEqual([{ text, channel: 0, reliability: Reliability.UNRELIABLE, flags: 0 }]);
    sender.endpoint.close();
    receiver.endpoint.close();
  },

  K1: () => expectExport('K1', 0x00),

  K2: () => expectExport('K2', 0x80),

  S1: () => {
    expectSealed('S1', 'aes-256-gcm', 'client', 0);
    expectFrames(units('S1', 2)[0]!, [{ type: FrameType.PING, sequence: 1, payload: Buffer.alloc(8) }], true);
  },

  S2: () => {
    expectSealed('S2', 'aes-256-gcm', 'server', 0);
    expectFrames(units('S2', 2)[0]!, [{ type: PATH_CHALLENGE, payload: Buffer.from('5c0e93d17a28f4b6', 'hex') }], true);
  },

  S3: () => {
    expectSealed('S3', 'aes-256-gcm', 'client', 1);
    expect(units('S3', 2)[0]).toEqual(units('S1', 2)[0]);
  },

  S4: () => {
    expectSealed('S4', 'chacha20-poly1305', 'client', 2 ** 22);
    expect(units('S4', 2)[0]).toEqual(units('V1', 1)[0]);
  },

  V6: () => {
    const [probe, answer] = units('V6', 2);
    // A probe of 1280 bytes: the only size between mtu 1200 and maxMtu 1280.
    const prober = new TestEndpoint({ maxMtu: 1280 });
    prober.endpoint.flush();
    expect(prober.sent).toEqual([probe]);
    const answerer = new TestEndpoint();
    answerer.receive(probe!);
    answerer.endpoint.flush();
    expect(answerer.sent).toEqual([answer]);
    prober.receive(answer!);
    expect(prober.endpoint.stats().pathMtu).toBe(1280);
    prober.endpoint.close();
    answerer.endpoint.close();
  },
  T1: () => expectStreamMessage('T1', STREAM_OPEN, Encoding.JSON, JSON.stringify(openBody(1, 'logs', 262144, 'tcp')), (value) => expect(decodeOpen(value)).toEqual({ id: 1, name: 'logs', window: 262144, transport: 'tcp' })),
  T2: () => expectStreamMessage('T2', STREAM_ACCEPT, Encoding.JSON, JSON.stringify(acceptBody(1, 65536)), (value) => expect(decodeAccept(value)).toEqual({ id: 1, window: 65536 })),
  T3: () => expectStreamMessage('T3', STREAM_DATA, Encoding.BINARY, encodeData(1, Buffer.from('hi'), 0, 2), (value) => expect(dataStreamId(value)).toBe(1)),
  T4: () => expectStreamMessage('T4', STREAM_WINDOW, Encoding.JSON, JSON.stringify(windowBody(1, 131072)), (value) => expect(decodeWindow(value)).toEqual({ id: 1, increment: 131072 })),
  T5: () => expectStreamMessage('T5', STREAM_END, Encoding.JSON, JSON.stringify(endBody(1)), (value) => expect(decodeEnd(value)).toBe(1)),
  T6: () =>
    expectStreamMessage('T6', STREAM_RESET, Encoding.JSON, JSON.stringify(resetBody(1, 'HW_ERR_STREAM_RESET', 'stream destroyed')), (value) =>
      expect(decodeReset(value)).toEqual({ id: 1, code: 'HW_ERR_STREAM_RESET', message: 'stream destroyed' }),
    ),
};

/** A stream message of section 11: a TCP MESSAGE frame, sequence 0, its type named inline. */
function expectStreamMessage(label: string, type: string, encoding: number, body: Buffer | string, check: (value: ReturnType<typeof decodeBody>) => void): void {
  const [frame] = units(label, 1);
  const prefix = Buffer.alloc(8 + 256);
  const length = writeMessagePrefix(prefix, 0xffff, encoding, MessageKind.MESSAGE, 0, type);
  const payload = Buffer.concat([prefix.subarray(0, length), Buffer.from(body)]);
  expectFrames(frame!, [{ type: FrameType.MESSAGE, payload }], false);
  const header = readMessageHeader(payload, 0, payload.length, newMessageHeader());
  expect(header.inlineName).toBe(type);
  check(decodeBody(payload, payload.length, header));
}

/** Pub/sub records (section 10.1): decoded, then encoded again to the same bytes. */
function expectRecord(label: string, fields: { qos: 0 | 1 | 2; retain: boolean; dup: boolean; id: number; topic: string; encoding: number; body: Buffer; expiryMs: number | undefined }): void {
  const [bytes] = units(label, 1);
  const record = decodeRecord(bytes!);
  expect({ ...record, body: Buffer.from(record.body) }).toEqual(fields);
  expect(encodeRecord(fields.qos, fields.retain, fields.dup, fields.id, fields.topic, fields.encoding, fields.body, fields.expiryMs)).toEqual(bytes);
}

Object.assign(checks, {
  Q1: () => expectRecord('Q1', { qos: 1, retain: false, dup: false, id: 7, topic: 'a/b', encoding: Encoding.JSON, body: Buffer.from('{"t":21}'), expiryMs: undefined }),
  Q2: () => expectRecord('Q2', { qos: 0, retain: true, dup: false, id: 0, topic: 'door', encoding: Encoding.BINARY, body: Buffer.from('hi'), expiryMs: undefined }),
  Q3: () => expectRecord('Q3', { qos: 2, retain: false, dup: true, id: 0x01020304, topic: 'x', encoding: Encoding.EMPTY, body: Buffer.alloc(0), expiryMs: 60_000 }),
  Q4: () => {
    const [ack, refusal] = units('Q4', 2);
    expect(decodeAck(ack)).toEqual({ id: 7, code: undefined });
    expect(encodeAck(7)).toEqual(ack);
    expect(decodeAck(refusal)).toEqual({ id: 7, code: 'HW_ERR_NOT_AUTHORIZED' });
    expect(encodeAck(7, 'HW_ERR_NOT_AUTHORIZED')).toEqual(refusal);
  },
});

describe('docs/PROTOCOL.md test vectors', () => {
  it('has one check for every labelled hex block, and a block for every check', () => {
    expect([...vectors.keys()].sort()).toEqual(Object.keys(checks).sort());
    // Every hex block was claimed by a label (readVectors throws on an unlabelled one).
    expect(vectors.size).toBe(document.match(/```hex\n/g)!.length);
  });

  it('reads the hex notation: fields, repeats, comments and units', () => {
    expect(parseHexBlock('01 02 | 03  comment 04\n00*3\n\nff')).toEqual([Buffer.from([1, 2, 3, 0, 0, 0]), Buffer.from([0xff])]);
    expect(() => parseHexBlock('01 0g')).toThrow(/not a byte/);
  });

  it.each(Object.keys(checks))('vector %s decodes and encodes with hybridwire', (label) => {
    checks[label]!();
  });
});
