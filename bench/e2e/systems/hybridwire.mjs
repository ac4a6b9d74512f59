// hybridwire over TCP, UDP and reliable UDP, through its public API only (dist/index.js).
import { pathToFileURL } from 'node:url';
const CHECK_EVERY = 1024;
const UDP_YIELD_EVERY = 256; // let the event loop run: the UDP path sends what is queued at the end of the turn
const UDP_READY_MS = 3000;

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

function drainOf(client) {
  return new Promise((resolve, reject) => {
    const onDrain = () => {
      client.off('close', onClose);
      resolve();
    };
    const onClose = () => {
      client.off('drain', onDrain);
      reject(new Error('client closed while waiting for drain'));
    };
    client.once('drain', onDrain);
    client.once('close', onClose);
  });
}

/** Like drainOf(), but gives up at `deadline` (performance.now() time): resolves false then. */
function drainBefore(client, deadline) {
  let timer;
  const late = new Promise((resolve) => {
    timer = setTimeout(() => resolve(false), Math.max(0, deadline - performance.now()));
  });
  return Promise.race([drainOf(client).then(() => true), late]).finally(() => clearTimeout(timer));
}

function makeSystem(name, transport, sendOptions, description, { pingPong = false, limits = {} } = {}) {
  return {
    name,
    transport,
    description,
    available: loadHybridwire,

    async listen({ host, mode, counter, maxConnections, onConnection }) {
      const server = api.createServer({ host, tcpPort: 0, udpPort: 0, ...limits, ...(maxConnections ? { maxConnections } : {}) });
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
        address: { host, tcpPort, udpPort },
        close: () => server.close(),
        /** The last peer's session counters and reliable-UDP statistics, and the server's totals. */
        stats: () => ({ peer: lastPeer ? { ...lastPeer.stats, udpStats: lastPeer.udpStats() } : undefined, server: server.stats() }),
      };
    },

    async connect({ host, tcpPort, udpPort }) {
      const client = await api.connect({ host, tcpPort, udpPort, ...limits });
      client.on('error', () => {});
      if (transport === 'udp') {
        const until = performance.now() + UDP_READY_MS;
        while (!client.udpReady && performance.now() < until) await new Promise((resolve) => setTimeout(resolve, 5));
        if (!client.udpReady) throw new Error(`hybridwire UDP path not ready within ${UDP_READY_MS} ms`);
      }
      const options = sendOptions;
      return {
        client,
        async sendMany(payload, count, deadline) {
          let sent = 0;
          if (transport === 'udp') {
            // send() returns false once the UDP path's window and send buffer are full (the
            // message is kept); then wait for 'drain', as for TCP, but never past the deadline.
            while (sent < count) {
              const stop = Math.min(count, sent + UDP_YIELD_EVERY);
              let ok = true;
              while (sent < stop && ok) {
                ok = client.send('bench', payload, options);
                sent++;
              }
              if (!ok && !(await drainBefore(client, deadline))) break;
              await new Promise((resolve) => setImmediate(resolve));
              if (performance.now() >= deadline) break;
            }
            return sent;
          }
          while (sent < count) {
            const stop = Math.min(count, sent + CHECK_EVERY);
            let ok = true;
            while (sent < stop && ok) {
              ok = client.send('bench', payload);
              sent++;
            }
            if (performance.now() >= deadline) break;
            if (!ok) await drainOf(client);
          }
          return sent;
        },
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
export const hybridwireUdpReliablePingPong = makeSystem(
  'hybridwire-udp-reliable-pp',
  'udp',
  { transport: 'udp', reliable: true },
  "hybridwire ping-pong through handlers, both ways send(..., { transport: 'udp', reliable: true })",
  { pingPong: true },
);
