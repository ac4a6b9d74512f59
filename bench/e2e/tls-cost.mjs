// What TLS costs hybridwire per message, in CPU time rather than in messages per second: on a
// shared machine a process's CPU time per message moves far less with the load of others than its
// rate does. A receiver process and a sender process (node:child_process, 127.0.0.1, port 0) pass
// COUNT one-way 64-byte messages over a plaintext session, then over a TLS 1.3 one, alternating
// for ROUNDS rounds; each side reports process.cpuUsage() per message and the receiver the rate.
//
//   npx tsc -p tsconfig.build.json
//   node bench/e2e/tls-cost.mjs [--rounds 5] [--count 2000000] [--size 64]
import { fork } from 'node:child_process';
import { once } from 'node:events';
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
  },
});
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

if (args.role === 'receiver') await receiver(args.kind === 'tls');
else if (args.role === 'sender') await sender(args.kind === 'tls', Number(args.port), process.env.HYBRIDWIRE_BENCH_CA);
else {
  const results = { plain: [], tls: [] };
  for (let round = 1; round <= Number(args.rounds); round++) {
    for (const kind of ['plain', 'tls']) {
      const result = await measure(kind);
      results[kind].push(result);
      process.stderr.write(`round ${round} ${kind}: ${(result.rate / 1e6).toFixed(2)} M msg/s, receiver ${result.receiverNs.toFixed(0)} ns/msg, sender ${result.senderNs.toFixed(0)} ns/msg of CPU\n`);
    }
  }
  console.log(`${count} one-way ${size}-byte messages per measurement, ${args.rounds} alternating rounds; medians`);
  console.log('| session | msg/s | receiver CPU ns/msg | sender CPU ns/msg |');
  console.log('|---|---|---|---|');
  for (const kind of ['plain', 'tls']) {
    const rows = results[kind];
    console.log(`| ${kind === 'tls' ? 'TLS 1.3' : 'plaintext'} | ${(median(rows.map((r) => r.rate)) / 1e6).toFixed(2)} M | ${median(rows.map((r) => r.receiverNs)).toFixed(0)} | ${median(rows.map((r) => r.senderNs)).toFixed(0)} |`);
  }
  const ratio = (field) => median(results.tls.map((r, i) => r[field] / results.plain[i][field]));
  console.log(`TLS ÷ plaintext, medians of the per-round ratios: msg/s ${ratio('rate').toFixed(2)}×, receiver CPU ${ratio('receiverNs').toFixed(2)}×, sender CPU ${ratio('senderNs').toFixed(2)}×`);
}
