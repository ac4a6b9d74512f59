/**
 * ts/streams (client.openStream, peer.openStream, the 'stream' events) over real sockets on
 * 127.0.0.1: files carried intact over TCP and reliable UDP, names on both sides, flow control
 * per stream (a reader that does not read stalls nothing else), half-close each way, resets with
 * codes, the stream limit, and the statistics.
 */
import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Client, HybridwireStream, Peer, Server } from '../../ts/index.js';
import { closeAfterEach, startClient, startServer } from '../support/sessions.js';
import { RawPeer, nextEvent } from '../support/raw-peer.js';
import { FrameEncoder, FrameType } from '../../ts/index.js';
import { waitUntil, within } from '../support/wait.js';

closeAfterEach();

const MiB = 1024 * 1024;
let directory: string;
let bigFile: string;
let bigHash: string;

beforeAll(async () => {
  directory = await fs.promises.mkdtemp(path.join(os.tmpdir(), 'hybridwire-streams-'));
  bigFile = path.join(directory, 'hundred-mib.bin');
  // 100 MiB of random bytes, written in 1 MiB pieces and hashed as they are written.
  const hash = createHash('sha256');
  const out = fs.createWriteStream(bigFile);
  for (let i = 0; i < 100; i++) {
    const piece = randomBytes(MiB);
    hash.update(piece);
    if (!out.write(piece)) await once(out, 'drain');
  }
  out.end();
  await once(out, 'finish');
  bigHash = hash.digest('hex');
}, 60_000);

afterAll(async () => {
  await fs.promises.rm(directory, { recursive: true, force: true });
});

async function pair(options: Record<string, number> = {}): Promise<{ server: Server; client: Client }> {
  const { server, tcpPort } = await startServer(options);
  const client = await startClient({ tcpPort, ...options });
  return { server, client };
}

async function udpPair(options: Record<string, number> = {}): Promise<{ server: Server; client: Client }> {
  const result = await pair(options);
  await waitUntil(() => result.client.udpReady, 5000, "the client's UDP path");
  return result;
}

/** Resolves with the SHA-256 and length of everything read from `stream`. */
async function digest(stream: NodeJS.ReadableStream): Promise<{ hash: string; bytes: number }> {
  const hash = createHash('sha256');
  let bytes = 0;
  for await (const chunk of stream as AsyncIterable<Buffer>) {
    hash.update(chunk);
    bytes += chunk.length;
  }
  return { hash: hash.digest('hex'), bytes };
}

/** Reads all of `stream` into one buffer, up to its end, leaving its writable side as it is. */
function readAll(stream: HybridwireStream): Promise<Buffer> {
  const chunks: Buffer[] = [];
  return new Promise((resolve, reject) => {
    stream.on('data', (chunk: Buffer) => chunks.push(chunk));
    stream.once('end', () => resolve(Buffer.concat(chunks)));
    stream.once('error', reject);
    stream.resume();
  });
}

/** The next stream `emitter` announces. */
function nextStream(emitter: NodeJS.EventEmitter, timeoutMs = 5000): Promise<[HybridwireStream, Peer | Client]> {
  return nextEvent<[HybridwireStream, Peer | Client]>(emitter, 'stream', timeoutMs);
}

describe('a file through stream.pipeline', () => {
  for (const transport of ['tcp', 'udp'] as const) {
    it(`carries 100 MiB intact over ${transport === 'tcp' ? 'TCP' : 'reliable UDP'} (SHA-256)`, async () => {
      const { server, client } = transport === 'tcp' ? await pair() : await udpPair();
      const received = nextStream(server).then(([stream]) => digest(stream));
      const stream = client.openStream('upload', { transport });
      await within(pipeline(fs.createReadStream(bigFile), stream), 120_000, 'the file to be written');
      const { hash, bytes } = await within(received, 120_000, 'the file to arrive');
      expect(bytes).toBe(100 * MiB);
      expect(hash).toBe(bigHash);
      expect(stream.bytesOut).toBe(100 * MiB);
      expect(client.stats!.streams!.bytesOut).toBe(100 * MiB);
      expect(server.stats().streams.bytesIn).toBe(100 * MiB);
      // The bytes went the way asked, not the other.
      const sent = client.stats!;
      const [used, other] = transport === 'tcp' ? [sent.tcp, sent.udp] : [sent.udp, sent.tcp];
      expect(used.bytesOut).toBeGreaterThan(100 * MiB);
      expect(other.bytesOut).toBeLessThan(MiB);
    }, 180_000);
  }
});

