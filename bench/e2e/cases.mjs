// The cases the runner knows. Throughput is one-way, counted at the receiver; rtt keeps a fixed
// number of requests in flight on one connection; udp sends as fast as the sender can and counts
// what arrives (and so what was lost).
export const cases = [
  { name: 'tput-64', kind: 'throughput', transport: 'tcp', size: 64, clients: 1, title: 'One-way throughput, 64 B payloads, 1 client' },
  { name: 'tput-1k', kind: 'throughput', transport: 'tcp', size: 1024, clients: 1, title: 'One-way throughput, 1 KiB payloads, 1 client' },
  { name: 'tput-64k', kind: 'throughput', transport: 'tcp', size: 65536, clients: 1, title: 'One-way throughput, 64 KiB payloads, 1 client' },
  { name: 'rtt-1', kind: 'rtt', transport: 'tcp', size: 64, inflight: 1, title: 'Round trip, 64 B, 1 request in flight' },
  { name: 'rtt-1k', kind: 'rtt', transport: 'tcp', size: 1024, inflight: 1, title: 'Round trip, 1 KiB, 1 request in flight' },
  { name: 'rtt-64k', kind: 'rtt', transport: 'tcp', size: 65536, inflight: 1, title: 'Round trip, 64 KiB, 1 request in flight' },
  { name: 'rtt-32', kind: 'rtt', transport: 'tcp', size: 64, inflight: 32, title: 'Round trip, 64 B, 32 requests in flight' },
  { name: 'clients-10', kind: 'throughput', transport: 'tcp', size: 64, clients: 10, title: 'Aggregate one-way throughput, 64 B, 10 concurrent clients' },
  { name: 'clients-100', kind: 'throughput', transport: 'tcp', size: 64, clients: 100, title: 'Aggregate one-way throughput, 64 B, 100 concurrent clients' },
  { name: 'udp-64', kind: 'udp', transport: 'udp', size: 64, clients: 1, title: 'UDP one-way, 64 B payloads (received rate and loss)' },
  { name: 'udp-1k', kind: 'udp', transport: 'udp', size: 1024, clients: 1, title: 'UDP one-way, 1 KiB payloads (received rate and loss)' },
];

export function caseNamed(name) {
  const found = cases.find((candidate) => candidate.name === name);
  if (!found) throw new Error(`unknown case '${name}' (known: ${cases.map((c) => c.name).join(', ')})`);
  return found;
}
