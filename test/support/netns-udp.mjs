// Run inside a private network namespace by test/integration/path-mtu.test.ts (unshare -rn), with
// its loopback's MTU set by the caller: a server and a client of dist/ talk over 127.0.0.1 and
// the result is printed as one JSON line.
//
//   node test/support/netns-udp.mjs discover      default settings: what path MTU discovery finds
//   node test/support/netns-udp.mjs discover tls  the same over a TLS session (sealed datagrams)
//   node test/support/netns-udp.mjs fixed 4000    mtu and udpMaxMtu 4000: datagrams above the
//                                                 interface MTU, which the kernel must fragment
import { createServer, connect } from '../../dist/index.js';
import { createAuthority, issueCertificate } from '../../dist/cli/cert.js';

const [scenario, size] = process.argv.slice(2);
const limits = scenario === 'fixed' ? { mtu: Number(size), udpMaxMtu: Number(size) } : {};
const tls = { server: undefined, client: undefined };
if (scenario === 'discover' && size === 'tls') {
  const validity = { notBefore: new Date(Date.now() - 86_400_000), notAfter: new Date(Date.now() + 86_400_000) };
  const authority = await createAuthority('netns CA', validity);
  const certificate = await issueCertificate(authority, { ...validity, commonName: 'localhost', purpose: 'server', hosts: ['127.0.0.1'] });
  tls.server = { tls: { key: certificate.key, cert: certificate.cert } };
  tls.client = { tls: { ca: authority.cert } };
}
const server = createServer({ host: '127.0.0.1', ...limits, ...tls.server });
const received = [];
server.handle('blob', (payload) => {
  received.push(Buffer.from(payload));
});
const { tcpPort, udpPort } = await server.listen();
const client = await connect({ host: '127.0.0.1', tcpPort, udpPort, ...limits, ...tls.client });
const waitFor = async (check, ms) => {
  const until = Date.now() + ms;
  while (!check() && Date.now() < until) await new Promise((resolve) => setTimeout(resolve, 20));
  return check();
};
await waitFor(() => client.udpReady, 5000);
const bytes = (n, seed) => Buffer.from(Array.from({ length: n }, (_, i) => (i * 31 + seed) & 0xff));
const result = { scenario };
if (scenario === 'discover') {
  // Small reliable messages give round-trip samples, so that lost probes are timed out quickly.
  for (let i = 0; i < 20; i++) client.send('blob', bytes(10, i), { transport: 'udp', reliable: true });
  // The search settles when no probe is in flight and none is due: here, on a size or the base.
  await waitFor(() => received.length === 20 && client.udpStats().pathMtu !== 1200, 15_000);
  result.pathMtu = client.udpStats().pathMtu;
  result.probesSent = client.udpStats().mtuProbesSent;
  result.probesLost = client.udpStats().mtuProbesLost;
  result.sealed = client.udpStats().sealing !== undefined;
}
const big = bytes(30_000, 7);
const before = client.udpStats()?.datagramsSent ?? 0;
for (let i = 0; i < 5; i++) client.send('blob', big, { transport: 'udp', reliable: true });
const target = received.length + 5;
result.delivered = (await waitFor(() => received.length >= target, 10_000)) ? 5 : 5 - (target - received.length);
result.intact = received.slice(-5).every((payload) => payload.equals(big));
result.datagrams = client.udpStats().datagramsSent - before;
result.sendErrors = client.stats?.udpSocket?.sendErrors;
await client.close();
await server.close();
console.log(JSON.stringify(result));
process.exit(0);
