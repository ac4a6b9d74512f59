// hybridwire over TCP, UDP and reliable UDP, through its public API only (dist/index.js).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { drained } from '../harness.mjs';
import { serverCertificates } from '../tls-certificates.mjs';

const UDP_YIELD_EVERY = 256; // let the event loop run: the UDP path sends what is queued at the end of the turn
const UDP_READY_MS = 3000;
const SCRAPE_EVERY_MS = 1000;

let api;
/** Loads dist/index.js; returns a reason string when the API is not there yet. */
export async function loadHybridwire() {
  if (api) return undefined;
  try {
    // HYBRIDWIRE_DIST names another copy of dist/index.js (reliable-udp.mjs runs from a snapshot).
    const module = await import(process.env.HYBRIDWIRE_DIST ? pathToFileURL(process.env.HYBRIDWIRE_DIST).href : '../../../dist/index.js');
    if (typeof module.createServer !== 'function' || typeof module.connect !== 'function') {
      return 'dist/index.js does not export createServer() and connect() yet';
    }
    api = module;
    return undefined;
  } catch (error) {
    return `dist/index.js failed to load: ${error.message}`;
  }
}

/** A fresh directory for a local socket, removed when the server closes. */
function localSocketPath() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hw-bench-'));
  return { socketPath: path.join(dir, 'bench.sock'), remove: () => fs.rmSync(dir, { recursive: true, force: true }) };
}

function makeSystem(name, transport, sendOptions, description, { pingPong = false, limits = {}, metrics = false, tls = false, local = false } = {}) {
  return {
    name,
    transport,
    description,
    available: local && process.platform === 'win32' ? async () => 'Unix domain sockets are not measured on Windows' : loadHybridwire,

    async listen({ host, mode, counter, maxConnections, onConnection }) {
      const certificates = tls ? await serverCertificates() : undefined;
      const socket = local ? localSocketPath() : undefined;
      const server = api.createServer({
        ...(socket ? { path: socket.socketPath } : { host, tcpPort: 0, udpPort: 0 }),
        ...limits,
        ...(maxConnections ? { maxConnections } : {}),
        ...(metrics ? { metrics: true } : {}),
        ...(certificates ? { tls: { key: certificates.key, cert: certificates.cert } } : {}),
      });
      // Metrics on, and scraped once a second (Prometheus scrapes every 15 s by default).
      const scraper = metrics ? setInterval(() => server.metrics().catch(() => {}), SCRAPE_EVERY_MS) : undefined;
      if (mode === 'echo') {
        server.handle('echo', (payload) => payload);
        // Ping-pong through handlers: the reply is a message of its own, sent the same way.
        server.handle('ping', (payload, peer) => {
          peer.send('pong', payload, sendOptions);
        });
      } else server.handle('bench', (payload) => counter.add(payload.byteLength));
      server.on('error', () => {});
      let lastPeer;
      server.on('connection', (peer) => {
        lastPeer = peer;
        onConnection?.();
      });
      const { tcpPort, udpPort } = await server.listen();
      return {
        server,
        address: socket ? { path: socket.socketPath } : { host, tcpPort, udpPort, ...(certificates ? { ca: certificates.ca } : {}) },
        close: async () => {
          clearInterval(scraper);
          await server.close();
          socket?.remove();
        },
        /** The last peer's session counters and reliable-UDP statistics, and the server's totals. */
        stats: () => ({ peer: lastPeer ? { ...lastPeer.stats, udpStats: lastPeer.udpStats() } : undefined, server: server.stats() }),
      };
    },

    async connect({ host, tcpPort, udpPort, ca, path: socketPath }) {
      const address = socketPath === undefined ? { host, tcpPort, udpPort } : { path: socketPath };
      const client = await api.connect({ ...address, ...limits, ...(tls ? { tls: { ca } } : {}) });
      client.on('error', () => {});
      if (transport === 'udp') {
        const until = performance.now() + UDP_READY_MS;
        while (!client.udpReady && performance.now() < until) await new Promise((resolve) => setTimeout(resolve, 5));
        if (!client.udpReady) throw new Error(`hybridwire UDP path not ready within ${UDP_READY_MS} ms`);
      }
      const options = sendOptions;
      return {
        client,
        // send() returns false once the send queue is past its high-water mark (over UDP: once the
        // path's window and send buffer are full; the message is kept). Then wait for 'drain'; over
        // UDP never past the deadline.
        sender:
          transport === 'udp'
            ? { send: (payload) => client.send('bench', payload, options), drained: (phase) => drained(client, { deadline: phase.deadline }) }
            : { send: (payload) => client.send('bench', payload), drained: () => drained(client) },
        yieldEvery: transport === 'udp' ? UDP_YIELD_EVERY : 0,
        requester(replyHandler, onError) {
          if (pingPong) {
            client.handle('pong', () => replyHandler());
            return (payload) => client.send('ping', payload, options);
          }
          // Over UDP the request goes the way sendOptions say; where its reply goes is the
          // library's choice (see stats().peer on the server side).
          const requestOptions = { timeoutMs: 10_000, ...options };
          return (payload) => client.request('echo', payload, requestOptions).then(replyHandler, onError);
        },
        stats: () => ({ session: client.stats, udpStats: client.udpStats() }),
        close: () => client.close(),
      };
    },
  };
}

