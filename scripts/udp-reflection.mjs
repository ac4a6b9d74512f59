// Measures what a hybridwire server sends back to a UDP source it has not validated (issue 11,
// points 1 and 2), on 127.0.0.1 where another source port stands in for a spoofed address:
//
//   1. one small datagram with a valid token from a new source: the bytes that come back to it,
//      per byte sent (path MTU probes allowed up to 65507 in the session's HELLO);
//   2. one datagram of 4,000 PINGs from the session's own, validated, address: the PONGs;
//   3. one unacknowledged 1 KiB reliable echo request from a new source: the bytes that come
//      back to it (the answer and its retransmissions) within the whole watch.
//
// Each case uses a session of its own, driven by hand over TCP. A source counts as done when the
// server has sent it nothing for --idle-ms, or after --watch-ms. Every loop is bounded.
//
//   npm run compile && node scripts/udp-reflection.mjs [--watch-ms 10000] [--idle-ms 1500]
import dgram from 'node:dgram';
import net from 'node:net';
import { once } from 'node:events';
import { parseArgs } from 'node:util';
import { FrameDecoder, FrameEncoder, FrameFlag, FrameType, PROTOCOL_SEMVER, createServer } from '../dist/index.js';

const { values: args } = parseArgs({
  options: {
    'watch-ms': { type: 'string', default: '10000' },
    'idle-ms': { type: 'string', default: '1500' },
  },
});
const watchMs = Number(args['watch-ms']);
const idleMs = Number(args['idle-ms']);

const PATH_CHALLENGE = 0x0b;
const PATH_RESPONSE = 0x0c;
const LOOPBACK = '127.0.0.1';
const encoder = new FrameEncoder({ maxFrameSize: 1 << 20 });

function datagram(token, frames) {
  return Buffer.concat([token, ...encoder.encode(frames)]);
}

function parseFrames(bytes) {
  const frames = [];
  for (let at = 8; at + 16 <= bytes.length; at += 16 + bytes.readUInt32LE(at + 8)) {
    frames.push({ type: bytes[at + 1], payload: bytes.subarray(at + 16, at + 16 + bytes.readUInt32LE(at + 8)) });
  }
  return frames;
}

/** An inline-named message: alias 0xFFFF, encoding binary, the kind, a request id if any, the name, the body. */
function message(kind, name, body, requestId = 1) {
  const prefix = Buffer.alloc(kind === 0 ? 4 : 8);
  prefix.writeUInt16LE(0xffff, 0);
  prefix[3] = kind;
  if (kind !== 0) prefix.writeUInt32LE(requestId, 4);
  return Buffer.concat([prefix, Buffer.from([name.length]), Buffer.from(name), body]);
}

/** A TCP session driven by hand: the handshake, then PATH_RESPONSEs on request. */
async function rawSession(tcpPort, udp) {
  const socket = net.connect({ port: tcpPort, host: LOOPBACK });
  await once(socket, 'connect');
  const decoder = new FrameDecoder();
  const frames = [];
  let wake = () => {};
  socket.on('data', (chunk) => {
    const count = decoder.push(chunk);
    for (let i = 0; i < count; i++) frames.push({ type: decoder.type(i), payload: Buffer.from(decoder.payload(i)) });
    wake();
  });
  const waitFor = async (type) => {
    const deadline = Date.now() + 5000;
    for (;;) {
      const found = frames.find((frame) => frame.type === type);
      if (found) return found;
      if (Date.now() > deadline) throw new Error(`no frame of type ${type} from the server`);
      await new Promise((resolve) => {
        wake = resolve;
        setTimeout(resolve, 100);
      });
    }
  };
  const send = (type, payload) => {
    for (const buffer of encoder.encode([{ type, payload }])) socket.write(buffer);
  };
  send(FrameType.HELLO, Buffer.from(JSON.stringify({ version: PROTOCOL_SEMVER, features: ['json', 'binary', 'udp', 'reliable-udp', 'request'], mode: 'burst', maxPacketSize: 1 << 20, windowSize: 64, udp })));
  const ack = JSON.parse((await waitFor(FrameType.HELLO_ACK)).payload.toString());
  send(FrameType.HELLO_DONE, Buffer.from(JSON.stringify({ sessionId: ack.sessionId })));
  await waitFor(FrameType.ACK);
  return { token: Buffer.from(ack.token, 'hex'), pathResponse: (payload) => send(PATH_RESPONSE, payload), close: () => socket.destroy() };
}

