// A NATS connection through the official Node client (`nats`). NATS has no acknowledged publish
// at its core (QoS 0 only): a publish is buffered by the client, and `flush()` (a PING answered by
// the server) says the server has read everything before it.
import { connect as natsConnect } from 'nats';

export const subject = 'bench.fanout';
const FLUSH_EVERY = 256;

export async function connect({ host, port }) {
  const connection = await natsConnect({ servers: `${host}:${port}`, reconnect: false, timeout: 15_000 });
  let unflushed = [];
  const flushBatch = () => {
    const batch = unflushed;
    unflushed = [];
    connection.flush().then(
      () => batch.forEach((done) => done()),
      (error) => batch.forEach((done) => done(error)),
    );
  };
  return {
    /** Resolves once the server has processed the SUB (a flush after it). */
    async subscribe(qos, onMessage) {
      if (qos !== 0) throw new Error('NATS core has QoS 0 only');
      connection.subscribe(subject, { callback: (error, message) => !error && onMessage(message.data) });
      await connection.flush();
    },
    /** `done` runs once the server has read the message (a flush every FLUSH_EVERY messages). */
    publish(payload, qos, done) {
      connection.publish(subject, payload);
      unflushed.push(done);
      if (unflushed.length >= FLUSH_EVERY) flushBatch();
    },
    async flush() {
      if (unflushed.length > 0) flushBatch();
      await connection.flush();
    },
    close: () => connection.close(),
  };
}
