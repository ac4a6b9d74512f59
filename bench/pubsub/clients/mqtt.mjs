// An MQTT 3.1.1 connection through mqtt.js, the client that drives both MQTT brokers (aedes and
// mosquitto) in the pub/sub benchmark.
import mqtt from 'mqtt';

const CONNECT_TIMEOUT_MS = 15_000;

export const topic = 'bench/fanout';

/** Connects to `mqtt://host:port`; resolves once the broker has accepted the session. */
export async function connect({ host, port }) {
  const client = mqtt.connect({
    host,
    port,
    protocol: 'mqtt',
    protocolVersion: 4,
    clean: true,
    reconnectPeriod: 0,
    connectTimeout: CONNECT_TIMEOUT_MS,
    keepalive: 60,
  });
  await new Promise((resolve, reject) => {
    client.once('connect', resolve);
    client.once('error', reject);
    client.once('close', () => reject(new Error('mqtt: closed before CONNACK')));
  });
  client.removeAllListeners('error');
  client.on('error', () => {});
  return {
    /** Resolves when the broker has confirmed the subscription (SUBACK). */
    subscribe(qos, onMessage) {
      client.on('message', (_topic, payload) => onMessage(payload));
      return new Promise((resolve, reject) => {
        client.subscribe(topic, { qos }, (error, granted) => {
          if (error) reject(error);
          else if (granted?.[0]?.qos === 128) reject(new Error('mqtt: subscription refused'));
          else resolve();
        });
      });
    },
    /** `done` runs once the packet is written (QoS 0) or acknowledged (QoS 1). */
    publish(payload, qos, done) {
      client.publish(topic, payload, { qos }, done);
    },
    flush: () => Promise.resolve(),
    close: () => new Promise((resolve) => client.end(true, {}, () => resolve())),
  };
}
