// `ws` binary messages with bufferutil (ws loads it by itself when installed), no compression;
// `wss` the same over TLS 1.3 (an https server, node:tls), verified against the server's CA.
import https from 'node:https';
import { createRequire } from 'node:module';
import { WebSocket, WebSocketServer } from 'ws';
import { drained } from '../harness.mjs';
import { HIGH_WATER_MARK } from '../length-prefix.mjs';
import { serverCertificates } from '../tls-certificates.mjs';

const require = createRequire(import.meta.url);
require('bufferutil'); // fail loudly rather than measure ws's JS fallback

function makeWs(secure) {
  return {
  name: secure ? 'wss' : 'ws',
  transport: 'tcp',
  description: `ws 8 binary messages, bufferutil, perMessageDeflate off${secure ? ', over TLS 1.3 (https server)' : ''}`,

  async listen({ host, mode, counter, onConnection }) {
    const certificates = secure ? await serverCertificates() : undefined;
    const options = { perMessageDeflate: false, clientTracking: true, maxPayload: 128 * 1024 * 1024 };
    let tlsServer;
    let server;
    if (secure) {
      tlsServer = https.createServer({ key: certificates.key, cert: certificates.cert, minVersion: 'TLSv1.3' });
      server = new WebSocketServer({ ...options, server: tlsServer });
      tlsServer.listen(0, host, 4096);
    } else {
      server = new WebSocketServer({ ...options, host, port: 0, backlog: 4096 });
    }
    const listening = tlsServer ?? server;
    server.on('connection', (socket) => {
      onConnection?.();
      socket.on('error', () => {});
      if (mode === 'echo') socket.on('message', (data) => socket.send(data));
      else socket.on('message', (data) => counter.add(data.length));
    });
    await new Promise((resolve, reject) => {
      listening.once('listening', resolve);
      listening.once('error', reject);
    });
    return {
      address: { host, port: listening.address().port, ...(certificates ? { ca: certificates.ca } : {}) },
      close: () => {
        for (const client of server.clients) client.terminate();
        return new Promise((resolve) => server.close(() => (tlsServer ? tlsServer.close(() => resolve()) : resolve())));
      },
    };
  },

  async connect({ host, port, ca }) {
    const url = `${secure ? 'wss' : 'ws'}://${host.includes(':') ? `[${host}]` : host}:${port}`;
    const socket = new WebSocket(url, { perMessageDeflate: false, ...(secure ? { ca } : {}) });
    await new Promise((resolve, reject) => {
      socket.once('open', resolve);
      socket.once('error', reject);
    });
    socket.on('error', () => {});
    let onReply = () => {};
    socket.on('message', () => onReply());
    // ws has no 'drain' of its own: it writes each frame to the net socket at once (no deflate),
    // so the net socket's queue and 'drain' are its backpressure.
    const raw = socket._socket;
    return {
      sender: {
        send(payload) {
          socket.send(payload);
          return raw.writableLength < HIGH_WATER_MARK;
        },
        drained: () => drained(raw),
      },
      requester(replyHandler) {
        onReply = replyHandler;
        return (payload) => socket.send(payload);
      },
      close() {
        socket.terminate();
      },
    };
  },
  };
}

export const ws = makeWs(false);
export const wss = makeWs(true);
