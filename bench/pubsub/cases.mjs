// The cases: one publisher, N subscribers of one topic, 64-byte messages, at QoS 0 or 1; a fixed
// number of messages each (deliveries = messages × subscribers), scaled by --scale.
export const cases = [
  { name: 'one-q0', subscribers: 1, qos: 0, messages: 30_000, title: '1 publisher → 1 subscriber, QoS 0' },
  { name: 'one-q1', subscribers: 1, qos: 1, messages: 15_000, title: '1 publisher → 1 subscriber, QoS 1' },
  { name: 'fanout-100-q0', subscribers: 100, qos: 0, messages: 3_000, title: 'fan-out 1 → 100 subscribers, QoS 0' },
  { name: 'fanout-100-q1', subscribers: 100, qos: 1, messages: 1_500, title: 'fan-out 1 → 100 subscribers, QoS 1' },
  { name: 'fanout-1000-q0', subscribers: 1000, qos: 0, messages: 300, title: 'fan-out 1 → 1,000 subscribers, QoS 0' },
  { name: 'fanout-1000-q1', subscribers: 1000, qos: 1, messages: 150, title: 'fan-out 1 → 1,000 subscribers, QoS 1' },
];

export function caseNamed(name) {
  const found = cases.find((candidate) => candidate.name === name);
  if (!found) throw new Error(`unknown case '${name}' (known: ${cases.map((c) => c.name).join(', ')})`);
  return found;
}
