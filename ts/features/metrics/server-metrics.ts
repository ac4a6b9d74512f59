/**
 * Metrics of one server, pull-style: nothing is counted per message here that the server does not
 * count already (handler calls included: see session/handler-calls.ts). Figures are
 * gathered when read: snapshot() for the CSV file, summary, `hybridwire top` and the dashboard,
 * and prom-client's collect() callbacks at each scrape.
 */
import type { EventEmitter } from 'node:events';
import { Registry } from 'prom-client';
import type { Peer } from '../../api/peer.js';
import type { ServerStats } from '../../api/server.js';
import { SAMPLE_EVERY, type DurationSink, type TypeCount } from '../../session/handler-calls.js';
import { PlainHistogram, type HistogramSeries } from './histogram.js';
import { registerServerMetrics } from './prometheus.js';
import { emptyDrops, type MetricsSnapshot, type SessionShare } from './snapshot.js';

export interface MetricsOptions {
  /** A prom-client Registry the application already has; the server's metrics are registered in it. Default: one of the server's own. */
  registry?: Registry;
}

/** What the metrics read of the server. */
export interface MetricsHost extends EventEmitter {
  stats(): ServerStats;
  readonly peers: ReadonlyMap<string, Peer>;
}

/** The handler table, which counts its handlers' calls and times a sample of them once asked to. */
export interface InstrumentedHandlers {
  timeWith(sinkFor: (type: string) => DurationSink): void;
  callCounts(): TypeCount[];
}

const RTT_BUCKETS = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];
const HANDLER_BUCKETS = [0.000001, 0.000005, 0.00001, 0.00005, 0.0001, 0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5];

export class ServerMetrics {
  readonly registry: Registry;
  /** Names of the metrics this server registered, for metrics() to print them alone. */
  readonly names: string[];
  private readonly rtt: HistogramSeries;
  private accepted = 0;
  private failed = 0;
  /** What ended sessions counted (retransmissions, drops): counters never go back. */
  private readonly retired: SessionShare = { retransmissions: 0, drops: emptyDrops() };
  /** One snapshot per scrape: prom-client asks every metric's collect() in turn. */
  private cached: MetricsSnapshot | undefined;

  constructor(
    private readonly server: MetricsHost,
    private readonly handlers: InstrumentedHandlers,
    options: MetricsOptions = {},
  ) {
    this.registry = options.registry ?? new Registry();
    const registers = [this.registry];
    const rttHistogram = new PlainHistogram('hybridwire_rtt_seconds', 'Heartbeat round-trip time of the sessions, in seconds.', RTT_BUCKETS);
    const handlerHistogram = new PlainHistogram(
      'hybridwire_handler_duration_seconds',
      `Time spent in message handlers, by message type, in seconds (a sample is timed: one call in ${SAMPLE_EVERY}, fewer for a busy type, about one a millisecond at the most; asynchronous handlers until they settle).`,
      HANDLER_BUCKETS,
      'type',
    );
    rttHistogram.register(this.registry);
    handlerHistogram.register(this.registry);
    this.rtt = rttHistogram.seriesFor();
    handlers.timeWith((type) => handlerHistogram.seriesFor(type));
    this.names = ['hybridwire_rtt_seconds', 'hybridwire_handler_duration_seconds', ...registerServerMetrics(registers, () => this.scrape())];

    // Turned on while sessions are open: they count as accepted, and their round trips are timed.
    for (const peer of server.peers.values()) this.track(peer);
    server.on('connection', (peer: Peer) => this.track(peer));
    server.on('disconnect', (peer: Peer) => addShare(this.retired, peer));
    server.on('peerError', (peer: Peer | undefined) => {
      // An error before the session opened is a failed handshake.
      if (peer === undefined || server.peers.get(peer.id) !== peer) this.failed++;
    });
  }

  private readonly observeRtt = (rttMs: number): void => this.rtt.observe(rttMs / 1000);

  private track(peer: Peer): void {
    this.accepted++;
    peer.connection.rttObserver = this.observeRtt;
  }

  /** The server's figures now. */
  snapshot(): MetricsSnapshot {
    const stats = this.server.stats();
    const share: SessionShare = { retransmissions: this.retired.retransmissions, drops: { ...this.retired.drops } };
    let rttSum = 0;
    let rttCount = 0;
    for (const peer of this.server.peers.values()) {
      addShare(share, peer);
      const rtt = peer.rttMs;
      if (rtt !== undefined) {
        rttSum += rtt;
        rttCount++;
      }
    }
    const drops = share.drops;
    drops.unauthenticated += stats.udp.droppedUnauthenticated;
    drops.malformed += stats.udp.droppedMalformed;
    drops.socket_queue += stats.udpSocket?.queueDrops ?? 0;
    drops.broadcast += stats.broadcastDrops;
    return {
      time: Date.now(),
      uptimeSeconds: stats.uptimeMs / 1000,
      sessions: stats.connectedClients,
      handshakes: { accepted: this.accepted, refused: stats.refusedConnections, failed: this.failed },
      tcp: { messagesIn: stats.tcp.messagesIn, messagesOut: stats.tcp.messagesOut, bytesIn: stats.tcp.bytesIn, bytesOut: stats.tcp.bytesOut },
      udp: { messagesIn: stats.udp.messagesIn, messagesOut: stats.udp.messagesOut, bytesIn: stats.udp.bytesIn, bytesOut: stats.udp.bytesOut },
      drops,
      retransmissions: share.retransmissions,
      rtt: { samples: this.rtt.count, sumSeconds: this.rtt.sum, meanMs: rttCount === 0 ? undefined : rttSum / rttCount },
      types: this.handlers.callCounts(),
    };
  }

  /** The server's metrics in the Prometheus text format (only this server's, whatever else the registry holds). */
  async text(): Promise<string> {
    const parts = await Promise.all(this.names.map((name) => this.registry.getSingleMetricAsString(name)));
    return `${parts.join('\n')}\n`;
  }

  private scrape(): MetricsSnapshot {
    if (this.cached === undefined) {
      this.cached = this.snapshot();
      // Every collect() of one scrape runs before the next turn of the event loop.
      setImmediate(() => (this.cached = undefined));
    }
    return this.cached;
  }
}

/** Adds a session's reliable-UDP retransmissions and drops, and its malformed UDP messages. */
function addShare(share: SessionShare, peer: Peer): void {
  share.drops.malformed += peer.connection.counters.udp.dropped;
  const udp = peer.udpStats();
  if (udp === undefined) return;
  share.retransmissions += udp.retransmissions;
  const drops = share.drops;
  drops.malformed += udp.drops.malformed;
  drops.bad_checksum += udp.drops.badChecksum;
  drops.duplicate += udp.drops.duplicate;
  drops.stale += udp.drops.stale;
  drops.window_overflow += udp.drops.windowOverflow;
  drops.reassembly_overflow += udp.drops.reassemblyOverflow;
  drops.expired += udp.drops.expired;
  drops.send_buffer += udp.drops.sendBuffer;
}