describe('opening', () => {
  it('gives the name on both sides, client-opened and peer-opened, on the emitters the README names', async () => {
    const { server, client } = await pair();
    const arrived = nextStream(server);
    const fromClient = client.openStream('logs/today');
    const [atServer, peer] = await arrived;
    expect(atServer.name).toBe('logs/today');
    expect(fromClient.name).toBe('logs/today');
    expect(peer).toBe([...server.peers.values()][0]);
    // The server opens one of its own through the peer; the client's 'stream' event gets it.
    const toClient = nextStream(client);
    const fromServer = peer.openStream('push');
    const [atClient, owner] = await toClient;
    expect(owner).toBe(client);
    expect(atClient.name).toBe('push');
    expect(fromServer.id % 2).toBe(0);
    expect(fromClient.id % 2).toBe(1);
    // Both carry data both ways.
    fromServer.end('from the server');
    atClient.end('from the client');
    expect((await readAll(atClient)).toString()).toBe('from the server');
    expect((await readAll(fromServer)).toString()).toBe('from the client');
    // A stream without a name has '' on both sides.
    const unnamed = nextStream(server);
    expect(client.openStream({ transport: 'tcp' }).name).toBe('');
    expect((await unnamed)[0].name).toBe('');
  });

  it('opens from the server over reliable UDP too', async () => {
    const { server, client } = await udpPair();
    const peer = [...server.peers.values()][0]!;
    await waitUntil(() => peer.udpAddress !== undefined, 5000, "the peer's UDP address");
    const toClient = nextStream(client);
    const fromServer = peer.openStream('udp push', { transport: 'udp' });
    const [atClient] = await toClient;
    expect(atClient.transport).toBe('udp');
    expect(atClient.name).toBe('udp push');
    const data = randomBytes(MiB);
    const arrived = readAll(atClient);
    fromServer.end(data);
    expect((await within(arrived, 10_000, 'the data')).equals(data)).toBe(true);
  });

  it('returns the stream at once: what is written before the accept arrives waits for it', async () => {
    const { server, client } = await pair();
    const stream = client.openStream('early');
    expect(stream.state).toBe('opening');
    expect(stream.sendCredit).toBe(0);
    stream.end('written before the accept');
    const [atServer] = await nextStream(server);
    expect((await readAll(atServer)).toString()).toBe('written before the accept');
    expect(stream.state === 'half-closed-local' || stream.state === 'closed').toBe(true);
  });

  it('refuses a stream nobody listens for, with HW_ERR_NO_HANDLER', async () => {
    const { client } = await pair();
    const stream = client.openStream('nobody');
    const [error] = await nextEvent<[Error & { code: string; resetCode: string }]>(stream, 'error');
    expect(error.code).toBe('HW_ERR_STREAM_RESET');
    expect(error.resetCode).toBe('HW_ERR_NO_HANDLER');
  });

  it('refuses streams past maxStreams with HW_ERR_STREAM_LIMIT, and takes new ones once some have closed', async () => {
    const { server, tcpPort } = await startServer({ maxStreams: 2 });
    const client = await startClient({ tcpPort });
    const accepted: HybridwireStream[] = [];
    server.on('stream', (stream) => accepted.push(stream));
    const first = client.openStream('1');
    const second = client.openStream('2');
    const third = client.openStream('3');
    const [error] = await nextEvent<[Error & { code: string }]>(third, 'error');
    expect(error.code).toBe('HW_ERR_STREAM_LIMIT');
    await waitUntil(() => accepted.length === 2, 5000, 'two streams at the server');
    expect(accepted.map((stream) => stream.name)).toEqual(['1', '2']);
    expect(server.stats().streams.refused).toBe(1);
    // Ending both ways frees a place.
    first.end();
    accepted[0]!.end();
    accepted[0]!.resume();
    first.resume();
    await waitUntil(() => server.stats().streams.open === 1, 5000, 'the first stream to close at the server');
    const fourth = client.openStream('4');
    await waitUntil(() => accepted.length === 3, 5000, 'the fourth stream at the server');
    expect(fourth.destroyed).toBe(false);
    expect(second.destroyed).toBe(false);
    // The client's own limit refuses at once, before anything is sent.
    const small = await startClient({ tcpPort, maxStreams: 1 });
    small.openStream('a');
    const [own] = await nextEvent<[Error & { code: string }]>(small.openStream('b'), 'error');
    expect(own.code).toBe('HW_ERR_STREAM_LIMIT');
  });

  it('validates its options', async () => {
    const { tcpPort } = await startServer();
    await expect(startServer({ maxStreams: 0 })).rejects.toMatchObject({ code: 'HW_ERR_INVALID_OPTION', message: expect.stringContaining('maxStreams') });
    await expect(startClient({ tcpPort, streamWindowBytes: 10 })).rejects.toMatchObject({ code: 'HW_ERR_INVALID_OPTION', message: expect.stringContaining('streamWindowBytes') });
    await expect(startClient({ tcpPort, maxStreamChunkBytes: 2 ** 30 })).rejects.toMatchObject({ code: 'HW_ERR_INVALID_OPTION', message: expect.stringContaining('maxStreamChunkBytes') });
    const client = await startClient({ tcpPort });
    expect(() => client.openStream('x', { transport: 'sctp' as 'tcp' })).toThrow(expect.objectContaining({ code: 'HW_ERR_INVALID_ARGUMENT' }));
  });
});

