// Baselines over plain `net`: length-prefixed frames, written one socket.write per message
// ('net-write') or coalesced into 64 KiB writes ('net-coalesced'). The receiver parses the prefixes
// and hands each payload view to a handler, as a messaging library would.
import net from 'node:net';
import { CoalescingSender, FrameParser, OneWriteSender, drained } from '../length-prefix.mjs';

const CHECK_EVERY = 1024;

function makeSystem(name, Sender, description) {
  return {
    name,
    transport: 'tcp',
    description,

    async listen({ host, mode, counter, onConnection }) {
      const sockets = new Set();
      const server = net.createServer({ noDelay: true }, (socket) => {
        sockets.add(socket);
        onConnection?.();
        socket.on('close', () => sockets.delete(socket));
        socket.on('error', () => {});
        let onMessage;
        if (mode === 'echo') {
          const sender = new Sender(socket);
          onMessage = (payload) => sender.write(payload);
        } else {
          onMessage = (payload) => counter.add(payload.length);
        }
        const parser = new FrameParser(onMessage);
        socket.on('data', (chunk) => {
          try {
            parser.push(chunk);
          } catch {
            socket.destroy();
          }
        });
      });
      await new Promise((resolve, reject) => {
        server.once('error', reject);
        server.listen({ host, port: 0, backlog: 4096 }, resolve);
      });
      return {
        address: { host, port: server.address().port },
        close: () => {
          for (const socket of sockets) socket.destroy();
          return new Promise((resolve) => server.close(() => resolve()));
        },
      };
    },

    async connect({ host, port }) {
      const socket = net.connect({ host, port, noDelay: true });
      await new Promise((resolve, reject) => {
        socket.once('connect', resolve);
        socket.once('error', reject);
      });
      socket.on('error', () => {});
      const sender = new Sender(socket);
      let onReply = () => {};
      const parser = new FrameParser(() => onReply());
      socket.on('data', (chunk) => parser.push(chunk));
      return {
        async sendMany(payload, count, deadline) {
          let sent = 0;
          while (sent < count) {
            const stop = Math.min(count, sent + CHECK_EVERY);
            let ok = true;
            while (sent < stop && ok) {
              ok = sender.write(payload);
              sent++;
            }
            if (performance.now() >= deadline) break;
            if (!ok) {
              sender.flush();
              await drained(socket);
            }
          }
          sender.flush();
          return sent;
        },
        requester(replyHandler) {
          onReply = replyHandler;
          return (payload) => sender.write(payload);
        },
        close() {
          socket.destroy();
        },
      };
    },
  };
}

export const netWrite = makeSystem('net-write', OneWriteSender, 'length-prefixed net, one socket.write per message');
export const netCoalesced = makeSystem('net-coalesced', CoalescingSender, 'length-prefixed net, frames coalesced into 64 KiB writes');