export const hybridwire = makeSystem('hybridwire', 'tcp', undefined, 'hybridwire client.send()/request() over TCP');
// The same sessions over a Unix domain socket (createServer({ path })): what TCP on loopback costs.
export const hybridwireUnix = makeSystem('hybridwire-unix', 'tcp', undefined, 'hybridwire client.send()/request() over a Unix domain socket', { local: true });
export const hybridwireMetrics = makeSystem('hybridwire-metrics', 'tcp', undefined, 'hybridwire over TCP with metrics on (the metrics option), scraped every second', { metrics: true });
// TLS 1.3 under the same framing (node:tls, OpenSSL's default suite: AES-256-GCM), verified
// against the server's CA.
export const hybridwireTls = makeSystem('hybridwire-tls', 'tcp', undefined, 'hybridwire client.send()/request() over TCP with TLS 1.3', { tls: true });
export const hybridwireUdp = makeSystem('hybridwire-udp', 'udp', { transport: 'udp' }, "hybridwire client.send(..., { transport: 'udp' })");
// Path MTU discovery off: datagrams stay at the 1200-byte base, as on an internet path, so a
// message over 1144 bytes is fragmented (16 KiB: 15 datagrams). On loopback the default finds
// 65,507-byte datagrams.
export const hybridwireUdpReliable1200 = makeSystem(
  'hybridwire-udp-reliable-1200',
  'udp',
  { transport: 'udp', reliable: true },
  "hybridwire client.send(..., { transport: 'udp', reliable: true }) with udpMaxMtu: 1200 (datagrams of 1200 bytes, no path MTU discovery)",
  { limits: { udpMaxMtu: 1200 } },
);
export const hybridwireUdpReliable = makeSystem('hybridwire-udp-reliable', 'udp', { transport: 'udp', reliable: true }, "hybridwire client.send(..., { transport: 'udp', reliable: true })");
// The same over TLS sessions, whose datagrams are sealed (docs/PROTOCOL.md 4.4).
export const hybridwireUdpSealed = makeSystem('hybridwire-udp-sealed', 'udp', { transport: 'udp' }, "hybridwire-udp on a TLS session: every datagram sealed (AES-256-GCM)", { tls: true });
export const hybridwireUdpReliableSealed = makeSystem(
  'hybridwire-udp-reliable-sealed',
  'udp',
  { transport: 'udp', reliable: true },
  'hybridwire-udp-reliable on a TLS session: every datagram sealed (AES-256-GCM)',
  { tls: true },
);
export const hybridwireUdpReliable1200Sealed = makeSystem(
  'hybridwire-udp-reliable-1200-sealed',
  'udp',
  { transport: 'udp', reliable: true },
  'hybridwire-udp-reliable-1200 on a TLS session: every datagram sealed (AES-256-GCM)',
  { limits: { udpMaxMtu: 1200 }, tls: true },
);
export const hybridwireUdpReliablePingPong = makeSystem(
  'hybridwire-udp-reliable-pp',
  'udp',
  { transport: 'udp', reliable: true },
  "hybridwire ping-pong through handlers, both ways send(..., { transport: 'udp', reliable: true })",
  { pingPong: true },
);
