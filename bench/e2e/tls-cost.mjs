// What TLS costs hybridwire per message, in CPU time rather than in messages per second: on a
// shared machine a process's CPU time per message moves far less with the load of others than its
// rate does. A receiver process and a sender process (node:child_process, 127.0.0.1, port 0) pass
// COUNT one-way 64-byte messages over a plaintext session, then over a TLS 1.3 one, alternating
// for ROUNDS rounds; each side reports process.cpuUsage() per message and the receiver the rate.
//
// `--raw` adds the floor under both: the same bytes (SIZE + 8 per message, a batch entry's share)
// written in 64 KiB writes over raw node:net and raw node:tls, no framing, counted by the receiver,
// so that "TLS ÷ plaintext" of the raw streams says what node:tls itself costs per message.
//
//   npx tsc -p tsconfig.build.json
//   node bench/e2e/tls-cost.mjs [--rounds 5] [--count 2000000] [--size 64] [--raw]
import { fork } from 'node:child_process';
import { once } from 'node:events';
import net from 'node:net';
import nodeTls from 'node:tls';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';

// HYBRIDWIRE_DIST names another copy of dist/index.js (a build to compare against).
const DIST = process.env.HYBRIDWIRE_DIST ? new URL('./', pathToFileURL(process.env.HYBRIDWIRE_DIST)) : new URL('../../dist/', import.meta.url);
const { values: args } = parseArgs({
  options: {
    role: { type: 'string' },
    kind: { type: 'string' },
    port: { type: 'string' },
    rounds: { type: 'string', default: '5' },
    count: { type: 'string', default: '2000000' },
    size: { type: 'string', default: '64' },
    raw: { type: 'boolean', default: false },
  },
});
const KINDS = args.raw ? ['plain', 'tls', 'raw-net', 'raw-tls'] : ['plain', 'tls'];
const LABELS = { plain: 'plaintext', tls: 'TLS 1.3', 'raw-net': 'raw node:net stream', 'raw-tls': 'raw node:tls stream' };
/** The raw streams carry what a BATCH entry of one message takes: a u32 length, the 4-byte prefix, the body. */
const RAW_WRITE = 64 * 1024;
const count = Number(args.count);
const size = Number(args.size);

async function receiver(tls) {
  const { createServer } = await import(new URL('index.js', DIST));
  const { createAuthority, issueCertificate } = await import(new URL('cli/cert.js', DIST));
  const validity = { notBefore: new Date(Date.now() - 3_600_000), notAfter: new Date(Date.now() + 3_600_000) };
  const ca = await createAuthority('bench CA', validity);
  const certificate = await issueCertificate(ca, { ...validity, commonName: 'localhost', purpose: 'server', hosts: ['127.0.0.1'] });
  const server = createServer({ host: '127.0.0.1', tcpPort: 0, udpPort: false, ...(tls ? { tls: { key: certificate.key, cert: certificate.cert } } : {}) });
  let received = 0;
  let began = 0;
  let cpu;
  server.handle('bench', () => {
    if (received++ === 0) {
      began = performance.now();
      cpu = process.cpuUsage();
    }
    if (received === count) {
      const used = process.cpuUsage(cpu);
      process.send({ rate: (count * 1000) / (performance.now() - began), cpuNs: ((used.user + used.system) * 1000) / count });
    }
  });
  const { tcpPort } = await server.listen();
  process.send({ port: tcpPort, ca: ca.cert });
  process.on('disconnect', () => server.close());
}

/** The raw floor's receiver: counts bytes, and reports per message of SIZE + 8 bytes. */
async function rawReceiver(tls) {
  const { serverCertificates } = await import('./tls-certificates.mjs');
  const certificates = tls ? await serverCertificates() : undefined;
  const total = count * (size + 8);
  let received = 0;
  let began = 0;
  let cpu;
  const onSocket = (socket) =>
    socket.on('data', (chunk) => {
      if (received === 0) {
        began = performance.now();
        cpu = process.cpuUsage();
      }
      received += chunk.length;
      if (received >= total && cpu !== undefined) {
        const used = process.cpuUsage(cpu);
        cpu = undefined;
        process.send({ rate: (count * 1000) / (performance.now() - began), cpuNs: ((used.user + used.system) * 1000) / count });
      }
    });
  const server = tls ? nodeTls.createServer({ key: certificates.key, cert: certificates.cert }, onSocket) : net.createServer(onSocket);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  process.send({ port: server.address().port, ca: certificates?.ca });
  process.on('disconnect', () => server.close());
}

