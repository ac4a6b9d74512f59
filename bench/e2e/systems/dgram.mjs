// Plain `dgram` baselines for the UDP cases: one datagram per message ('dgram'), and messages
// length-prefixed and packed into datagrams of at most 1200 bytes ('dgram-coalesced', what a
// library that batches small messages does). No acknowledgements, no retransmission: loss is
// counted at the receiver.
import dgram from 'node:dgram';
import { HEADER } from '../length-prefix.mjs';

const YIELD_EVERY = 256;
const MAX_SEND_QUEUE = 256; // datagrams queued inside Node before the sender waits
export const DATAGRAM_SIZE = 1200;

async function bound(host) {
  const socket = dgram.createSocket(host.includes(':') ? 'udp6' : 'udp4');
  await new Promise((resolve, reject) => {
    socket.once('error', reject);
    socket.bind(0, host, resolve);
  });
  return socket;
}

function makeSystem(name, coalesce, description) {
  return {
    name,
    transport: 'udp',
    description,

    async listen({ host, mode, counter }) {
      const socket = await bound(host);
      if (mode === 'echo') {
        // Round trips (bench/e2e/reliable-udp.mjs): each datagram goes back where it came from.
        socket.on('message', (datagram, from) => socket.send(datagram, from.port, from.address));
      } else if (coalesce) {
        socket.on('message', (datagram) => {
          for (let offset = 0; offset + HEADER <= datagram.length; ) {
            const size = datagram.readUInt32LE(offset);
            if (offset + HEADER + size > datagram.length) break; // malformed: drop the rest
            counter.add(size);
            offset += HEADER + size;
          }
        });
      } else {
        socket.on('message', (datagram) => counter.add(datagram.length));
      }
      return {
        address: { host, port: socket.address().port },
        close: () => new Promise((resolve) => socket.close(resolve)),
      };
    },

    async connect({ host, port }) {
      const socket = await bound(host);
      await new Promise((resolve) => socket.connect(port, host, resolve));
      socket.on('error', () => {});
      const waitQueue = async () => {
        while (socket.getSendQueueCount() > MAX_SEND_QUEUE) await new Promise((resolve) => setImmediate(resolve));
      };
      return {
        async sendMany(payload, count, deadline) {
          let sent = 0;
          const size = payload.length;
          if (coalesce && HEADER + size > DATAGRAM_SIZE) throw new Error(`a ${size}-byte message does not fit a ${DATAGRAM_SIZE}-byte datagram`);
          let datagram = Buffer.allocUnsafe(DATAGRAM_SIZE);
          let used = 0;
          while (sent < count) {
            const stop = Math.min(count, sent + YIELD_EVERY);
            if (!coalesce) {
              for (; sent < stop; sent++) socket.send(payload);
            } else {
              for (; sent < stop; sent++) {
                if (used + HEADER + size > DATAGRAM_SIZE && used > 0) {
                  socket.send(datagram.subarray(0, used));
                  datagram = Buffer.allocUnsafe(DATAGRAM_SIZE);
                  used = 0;
                }
                datagram.writeUInt32LE(size, used);
                datagram.set(payload, used + HEADER);
                used += HEADER + size;
              }
              // Flush at each yield, as a library flushing at the end of a tick would.
              if (used > 0) {
                socket.send(datagram.subarray(0, used));
                datagram = Buffer.allocUnsafe(DATAGRAM_SIZE);
                used = 0;
              }
            }
            await waitQueue();
            await new Promise((resolve) => setImmediate(resolve));
            if (performance.now() >= deadline) break;
          }
          return sent;
        },
        /** One datagram out, one back; no retransmission, so a reply missing for 1 s fails the run. */
        requester(replyHandler, onError) {
          let outstanding = 0;
          let lastAt = performance.now();
          const watchdog = setInterval(() => {
            if (outstanding > 0 && performance.now() - lastAt > 1000) {
              clearInterval(watchdog);
              onError(new Error('a datagram or its echo was lost (no reply within 1 s)'));
            }
          }, 250);
          watchdog.unref();
          socket.on('message', () => {
            outstanding--;
            lastAt = performance.now();
            replyHandler();
          });
          return (payload) => {
            if (outstanding++ === 0) lastAt = performance.now();
            socket.send(payload);
          };
        },
        close() {
          socket.close();
        },
      };
    },
  };
}

export const dgramPlain = makeSystem('dgram', false, 'node:dgram, one datagram per message');
export const dgramCoalesced = makeSystem('dgram-coalesced', true, 'node:dgram, length-prefixed messages packed into 1200-byte datagrams');