describe('flow control', () => {
  for (const transport of ['tcp', 'udp'] as const) it(`a reader that does not read stalls its own sender at the window, not another stream nor a request (${transport})`, async () => {
    const window = 64 * 1024;
    const { server, client } = transport === 'tcp' ? await pair({ streamWindowBytes: window }) : await udpPair({ streamWindowBytes: window });
    server.handle('time', () => 'now');
    const slow = client.openStream('slow', { transport });
    const [slowAtServer] = await nextStream(server);
    slowAtServer.pause();
    // Twice the window is written: the stream sends the window's worth, holds the rest, and
    // says so (write() false) until its reader reads.
    const piece = Buffer.alloc(16 * 1024, 1);
    const writes = (2 * window) / piece.length;
    let refused = 0;
    for (let i = 0; i < writes; i++) if (!slow.write(piece)) refused++;
    expect(refused).toBeGreaterThan(0);
    await waitUntil(() => slow.bytesOut === window, 5000, 'the slow stream to spend its credit');
    expect(slow.sendCredit).toBe(0);
    expect(slow.bytesOut).toBe(window);
    let drained = false;
    slow.once('drain', () => (drained = true));

    // Meanwhile another stream carries 4 MiB and a request is answered.
    const fast = client.openStream('fast', { transport });
    const [fastAtServer] = await nextStream(server);
    const payload = randomBytes(4 * MiB);
    const arrived = readAll(fastAtServer);
    fast.end(payload);
    expect((await within(arrived, 20_000, 'the other stream')).equals(payload)).toBe(true);
    expect(await client.request('time')).toBe('now');
    expect(await client.request('time', undefined, { transport: 'udp', reliable: true })).toBe('now');

    // The slow one still has not moved: its reader holds exactly the window.
    expect(slow.bytesOut).toBe(window);
    expect(slowAtServer.readableLength).toBe(window);
    expect(slowAtServer.stats().receiveCredit).toBe(0);
    expect(drained).toBe(false);

    // Once it reads, the rest comes, and the writer hears 'drain'.
    const all = readAll(slowAtServer);
    await waitUntil(() => drained, 10_000, "'drain' on the slow stream");
    slow.end();
    expect((await within(all, 10_000, 'the slow stream once read')).length).toBe(writes * piece.length);
  });

  it('write() returns false and "drain" follows as the receiver reads', async () => {
    const { server, client } = await pair({ streamWindowBytes: 16 * 1024 });
    const stream = client.openStream('paced');
    const [atServer] = await nextStream(server);
    const sink = new Writable({ highWaterMark: 1, write: (_chunk, _encoding, done) => setImmediate(done) });
    const finished = pipeline(atServer, sink);
    let falses = 0;
    for (let i = 0; i < 64; i++) {
      if (!stream.write(Buffer.alloc(8 * 1024))) {
        falses++;
        await within(once(stream, 'drain'), 10_000, "'drain'");
      }
    }
    stream.end();
    await within(finished, 10_000, 'the reader to finish');
    expect(falses).toBeGreaterThan(0);
    expect(atServer.bytesIn).toBe(64 * 8 * 1024);
  });
});

describe('many streams in one session', () => {
  it('carry their own bytes at once, both ways, beside messages', async () => {
    const { server, client } = await pair({ streamWindowBytes: 64 * 1024 });
    // The server echoes each stream back: what comes in goes out.
    server.on('stream', (stream) => stream.pipe(stream));
    let messages = 0;
    server.handle('tick', () => void messages++);
    const count = 20;
    const payloads = Array.from({ length: count }, () => randomBytes(512 * 1024));
    const results = payloads.map((payload, i) => {
      const stream = client.openStream(`echo ${i}`);
      const back = readAll(stream);
      stream.end(payload);
      return back;
    });
    for (let i = 0; i < 200; i++) client.send('tick', i);
    const echoed = await within(Promise.all(results), 30_000, 'every stream echoed');
    for (let i = 0; i < count; i++) expect(echoed[i]!.equals(payloads[i]!), `stream ${i}`).toBe(true);
    await waitUntil(() => messages === 200, 5000, 'the messages');
    expect(client.stats!.streams).toMatchObject({ opened: count, bytesOut: count * 512 * 1024, bytesIn: count * 512 * 1024 });
  });
});