async function rawSender(tls, port, ca) {
  const socket = tls ? nodeTls.connect({ host: '127.0.0.1', port, ca, servername: 'localhost' }) : net.connect(port, '127.0.0.1');
  await once(socket, tls ? 'secureConnect' : 'connect');
  const chunk = Buffer.alloc(RAW_WRITE, 7);
  const total = count * (size + 8);
  const cpu = process.cpuUsage();
  for (let sent = 0; sent < total; sent += chunk.length) {
    if (!socket.write(sent + chunk.length <= total ? chunk : chunk.subarray(0, total - sent))) await once(socket, 'drain');
  }
  const used = process.cpuUsage(cpu);
  process.send({ cpuNs: ((used.user + used.system) * 1000) / count });
  await new Promise((resolve) => socket.end(resolve));
}

async function sender(tls, port, ca) {
  const { connect } = await import(new URL('index.js', DIST));
  const client = await connect({ host: '127.0.0.1', tcpPort: port, udpPort: false, ...(tls ? { tls: { ca } } : {}) });
  const payload = Buffer.alloc(size, 7);
  const cpu = process.cpuUsage();
  for (let i = 0; i < count; i++) {
    if (!client.send('bench', payload)) await once(client, 'drain');
    // As an application's loop does, and as bench/e2e's senders do.
    if ((i & 8191) === 8191) await new Promise((resolve) => setImmediate(resolve));
  }
  const used = process.cpuUsage(cpu);
  process.send({ cpuNs: ((used.user + used.system) * 1000) / count });
  await client.close();
}

function message(child) {
  return Promise.race([
    once(child, 'message').then(([value]) => value),
    new Promise((_, reject) => setTimeout(() => reject(new Error('a benchmark process did not answer within 120 s')), 120_000).unref()),
  ]);
}

async function measure(kind) {
  const self = fileURLToPath(import.meta.url);
  const common = ['--kind', kind, '--count', String(count), '--size', String(size)];
  const server = fork(self, ['--role', 'receiver', ...common]);
  try {
    const { port, ca } = await message(server);
    const result = message(server);
    // The CA's PEM starts with dashes, which parseArgs would take for an option: it goes by environment.
    const client = fork(self, ['--role', 'sender', ...common, '--port', String(port)], { env: { ...process.env, HYBRIDWIRE_BENCH_CA: ca } });
    client.on('exit', (code) => {
      if (code) server.kill();
    });
    try {
      const sent = await message(client);
      const received = await result;
      return { rate: received.rate, receiverNs: received.cpuNs, senderNs: sent.cpuNs };
    } finally {
      client.kill();
    }
  } finally {
    server.kill();
  }
}

const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];

const encrypted = args.kind === 'tls' || args.kind === 'raw-tls';
if (args.role === 'receiver') await (args.kind?.startsWith('raw-') ? rawReceiver : receiver)(encrypted);
else if (args.role === 'sender') await (args.kind?.startsWith('raw-') ? rawSender : sender)(encrypted, Number(args.port), process.env.HYBRIDWIRE_BENCH_CA);
else {
  const results = Object.fromEntries(KINDS.map((kind) => [kind, []]));
  for (let round = 1; round <= Number(args.rounds); round++) {
    for (const kind of KINDS) {
      const result = await measure(kind);
      results[kind].push(result);
      process.stderr.write(`round ${round} ${kind}: ${(result.rate / 1e6).toFixed(2)} M msg/s, receiver ${result.receiverNs.toFixed(0)} ns/msg, sender ${result.senderNs.toFixed(0)} ns/msg of CPU\n`);
    }
  }
  console.log(`${count} one-way ${size}-byte messages per measurement, ${args.rounds} alternating rounds; medians`);
  console.log('| session | msg/s | receiver CPU ns/msg | sender CPU ns/msg |');
  console.log('|---|---|---|---|');
  for (const kind of KINDS) {
    const rows = results[kind];
    console.log(`| ${LABELS[kind]} | ${(median(rows.map((r) => r.rate)) / 1e6).toFixed(2)} M | ${median(rows.map((r) => r.receiverNs)).toFixed(0)} | ${median(rows.map((r) => r.senderNs)).toFixed(0)} |`);
  }
  const ratio = (field, over, under) => median(results[over].map((r, i) => r[field] / results[under][i][field]));
  const ratios = (over, under) => `msg/s ${ratio('rate', over, under).toFixed(2)}×, receiver CPU ${ratio('receiverNs', over, under).toFixed(2)}×, sender CPU ${ratio('senderNs', over, under).toFixed(2)}×`;
  console.log(`TLS ÷ plaintext, medians of the per-round ratios: ${ratios('tls', 'plain')}`);
  if (args.raw) {
    console.log(`raw node:tls ÷ raw node:net: ${ratios('raw-tls', 'raw-net')}`);
    console.log(`raw node:tls ÷ hybridwire plaintext: ${ratios('raw-tls', 'plain')}`);
  }
}
