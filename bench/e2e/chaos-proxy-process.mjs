// The chaos proxy in a process of its own (so that its cost per datagram is not charged to the
// client or the server): the compiled copy of test/chaos/udp-chaos-proxy.ts (see chaos-proxy.mjs),
// driven by the runner over IPC. It relays both directions: client -> proxy.port -> server, and
// the server's datagrams back to the client address it last heard from.
import { pathToFileURL } from 'node:url';
import { serveParent } from './harness.mjs';

let proxy;

serveParent({
  async start({ module, targetPort, chaos }) {
    const { UdpChaosProxy } = await import(pathToFileURL(module).href);
    proxy = await UdpChaosProxy.start({ target: { port: targetPort, address: '127.0.0.1' }, ...chaos });
    return { port: proxy.port };
  },
  counts() {
    return { ...proxy.counts, queued: proxy.queued };
  },
  async stop() {
    await Promise.race([proxy?.close(), new Promise((resolve) => setTimeout(resolve, 2000))]);
  },
});