describe('ending', () => {
  it('half-closes each way independently', async () => {
    const { server, client } = await pair();
    // The client ends first and still reads what the server sends afterwards.
    const first = client.openStream('client ends first');
    const [firstAtServer] = await nextStream(server);
    first.end('question');
    expect((await readAll(firstAtServer)).toString()).toBe('question');
    expect(firstAtServer.state).toBe('half-closed-remote');
    expect(first.state).toBe('half-closed-local');
    firstAtServer.write('answer, ');
    firstAtServer.end('after the end');
    expect((await readAll(first)).toString()).toBe('answer, after the end');

    // The server ends first; the client keeps writing and the server keeps reading.
    const second = client.openStream('server ends first');
    const [secondAtServer] = await nextStream(server);
    secondAtServer.end('done here');
    expect((await readAll(second)).toString()).toBe('done here');
    expect(second.state).toBe('half-closed-remote');
    second.write('still ');
    second.end('writing');
    expect((await readAll(secondAtServer)).toString()).toBe('still writing');
    await waitUntil(() => server.stats().streams.open === 0 && client.stats!.streams!.open === 0, 5000, 'both streams to close');
  });
});

describe('resets', () => {
  it("destroy(err) resets the other side with the error's code, or HW_ERR_STREAM_RESET", async () => {
    const { server, client } = await pair();
    const coded = client.openStream('coded');
    const [codedAtServer] = await nextStream(server);
    const codedError = nextEvent<[Error & { code: string; resetCode: string }]>(codedAtServer, 'error');
    coded.on('error', () => {});
    coded.destroy(Object.assign(new Error('the user cancelled'), { code: 'APP_CANCELLED' }));
    const [error] = await codedError;
    expect(error.code).toBe('HW_ERR_STREAM_RESET');
    expect(error.resetCode).toBe('APP_CANCELLED');
    expect(error.message).toContain('the user cancelled');
    expect(codedAtServer.resetCode).toBe('APP_CANCELLED');
    expect(codedAtServer.state).toBe('reset');

    // From the server's side, without a code.
    const plain = client.openStream('plain');
    const [plainAtServer] = await nextStream(server);
    const plainError = nextEvent<[Error & { code: string; resetCode: string }]>(plain, 'error');
    plainAtServer.on('error', () => {});
    plainAtServer.destroy(new Error('no more'));
    const [reset] = await plainError;
    expect(reset.code).toBe('HW_ERR_STREAM_RESET');
    expect(reset.resetCode).toBe('HW_ERR_STREAM_RESET');
    expect(server.stats().streams.resetsSent).toBe(1);
    expect(server.stats().streams.resetsReceived).toBe(1);
    // The session goes on.
    expect(await client.request('echo', 'still here')).toBe('still here');
  });

  it('a session that closes ends its streams: with HW_ERR_CONNECTION_CLOSED when it fails, without an error when it closes gracefully', async () => {
    const { server, tcpPort } = await startServer();
    const client = await startClient({ tcpPort });
    const stream = client.openStream('cut');
    const [atServer] = await nextStream(server);
    const closed = nextEvent<[]>(atServer, 'close');
    let errored = false;
    atServer.on('error', () => (errored = true));
    await client.close();
    await closed;
    expect(errored).toBe(false);
    expect(atServer.state).toBe('reset');
    expect(stream.destroyed).toBe(true);

    const again = await startClient({ tcpPort: tcpPort });
    const failing = again.openStream('failing');
    const [failingAtServer] = await nextStream(server);
    const failed = nextEvent<[Error & { code: string }]>(failing, 'error');
    const failedAtServer = nextEvent<[Error & { code: string }]>(failingAtServer, 'error');
    again.connection!.socket.destroy(new Error('cable cut'));
    expect((await failed)[0].code).toBe('HW_ERR_CONNECTION_CLOSED');
    expect((await failedAtServer)[0].code).toBe('HW_ERR_CONNECTION_CLOSED');
  });
});