/** A UDP source that counts what comes back to it. */
async function source() {
  const socket = dgram.createSocket('udp4');
  socket.bind(0, LOOPBACK);
  await once(socket, 'listening');
  socket.setRecvBufferSize(4 * 1024 * 1024);
  const received = { datagrams: 0, bytes: 0, frames: [] };
  let lastArrival = Date.now();
  socket.on('message', (bytes) => {
    received.datagrams++;
    received.bytes += bytes.length;
    received.frames.push(...parseFrames(bytes));
    lastArrival = Date.now();
  });
  return {
    received,
    send: (bytes, port) => new Promise((resolve, reject) => socket.send(bytes, port, LOOPBACK, (error) => (error ? reject(error) : resolve()))),
    /** Waits until nothing has come for idleMs, or watchMs have passed. */
    quiet: async (idle = idleMs) => {
      const deadline = Date.now() + watchMs;
      lastArrival = Date.now();
      while (Date.now() < deadline && Date.now() - lastArrival < idle) await new Promise((resolve) => setTimeout(resolve, 50));
    },
    close: () => socket.close(),
  };
}

/** Makes `udp` the session's UDP address: PINGs until a PONG, answering challenges over TCP. */
async function validate(session, udp, udpPort) {
  for (let attempt = 1; attempt <= 20; attempt++) {
    const seen = udp.received.frames.length;
    await udp.send(datagram(session.token, [{ type: FrameType.PING, sequence: attempt, payload: Buffer.alloc(8) }]), udpPort);
    await new Promise((resolve) => setTimeout(resolve, 200));
    const answers = udp.received.frames.slice(seen);
    if (answers.some((frame) => frame.type === FrameType.PONG)) return;
    const challenge = answers.find((frame) => frame.type === PATH_CHALLENGE);
    if (challenge) {
      session.pathResponse(Buffer.from(challenge.payload));
      await new Promise((resolve) => setTimeout(resolve, 200));
      if (udp.received.frames.slice(seen).some((frame) => frame.type === FrameType.PONG)) return;
    }
  }
  throw new Error('the UDP path was not validated');
}

const DISCOVERY = { mtu: 1200, window: 64, reassemblyBytes: 1 << 20, span: 16384, maxMtu: 65507 };
const NO_DISCOVERY = { ...DISCOVERY, maxMtu: 1200 };

const server = createServer({ host: LOOPBACK, closeTimeoutMs: 200 });
const { tcpPort, udpPort } = await server.listen();
const results = {};
try {
  {
    const session = await rawSession(tcpPort, DISCOVERY);
    const victim = await source();
    const sent = datagram(session.token, [{ type: FrameType.MESSAGE, payload: message(0, 'noise', Buffer.from('x')) }]);
    await victim.send(sent, udpPort);
    await victim.quiet();
    results.oneDatagramFromNewSource = { bytesIn: sent.length, datagramsOut: victim.received.datagrams, bytesOut: victim.received.bytes, ratio: +(victim.received.bytes / sent.length).toFixed(2) };
    victim.close();
    session.close();
  }
  {
    const session = await rawSession(tcpPort, NO_DISCOVERY);
    const own = await source();
    await validate(session, own, udpPort);
    await own.quiet();
    const before = own.received.frames.length;
    const sent = datagram(session.token, Array.from({ length: 4000 }, (_, i) => ({ type: FrameType.PING, sequence: 1000 + i })));
    await own.send(sent, udpPort);
    await own.quiet();
    results.fourThousandPings = { bytesIn: sent.length, pongs: own.received.frames.slice(before).filter((frame) => frame.type === FrameType.PONG).length };
    own.close();
    session.close();
  }
  {
    const session = await rawSession(tcpPort, NO_DISCOVERY);
    const victim = await source();
    const sent = datagram(session.token, [{ type: FrameType.MESSAGE, flags: FrameFlag.RELIABLE, payload: message(1, 'echo', Buffer.alloc(1024, 0x41)) }]);
    await victim.send(sent, udpPort);
    // The whole watch: retransmission timeouts grow (1 s, 2 s, 4 s ...), longer than --idle-ms.
    await victim.quiet(watchMs);
    results.unacknowledgedReliableEcho = { bytesIn: sent.length, datagramsOut: victim.received.datagrams, bytesOut: victim.received.bytes, ratio: +(victim.received.bytes / sent.length).toFixed(2) };
    victim.close();
    session.close();
  }
} finally {
  await server.close();
}
console.log(JSON.stringify({ watchMs, idleMs, ...results }, null, 2));
