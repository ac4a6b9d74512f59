// The figures of issue 11, points 4 to 7, against a hybridwire server in a process of its own (so
// that its memory is measured alone), from hand-built frames on 127.0.0.1:
//
//   node bench/abuse/tcp-limits.mjs --case handshakes      # 60 HELLOs at once, maxConnections 20: sessions admitted
//   node bench/abuse/tcp-limits.mjs --case pre-handshake   # 32 connections announcing 16 MiB before HELLO: server RSS growth
//   node bench/abuse/tcp-limits.mjs --case slow-reader     # a client that never reads sends compressed echo requests: bytes queued for it (dropped after sendStallTimeoutMs, 30 s)
//   node bench/abuse/tcp-limits.mjs --case batch-flood     # 100,000 requests in one BATCH frame: handlers started
//
// hybridwire is loaded from dist/index.js, or from the copy HYBRIDWIRE_DIST names (to measure an
// older build). Every case is bounded in time and stops by itself; --wait-ms bounds the waiting
// (default 60 s).
import { fork } from 'node:child_process';
import net from 'node:net';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';

const distUrl = process.env.HYBRIDWIRE_DIST ? pathToFileURL(process.env.HYBRIDWIRE_DIST).href : new URL('../../dist/index.js', import.meta.url).href;
const hybridwire = await import(distUrl);
const { FrameDecoder, FrameEncoder, FrameFlag, FrameType, PROTOCOL_SEMVER, lz4Compress } = hybridwire;

const MIB = 1024 * 1024;
const { values: args } = parseArgs({
  options: {
    case: { type: 'string' },
    serve: { type: 'string' },
    'wait-ms': { type: 'string' },
  },
});


// ---- the server process ----

async function serve(options) {
  const server = hybridwire.createServer({ host: '127.0.0.1', ...options });
  let handlerCalls = 0;
  let release;
  const released = new Promise((resolve) => (release = resolve));
  server.handle('slow', async (payload) => {
    handlerCalls++;
    await released;
    return payload;
  });
  const drops = [];
  server.on('disconnect', (_peer, error) => drops.push(error?.code ?? String(error)));
  server.on('peerError', () => {});
  const baseRss = process.memoryUsage.rss();
  let peakRss = baseRss;
  let peakQueued = 0;
  setInterval(() => {
    peakRss = Math.max(peakRss, process.memoryUsage.rss());
    for (const peer of server.peers.values()) peakQueued = Math.max(peakQueued, peer.queuedBytes);
  }, 5);
  const { tcpPort } = await server.listen();
  process.on('message', async (request) => {
    if (request === 'release') release();
    if (request === 'stats' || request === 'close') {
      const stats = server.stats();
      const figures = { baseRss, peakRss, peakQueued, handlerCalls, drops, connectedClients: stats.connectedClients, refusedConnections: stats.refusedConnections };
      // Done once the figures are out: peers mid-attack are not waited for.
      process.send(figures, () => {
        if (request === 'close') process.exit(0);
      });
    }
  });
  // The runner gone (finished or failed), nothing is left behind.
  process.on('disconnect', () => process.exit(0));
  process.send({ tcpPort });
}