describe('statistics', () => {
  it('per stream (bytes, credit, state) and per session and server', async () => {
    const { server, client } = await pair({ streamWindowBytes: 32 * 1024 });
    const stream = client.openStream('counted');
    const [atServer] = await nextStream(server);
    stream.write(Buffer.alloc(1000));
    await waitUntil(() => atServer.bytesIn === 1000, 5000, 'the bytes to arrive');
    expect(stream.stats()).toMatchObject({ id: 1, name: 'counted', transport: 'tcp', state: 'open', bytesOut: 1000, bytesIn: 0, sendCredit: 32 * 1024 - 1000 });
    expect(atServer.stats()).toMatchObject({ state: 'open', bytesIn: 1000, receiveCredit: 32 * 1024 - 1000, bufferedBytes: 1000 });
    expect(client.stats!.streams).toMatchObject({ open: 1, opened: 1, bytesOut: 1000 });
    const peer = [...server.peers.values()][0]!;
    expect(peer.stats.streams).toMatchObject({ open: 1, accepted: 1, bytesIn: 1000 });
    expect(server.stats().streams).toMatchObject({ open: 1, accepted: 1, bytesIn: 1000 });
  });
});

/** A MESSAGE frame's payload naming its type inline: JSON for objects, binary for bytes. */
function inlineMessage(type: string, body: Buffer | object): Buffer {
  const name = Buffer.from(type);
  const binary = Buffer.isBuffer(body);
  const prefix = Buffer.from([0xff, 0xff, binary ? 0 : 1, 0, name.length]);
  return Buffer.concat([prefix, name, binary ? body : Buffer.from(JSON.stringify(body))]);
}

function dataBody(id: number, bytes: number): Buffer {
  const body = Buffer.alloc(4 + bytes, 7);
  body.writeUInt32LE(id, 0);
  return body;
}

describe('a peer that breaks the stream rules', () => {
  async function rawStreamPeer(serverOptions: Record<string, number>) {
    const { server, tcpPort } = await startServer(serverOptions);
    const bystander = await startClient({ tcpPort });
    const peer = await RawPeer.connect(tcpPort);
    const ack = await peer.handshake({ features: ['json', 'binary', 'streams'] });
    expect(ack.features).toContain('streams');
    peer.acknowledgeAll();
    // Sequenced frames count from 0 (docs/PROTOCOL.md, section 6).
    let sequence = 0;
    const send = (type: string, body: Buffer | object) => {
      peer.socket.write(Buffer.concat(new FrameEncoder().encode([{ type: FrameType.MESSAGE, sequence: sequence++, payload: inlineMessage(type, body) }])));
    };
    return { server, bystander, peer, send };
  }

  it('sending past its credit is closed with HW_ERR_FLOW_CONTROL; others are still served', async () => {
    const { server, bystander, peer, send } = await rawStreamPeer({ streamWindowBytes: 1024 });
    const opened = nextStream(server);
    send('hybridwire:stream.open', { id: 1, name: 'greedy', window: 65536, transport: 'tcp' });
    const [stream] = await opened;
    stream.pause();
    stream.on('error', () => {});
    // Exactly the credit is fine...
    send('hybridwire:stream.data', dataBody(1, 1024));
    await waitUntil(() => stream.bytesIn === 1024, 5000, 'the first kilobyte');
    expect(peer.closed).toBe(false);
    // ...one byte more is not.
    send('hybridwire:stream.data', dataBody(1, 1));
    await peer.waitClosed();
    expect(peer.errorFrame()?.code).toBe('HW_ERR_FLOW_CONTROL');
    expect(stream.bytesIn).toBe(1024);
    expect(server.stats().streams.flowControlErrors).toBe(1);
    expect(await bystander.request('echo', 'fine')).toBe('fine');
  });

  it('messages for a stream never opened, or an open reusing an id, are HW_ERR_BAD_MESSAGE', async () => {
    const first = await rawStreamPeer({});
    first.send('hybridwire:stream.data', dataBody(9, 10));
    await first.peer.waitClosed();
    expect(first.peer.errorFrame()?.code).toBe('HW_ERR_BAD_MESSAGE');

    const second = await rawStreamPeer({});
    second.server.on('stream', (stream: HybridwireStream) => stream.on('error', () => {}));
    second.send('hybridwire:stream.open', { id: 3, name: 'a', window: 1024, transport: 'tcp' });
    second.send('hybridwire:stream.open', { id: 1, name: 'b', window: 1024, transport: 'tcp' });
    await second.peer.waitClosed();
    expect(second.peer.errorFrame()?.code).toBe('HW_ERR_BAD_MESSAGE');

    const third = await rawStreamPeer({});
    third.send('hybridwire:stream.open', { id: 2, name: 'the server\'s parity', window: 1024, transport: 'tcp' });
    await third.peer.waitClosed();
    expect(third.peer.errorFrame()?.code).toBe('HW_ERR_BAD_MESSAGE');
  });
});
