/**
 * The server's counters and gauges in prom-client, read at scrape time: each collect() callback
 * copies a figure of the scrape's snapshot (a counter is reset, then raised to the total counted
 * elsewhere: prom-client counters have no set()). Names follow Prometheus conventions: the prefix
 * hybridwire_, base units (seconds, bytes), _total on counters.
 */
import { Counter, Gauge, type Registry } from 'prom-client';
import { DROP_CAUSES, type MetricsSnapshot, type TransportFigures } from './snapshot.js';

const TRANSPORTS = ['tcp', 'udp'] as const;

/** Registers the metrics; returns their names. */
export function registerServerMetrics(registers: Registry[], snapshot: () => MetricsSnapshot): string[] {
  const perTransport = (name: string, help: string, field: keyof TransportFigures) =>
    new Counter({
      name,
      help,
      labelNames: ['transport'],
      registers,
      collect() {
        const figures = snapshot();
        this.reset();
        for (const transport of TRANSPORTS) this.inc({ transport }, figures[transport][field]);
      },
    });
  const metrics = [
    new Gauge({
      name: 'hybridwire_sessions',
      help: 'Sessions open now.',
      registers,
      collect() {
        this.set(snapshot().sessions);
      },
    }),
    new Counter({
      name: 'hybridwire_handshakes_total',
      help: 'Handshakes by result: accepted (a session opened), refused (server full, version mismatch...), failed (a protocol error or timeout before the session opened).',
      labelNames: ['result'],
      registers,
      collect() {
        const { handshakes } = snapshot();
        this.reset();
        for (const result of ['accepted', 'refused', 'failed'] as const) this.inc({ result }, handshakes[result]);
      },
    }),
    perTransport('hybridwire_messages_received_total', 'Messages received, by transport.', 'messagesIn'),
    perTransport('hybridwire_messages_sent_total', 'Messages sent, by transport.', 'messagesOut'),
    perTransport('hybridwire_received_bytes_total', 'Bytes received, by transport.', 'bytesIn'),
    perTransport('hybridwire_sent_bytes_total', 'Bytes sent, by transport.', 'bytesOut'),
    new Counter({
      name: 'hybridwire_drops_total',
      help: 'Datagrams, frames or messages dropped, by cause: unauthenticated, malformed, bad_checksum, duplicate, stale, window_overflow, reassembly_overflow, expired, send_buffer, socket_queue, broadcast.',
      labelNames: ['cause'],
      registers,
      collect() {
        const { drops } = snapshot();
        this.reset();
        for (const cause of DROP_CAUSES) this.inc({ cause }, drops[cause]);
      },
    }),
    new Counter({
      name: 'hybridwire_udp_retransmissions_total',
      help: 'Reliable-UDP frames sent again.',
      registers,
      collect() {
        this.reset();
        this.inc(snapshot().retransmissions);
      },
    }),
    new Counter({
      name: 'hybridwire_handled_messages_total',
      help: 'Messages given to a handler, by message type (since metrics were turned on).',
      labelNames: ['type'],
      registers,
      collect() {
        this.reset();
        for (const { type, messages } of snapshot().types) this.inc({ type }, messages);
      },
    }),
    new Gauge({
      name: 'hybridwire_uptime_seconds',
      help: 'Time since the server started listening.',
      registers,
      collect() {
        this.set(snapshot().uptimeSeconds);
      },
    }),
  ];
  return metrics.map((metric) => (metric as unknown as { name: string }).name);
}
