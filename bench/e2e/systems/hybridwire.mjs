// hybridwire over TCP, UDP and reliable UDP, through its public API only (dist/index.js).
const CHECK_EVERY = 1024;
const UDP_YIELD_EVERY = 256; // UDP has no backpressure: let the event loop send what is queued
const UDP_READY_MS = 3000;

let api;
/** Loads dist/index.js; returns a reason string when the API is not there yet. */
export async function loadHybridwire() {
  if (api) return undefined;
  try {
    const module = await import('../../../dist/index.js');
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

function makeSystem(name, transport, sendOptions, description) {
  return {
    name,
    transport,
    description,
    available: loadHybridwire,

    async listen({ host, mode, counter, maxConnections, onConnection }) {
      const server = api.createServer({ host, tcpPort: 0, udpPort: 0, ...(maxConnections ? { maxConnections } : {}) });
      if (mode === 'echo') server.handle('echo', (payload) => payload);
      else server.handle('bench', (payload) => counter.add(payload.byteLength));
      server.on('error', () => {});
      if (onConnection) server.on('connection', () => onConnection());
      const { tcpPort, udpPort } = await server.listen();
      return {
        server,
        address: { host, tcpPort, udpPort },
        close: () => server.close(),
      };
    },

    async connect({ host, tcpPort, udpPort }) {
      const client = await api.connect({ host, tcpPort, udpPort });
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
            while (sent < count) {
              const stop = Math.min(count, sent + UDP_YIELD_EVERY);
              while (sent < stop) {
                client.send('bench', payload, options);
                sent++;
              }
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
          const requestOptions = { timeoutMs: 5000 };
          return (payload) => client.request('echo', payload, requestOptions).then(replyHandler, onError);
        },
        close: () => client.close(),
      };
    },
  };
}

export const hybridwire = makeSystem('hybridwire', 'tcp', undefined, 'hybridwire client.send()/request() over TCP');
export const hybridwireUdp = makeSystem('hybridwire-udp', 'udp', { transport: 'udp' }, "hybridwire client.send(..., { transport: 'udp' })");
export const hybridwireUdpReliable = makeSystem('hybridwire-udp-reliable', 'udp', { transport: 'udp', reliable: true }, "hybridwire client.send(..., { transport: 'udp', reliable: true })");