function startServer(options) {
  const child = fork(fileURLToPath(import.meta.url), ['--serve', JSON.stringify(options)], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const replies = [];
  let waiting;
  child.on('message', (message) => {
    if (waiting) {
      const wake = waiting;
      waiting = undefined;
      wake(message);
    } else replies.push(message);
  });
  const next = () => (replies.length > 0 ? Promise.resolve(replies.shift()) : new Promise((resolve) => (waiting = resolve)));
  return {
    port: next().then((message) => message.tcpPort),
    ask: (request) => {
      child.send(request);
      return next();
    },
    release: () => child.send('release'),
  };
}

// ---- a hand-driven peer ----

class RawPeer {
  constructor(socket) {
    this.socket = socket;
    this.frames = [];
    this.closed = false;
    this.decoder = new FrameDecoder({ maxFrameSize: 64 * MIB });
    this.waiters = [];
    socket.on('data', (chunk) => {
      let count = 0;
      try {
        count = this.decoder.push(chunk);
      } catch {
        // A peer that stops parsing keeps counting nothing more; the figures are the server's.
      }
      for (let i = 0; i < count; i++) this.frames.push({ type: this.decoder.type(i), payload: Buffer.from(this.decoder.payload(i)) });
      this.wake();
    });
    socket.on('error', () => {});
    socket.on('close', () => {
      this.closed = true;
      this.wake();
    });
  }

  static connect(port) {
    return new Promise((resolve, reject) => {
      const socket = net.connect({ port, host: '127.0.0.1' }, () => resolve(new RawPeer(socket)));
      socket.once('error', reject);
    });
  }

  send(frames) {
    for (const buffer of new FrameEncoder({ maxFrameSize: 64 * MIB }).encode(frames)) this.socket.write(buffer);
  }

  sendJson(type, value) {
    this.send([{ type, payload: Buffer.from(JSON.stringify(value)) }]);
  }

  async waitFor(type, timeoutMs) {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = this.frames.find((frame) => frame.type === type);
      if (found) return found;
      if (this.closed || Date.now() >= deadline) return undefined;
      await new Promise((resolve) => {
        const timer = setTimeout(resolve, deadline - Date.now());
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  async handshake(overrides = {}) {
    this.sendJson(FrameType.HELLO, { ...HELLO, ...overrides });
    const ack = JSON.parse((await this.waitFor(FrameType.HELLO_ACK, 5000)).payload.toString());
    if (ack.accepted === true) this.sendJson(FrameType.HELLO_DONE, { sessionId: ack.sessionId });
    return ack;
  }

  wake() {
    for (const wake of this.waiters.splice(0)) wake();
  }
}

const HELLO = { version: PROTOCOL_SEMVER, features: ['json', 'binary', 'request'], mode: 'burst', maxPacketSize: 64 * MIB, windowSize: 1024 };

/** A request message (docs/PROTOCOL.md section 5): alias, encoding 0 (binary), kind 1, request id, body. */
function request(alias, id, body = Buffer.alloc(0)) {
  const prefix = Buffer.alloc(8);
  prefix.writeUInt16LE(alias, 0);
  prefix[3] = 1;
  prefix.writeUInt32LE(id, 4);
  return Buffer.concat([prefix, body]);
}

function typeDef(alias, name) {
  const bytes = Buffer.from(name);
  const payload = Buffer.alloc(2 + bytes.length);
  payload.writeUInt16LE(alias, 0);
  bytes.copy(payload, 2);
  return payload;
}

const megabytes = (bytes) => `${(bytes / 1e6).toFixed(1)} MB`;

// ---- the cases ----

async function run(name, waitMs) {
  const cases = { handshakes, 'pre-handshake': preHandshake, 'slow-reader': slowReader, 'batch-flood': batchFlood };
  const chosen = cases[name];
  if (!chosen) {
    console.error(`--case must be one of ${Object.keys(cases).join(', ')}`);
    process.exit(2);
  }
  console.log(`hybridwire from ${distUrl}`);
  await chosen(waitMs);
  process.exit(0);
}

async function handshakes() {
  const server = startServer({ maxConnections: 20, udpPort: false });
  const port = await server.port;
  const peers = [];
  for (let i = 0; i < 60; i++) peers.push(await RawPeer.connect(port));
  for (const peer of peers) peer.sendJson(FrameType.HELLO, HELLO);
  const acks = await Promise.all(peers.map(async (peer) => {
    const frame = await peer.waitFor(FrameType.HELLO_ACK, 5000);
    return frame ? JSON.parse(frame.payload.toString()) : { accepted: false, code: 'none (closed)' };
  }));
  peers.forEach((peer, i) => {
    if (acks[i].accepted) peer.sendJson(FrameType.HELLO_DONE, { sessionId: acks[i].sessionId });
  });
  await new Promise((resolve) => setTimeout(resolve, 500));
  const stats = await server.ask('close');
  console.log(`60 HELLOs at once, maxConnections 20: ${acks.filter((ack) => ack.accepted).length} accepted, ${stats.connectedClients} sessions open, ${stats.refusedConnections} refused`);
}

async function preHandshake(waitMs) {
  const server = startServer({ udpPort: false });
  const port = await server.port;
  const body = Buffer.alloc(MIB, 0x41);
  const peers = await Promise.all(Array.from({ length: 32 }, () => RawPeer.connect(port)));
  // Each announces a 16 MiB HELLO and then sends its body, as fast as the server takes it.
  await Promise.all(peers.map(async (peer) => {
    const header = Buffer.concat(new FrameEncoder().encode([{ type: FrameType.HELLO, payload: Buffer.alloc(1) }])).subarray(0, 16);
    header.writeUInt32LE(16 * MIB, 8);
    peer.socket.write(header);
    for (let sent = 0; sent < 16 && !peer.closed; sent++) {
      if (!peer.socket.write(body)) await new Promise((resolve) => (peer.socket.once('drain', resolve), peer.socket.once('close', resolve)));
    }
  }));
  const deadline = Date.now() + waitMs;
  while (peers.some((peer) => !peer.closed) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
  const stats = await server.ask('close');
  const errors = peers.map((peer) => peer.frames.find((frame) => frame.type === FrameType.ERROR)).map((frame) => (frame ? JSON.parse(frame.payload.toString()).code : 'none'));
  console.log(`32 connections announcing 16 MiB before HELLO: server RSS ${megabytes(stats.baseRss)} -> peak ${megabytes(stats.peakRss)} (+${megabytes(stats.peakRss - stats.baseRss)}); ERROR codes: ${[...new Set(errors)].join(', ')}; ${peers.filter((peer) => peer.closed).length} closed`);
}

async function slowReader(waitMs) {
  const server = startServer({ udpPort: false });
  const port = await server.port;
  const peer = await RawPeer.connect(port);
  await peer.handshake({ features: ['json', 'binary', 'request', 'lz4'] });
  peer.socket.pause();
  // Compressed echo requests of 1 MiB each, about 4 KiB on the wire: 1.5 MB of them.
  const frames = [{ type: FrameType.TYPE_DEF, sequence: 0, payload: typeDef(1, 'echo') }];
  let wire = 0;
  for (let id = 1; wire < 1.5e6 && id < 1024; id++) {
    const plain = request(1, id, Buffer.alloc(MIB));
    const size = Buffer.alloc(4);
    size.writeUInt32LE(plain.length, 0);
    const payload = Buffer.concat([size, lz4Compress(plain)]);
    wire += 16 + payload.length;
    frames.push({ type: FrameType.MESSAGE, flags: FrameFlag.COMPRESSED, sequence: id, payload });
  }
  peer.send(frames);
  const started = Date.now();
  let stats;
  for (;;) {
    await new Promise((resolve) => setTimeout(resolve, 100));
    stats = await server.ask('stats');
    if (stats.drops.length > 0 || Date.now() - started > waitMs) break;
  }
  stats = await server.ask('close');
  const outcome = stats.drops.length > 0 ? `dropped with ${stats.drops[0]} after ${((Date.now() - started) / 1000).toFixed(1)} s` : `still connected after ${waitMs / 1000} s`;
  console.log(`a client that never reads sent ${megabytes(wire)} of compressed echo requests (${frames.length - 1}): largest queue for it ${megabytes(stats.peakQueued)}, server RSS +${megabytes(stats.peakRss - stats.baseRss)}; ${outcome}`);
  peer.socket.destroy();
}

async function batchFlood(waitMs) {
  const server = startServer({ udpPort: false });
  const port = await server.port;
  const peer = await RawPeer.connect(port);
  await peer.handshake();
  const entries = [];
  let size = 0;
  for (let id = 1; id <= 100_000; id++) {
    const entry = request(1, id);
    entries.push(entry);
    size += 4 + entry.length;
  }
  const payload = Buffer.alloc(size);
  let at = 0;
  for (const entry of entries) {
    payload.writeUInt32LE(entry.length, at);
    entry.copy(payload, at + 4);
    at += 4 + entry.length;
  }
  peer.send([
    { type: FrameType.TYPE_DEF, sequence: 0, payload: typeDef(1, 'slow') },
    { type: FrameType.MESSAGE, flags: FrameFlag.BATCH, sequence: 1, payload },
  ]);
  // Until the count of handlers started stops moving (or the wait ends).
  let last = -1;
  let stats;
  const deadline = Date.now() + Math.min(waitMs, 10_000);
  for (;;) {
    await new Promise((resolve) => setTimeout(resolve, 500));
    stats = await server.ask('stats');
    if (stats.handlerCalls === last || Date.now() > deadline) break;
    last = stats.handlerCalls;
  }
  const started = stats.handlerCalls;
  server.release();
  await server.ask('close');
  console.log(`100,000 requests in one BATCH frame to a handler that waits (maxPendingHandlers 1024): ${started} handlers started before any finished`);
  peer.socket.destroy();
}

if (args.serve !== undefined) await serve(JSON.parse(args.serve));
else await run(args.case, Number(args['wait-ms'] ?? 60_000));
