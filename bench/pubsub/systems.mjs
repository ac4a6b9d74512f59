// The systems of the pub/sub benchmark: which broker, which client library, which QoS levels.
export const systems = [
  { name: 'hybridwire', broker: 'hybridwire', client: 'hybridwire', qos: [0, 1], description: 'a hybridwire server; `client.subscribe(filter, handler, { qos })`, `client.publish(topic, payload, { qos })` over TCP' },
  { name: 'aedes', broker: 'aedes', client: 'mqtt', qos: [0, 1], description: 'aedes (npm) on a `net` server in its own Node process; mqtt.js clients, MQTT 3.1.1' },
  { name: 'mosquitto', broker: 'mosquitto', client: 'mqtt', qos: [0, 1], description: 'mosquitto (Debian package), a generated config: one listener on 127.0.0.1, anonymous, no persistence, `max_queued_messages 0`; mqtt.js clients' },
  { name: 'hybridwire-cluster', broker: 'hybridwire-cluster', client: 'hybridwire', qos: [0], optIn: true, description: 'three hybridwire servers in Node processes of their own joined by `createServer({ cluster: { nats } })` over one nats-server; the publisher on the first, subscriber process i on node i mod 3; QoS 0 only (core NATS between nodes)' },
  { name: 'nats', broker: 'nats', client: 'nats', qos: [0], description: 'nats-server (Debian package) with the official Node client `nats`; core NATS has QoS 0 only' },
];

export function systemNamed(name) {
  const found = systems.find((system) => system.name === name);
  if (!found) throw new Error(`unknown system '${name}' (known: ${systems.map((s) => s.name).join(', ')})`);
  return found;
}

/** The client module of a system (loaded in the subscriber and publisher processes). */
export function loadClient(name) {
  return import(`./clients/${systemNamed(name).client}.mjs`);
}
