/**
 * server.metricsCsv({ file, intervalMs }): one row of the server's figures per interval, appended
 * to a CSV file (seed 000's CSV export). A new or empty file gets a header line first. Counters are
 * totals since the server started; the *_per_second columns are rates over the last interval.
 */
import { EventEmitter } from 'node:events';
import fs from 'node:fs/promises';
import { HybridwireError } from '../../errors.js';
import { checkInteger } from '../../validate.js';
import { DROP_CAUSES, type MetricsSnapshot } from './snapshot.js';

export interface MetricsCsvOptions {
  /** The file rows are appended to (created if missing). */
  file: string;
  /** Time between rows. Default 1000 ms. */
  intervalMs?: number;
}

interface Column {
  name: string;
  value(now: MetricsSnapshot, previous: MetricsSnapshot | undefined, seconds: number): string | number;
}

const rate = (field: (figures: MetricsSnapshot) => number): Column['value'] => (now, previous, seconds) =>
  previous === undefined || seconds <= 0 ? '' : ((field(now) - field(previous)) / seconds).toFixed(1);

const COLUMNS: Column[] = [
  { name: 'time', value: (now) => new Date(now.time).toISOString() },
  { name: 'uptime_seconds', value: (now) => now.uptimeSeconds.toFixed(3) },
  { name: 'sessions', value: (now) => now.sessions },
  { name: 'handshakes_accepted', value: (now) => now.handshakes.accepted },
  { name: 'handshakes_refused', value: (now) => now.handshakes.refused },
  { name: 'handshakes_failed', value: (now) => now.handshakes.failed },
  ...(['tcp', 'udp'] as const).flatMap((transport): Column[] => [
    { name: `${transport}_messages_in`, value: (now) => now[transport].messagesIn },
    { name: `${transport}_messages_out`, value: (now) => now[transport].messagesOut },
    { name: `${transport}_bytes_in`, value: (now) => now[transport].bytesIn },
    { name: `${transport}_bytes_out`, value: (now) => now[transport].bytesOut },
  ]),
  { name: 'messages_in_per_second', value: rate((figures) => figures.tcp.messagesIn + figures.udp.messagesIn) },
  { name: 'messages_out_per_second', value: rate((figures) => figures.tcp.messagesOut + figures.udp.messagesOut) },
  { name: 'udp_retransmissions', value: (now) => now.retransmissions },
  ...DROP_CAUSES.map((cause): Column => ({ name: `drops_${cause}`, value: (now) => now.drops[cause] })),
  { name: 'rtt_mean_ms', value: (now) => (now.rtt.meanMs === undefined ? '' : now.rtt.meanMs.toFixed(3)) },
];

export const CSV_HEADER = COLUMNS.map((column) => column.name).join(',');

export function csvRow(now: MetricsSnapshot, previous: MetricsSnapshot | undefined): string {
  const seconds = previous === undefined ? 0 : (now.time - previous.time) / 1000;
  return COLUMNS.map((column) => column.value(now, previous, seconds)).join(',');
}

/** A running CSV export; stop() ends it ('stop'). A failed write stops it too, and is emitted as 'error'. */
export class MetricsCsv extends EventEmitter<{ row: [line: string]; error: [error: Error]; stop: [] }> {
  readonly file: string;
  readonly intervalMs: number;
  private readonly timer: NodeJS.Timeout;
  private previous: MetricsSnapshot | undefined;
  /** Writes in order, one at a time; stop() waits for the last. */
  private writing: Promise<void>;
  private stopped = false;
  private failure: Error | undefined;

  constructor(
    options: MetricsCsvOptions,
    private readonly snapshot: () => MetricsSnapshot,
  ) {
    super();
    if (typeof options !== 'object' || options === null || typeof options.file !== 'string' || options.file === '') {
      throw new HybridwireError('HW_ERR_INVALID_ARGUMENT', 'metricsCsv() needs { file } naming the CSV file');
    }
    this.file = options.file;
    this.intervalMs = checkInteger('intervalMs', options.intervalMs ?? 1000, 10, 86_400_000);
    this.writing = this.start();
    this.timer = setInterval(() => this.tick(), this.intervalMs);
    // An export alone keeps no process alive.
    this.timer.unref();
  }

  /** Stops the rows; resolves once the last one is written (rejects with a write's failure). */
  async stop(): Promise<void> {
    if (!this.stopped) this.emit('stop');
    this.stopped = true;
    clearInterval(this.timer);
    await this.writing;
    if (this.failure) throw this.failure;
  }

  private async start(): Promise<void> {
    let size = 0;
    try {
      size = (await fs.stat(this.file)).size;
    } catch {
      // No file yet: it is created with its header.
    }
    if (size === 0) await this.append(`${CSV_HEADER}\n`);
    this.previous = this.snapshot();
  }

  private tick(): void {
    this.writing = this.writing.then(async () => {
      if (this.stopped || this.failure) return;
      const now = this.snapshot();
      const line = csvRow(now, this.previous);
      this.previous = now;
      await this.append(`${line}\n`);
      this.emit('row', line);
    });
  }

  private async append(text: string): Promise<void> {
    try {
      await fs.appendFile(this.file, text);
    } catch (error) {
      this.failure = error as Error;
      if (!this.stopped) this.emit('stop');
      this.stopped = true;
      clearInterval(this.timer);
      if (this.listenerCount('error') > 0) this.emit('error', this.failure);
    }
  }
}
