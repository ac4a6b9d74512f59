// Baselines over plain `net`: length-prefixed frames, written one socket.write per message
// ('net-write') or coalesced into 64 KiB writes ('net-coalesced'). The receiver parses the prefixes
// and hands each payload view to a handler, as a messaging library would; 'net-parse-only' is the
// coalesced sender with a receiver that only walks the prefixes and counts a chunk's messages at
// once, with no call per message: the floor of what any receiver can do with these bytes.
import net from 'node:net';
import { drained } from '../harness.mjs';
import { CoalescingSender, FrameParser, OneWriteSender, PrefixWalker } from '../length-prefix.mjs';

function makeSystem(name, Sender, description, { parseOnly = false } = {}) {
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
        let push;
        if (mode === 'echo') {
          const sender = new Sender(socket);
          const parser = new FrameParser((payload) => sender.write(payload));
          push = (chunk) => parser.push(chunk);
        } else if (parseOnly) {
          const walker = new PrefixWalker();
          push = (chunk) => {
            const messages = walker.push(chunk);
            if (messages > 0) counter.addMany(messages, walker.takeBytes());
          };
        } else {
          const parser = new FrameParser((payload) => counter.add(payload.length));
          push = (chunk) => parser.push(chunk);
        }
        socket.on('data', (chunk) => {
          try {
            push(chunk);
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
      const writer = new Sender(socket);
      let onReply = () => {};
      const parser = new FrameParser(() => onReply());
      socket.on('data', (chunk) => parser.push(chunk));
      return {
        sender: {
          send: (payload) => writer.write(payload),
          drained: () => drained(socket),
        },
        requester(replyHandler) {
          onReply = replyHandler;
          return (payload) => writer.write(payload);
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
export const netParseOnly = makeSystem('net-parse-only', CoalescingSender, 'length-prefixed net, coalesced writes; the receiver only walks the prefixes (no call per message)', { parseOnly: true });
