// zeromq v6: push/pull for one-way throughput, dealer/router for round trips. Its API awaits a
// Promise per send and per receive; that is how it is meant to be used (a send while another is
// pending throws), so the sender awaits each one (each send() asks the loop to wait for it) — the
// send queue (ZMQ_SNDHWM) is its backpressure.
import * as zmq from 'zeromq';

const endpointOf = (host, port) => `tcp://${host.includes(':') ? `[${host}]` : host}:${port}`;

export const zeromq = {
  name: 'zeromq',
  transport: 'tcp',
  description: `zeromq ${zmq.version} (npm zeromq 6): push/pull, dealer/router`,

  async listen({ host, mode, counter }) {
    const options = { linger: 0, ipv6: host.includes(':') };
    const socket = mode === 'echo' ? new zmq.Router(options) : new zmq.Pull(options);
    await socket.bind(endpointOf(host, '*'));
    const port = Number(socket.lastEndpoint.split(':').pop());
    const loop = (async () => {
      try {
        if (mode === 'echo') {
          for await (const [identity, payload] of socket) await socket.send([identity, payload]);
        } else {
          for await (const [payload] of socket) counter.add(payload.length);
        }
      } catch (error) {
        if (!socket.closed) throw error;
      }
    })();
    loop.catch((error) => console.error('zeromq receive loop:', error));
    return {
      address: { host, port },
      close: async () => {
        socket.close();
        await loop.catch(() => {});
      },
    };
  },

  async connect({ host, port }, { mode }) {
    const endpoint = endpointOf(host, port);
    const options = { linger: 0, ipv6: host.includes(':') };
    if (mode !== 'echo') {
      const push = new zmq.Push(options);
      push.connect(endpoint);
      let sending;
      return {
        sender: {
          send(payload) {
            sending = push.send(payload);
            return false;
          },
          drained: () => sending,
        },
        close() {
          push.close();
        },
      };
    }
    const dealer = new zmq.Dealer(options);
    dealer.connect(endpoint);
    let onReply = () => {};
    const receiving = (async () => {
      try {
        for await (const _ of dealer) onReply();
      } catch (error) {
        if (!dealer.closed) throw error;
      }
    })();
    receiving.catch((error) => console.error('zeromq dealer loop:', error));
    // Requests queue here while a send is pending (zeromq allows one send at a time).
    const queue = [];
    let sending = false;
    const pump = async () => {
      sending = true;
      while (queue.length > 0) await dealer.send(queue.shift());
      sending = false;
    };
    return {
      requester(replyHandler) {
        onReply = replyHandler;
        return (payload) => {
          queue.push(payload);
          if (!sending) pump().catch((error) => console.error('zeromq dealer send:', error));
        };
      },
      close() {
        dealer.close();
      },
    };
  },
};
