// `ws` binary messages with bufferutil (ws loads it by itself when installed), no compression.
import { createRequire } from 'node:module';
import { WebSocket, WebSocketServer } from 'ws';
import { drained } from '../harness.mjs';
import { HIGH_WATER_MARK } from '../length-prefix.mjs';

const require = createRequire(import.meta.url);
require('bufferutil'); // fail loudly rather than measure ws's JS fallback

export const ws = {
  name: 'ws',
  transport: 'tcp',
  description: 'ws 8 binary messages, bufferutil, perMessageDeflate off',

  async listen({ host, mode, counter, onConnection }) {
    const server = new WebSocketServer({ host, port: 0, perMessageDeflate: false, clientTracking: true, backlog: 4096, maxPayload: 128 * 1024 * 1024 });
    server.on('connection', (socket) => {
      onConnection?.();
      socket.on('error', () => {});
      if (mode === 'echo') socket.on('message', (data) => socket.send(data));
      else socket.on('message', (data) => counter.add(data.length));
    });
    await new Promise((resolve, reject) => {
      server.once('listening', resolve);
      server.once('error', reject);
    });
    return {
      address: { host, port: server.address().port },
      close: () => {
        for (const client of server.clients) client.terminate();
        return new Promise((resolve) => server.close(() => resolve()));
      },
    };
  },

  async connect({ host, port }) {
    const socket = new WebSocket(`ws://${host.includes(':') ? `[${host}]` : host}:${port}`, { perMessageDeflate: false });
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
