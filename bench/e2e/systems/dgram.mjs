// Plain `dgram` baselines for the UDP cases: one datagram per message ('dgram'), and messages
// length-prefixed and packed into datagrams of at most 1200 bytes ('dgram-coalesced', what a
// library that batches small messages does). No acknowledgements, no retransmission: loss is
// counted at the receiver.
import dgram from 'node:dgram';
import { yieldTurn } from '../harness.mjs';
import { HEADER } from '../length-prefix.mjs';

const YIELD_EVERY = 256; // datagrams leave only when the sender lets the event loop run
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
      const queueShort = () => socket.getSendQueueCount() <= MAX_SEND_QUEUE;
      const drained = async () => {
        while (!queueShort()) await yieldTurn();
      };
      let sender;
      if (!coalesce) {
        sender = {
          send(payload) {
            socket.send(payload);
            return queueShort();
          },
          drained,
        };
      } else {
        // Messages are packed into the datagram being filled, which leaves when full and at the end
        // of the tick (when the sender yields), as a library flushing at the end of a tick would.
        let datagram = Buffer.allocUnsafe(DATAGRAM_SIZE);
        let used = 0;
        let flushScheduled = false;
        const flush = () => {
          if (used === 0) return;
          socket.send(datagram.subarray(0, used));
          datagram = Buffer.allocUnsafe(DATAGRAM_SIZE);
          used = 0;
        };
        const flushLater = () => {
          flushScheduled = false;
          flush();
        };
        sender = {
          send(payload) {
            const size = payload.length;
            if (HEADER + size > DATAGRAM_SIZE) throw new Error(`a ${size}-byte message does not fit a ${DATAGRAM_SIZE}-byte datagram`);
            if (used + HEADER + size > DATAGRAM_SIZE) flush();
            datagram.writeUInt32LE(size, used);
            datagram.set(payload, used + HEADER);
            used += HEADER + size;
            if (!flushScheduled) {
              flushScheduled = true;
              process.nextTick(flushLater);
            }
            return queueShort();
          },
          drained,
        };
      }
      return {
        sender,
        yieldEvery: YIELD_EVERY,
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
