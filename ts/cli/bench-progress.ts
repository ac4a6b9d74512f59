/**
 * Progress of a `hybridwire bench` run, and the number and table formatting of its output.
 * In a terminal: one line redrawn with \r (bar, percent, current rate). Elsewhere: a plain line
 * about every 500 ms, `progress 40% 1.23M msg/s`. Or nothing.
 */
export type ProgressMode = 'bar' | 'lines' | 'none';

export interface ProgressSample {
  /** 0..1 */
  fraction: number;
  /** Cumulative count the rate is computed from (messages received, requests completed). */
  count: number;
  /** The rate to show instead of the recent one (the final line shows the whole run's). */
  rate?: number;
}

const BAR_INTERVAL_MS = 200;
const LINE_INTERVAL_MS = 500;
/** The rate shown is over about this much recent time. */
const RATE_WINDOW_MS = 1000;

/** 1234567 -> "1.23M", 45210 -> "45.2k", 512 -> "512". */
export function compact(value: number): string {
  if (!Number.isFinite(value)) return '-';
  const abs = Math.abs(value);
  const [scaled, suffix] = abs >= 1e9 ? [value / 1e9, 'G'] : abs >= 1e6 ? [value / 1e6, 'M'] : abs >= 1e3 ? [value / 1e3, 'k'] : [value, ''];
  const digits = Math.abs(scaled) >= 100 ? 0 : Math.abs(scaled) >= 10 ? 1 : 2;
  return `${scaled.toFixed(suffix === '' ? 0 : digits)}${suffix}`;
}

/** 1234567 -> "1,234,567" (rounded). */
export function grouped(value: number): string {
  if (!Number.isFinite(value)) return '-';
  return Math.round(value).toString().replace(/\B(?=(\d{3})+(?!\d))/g, ',');
}

export function fixed(value: number, digits: number): string {
  return Number.isFinite(value) ? value.toFixed(digits) : '-';
}

/** Columns aligned: left for text columns, right for numbers (columns listed in `right`). */
export function table(header: string[], rows: string[][], right: ReadonlySet<number>): string {
  const widths = header.map((cell, column) => Math.max(cell.length, ...rows.map((row) => (row[column] ?? '').length)));
  const line = (cells: string[]) =>
    cells
      .map((cell, column) => (right.has(column) ? cell.padStart(widths[column]!) : cell.padEnd(widths[column]!)))
      .join('  ')
      .trimEnd();
  return [line(header), ...rows.map(line)].join('\n');
}

export class Progress {
  private timer: NodeJS.Timeout | undefined;
  private sampling: Promise<void> | undefined;
  private history: Array<{ at: number; count: number }> = [];
  private drawn = false;
  private lastPercent = -1;

  constructor(
    private readonly mode: ProgressMode,
    private readonly stream: NodeJS.WriteStream,
    private readonly label: string,
    private readonly unit: string,
  ) {}

  /** A status instead of a bar (e.g. while warming up); terminal only. */
  status(text: string): void {
    if (this.mode !== 'bar') return;
    this.draw(`${this.label}  ${text}`);
  }

  /** Samples `sample()` periodically and shows it until stop(). */
  start(sample: () => Promise<ProgressSample> | ProgressSample): void {
    if (this.mode === 'none') return;
    this.history = [];
    const tick = () => {
      if (this.sampling) return;
      this.sampling = Promise.resolve()
        .then(sample)
        .then((value) => this.show(value))
        .catch(() => {})
        .finally(() => (this.sampling = undefined));
    };
    tick();
    this.timer = setInterval(tick, this.mode === 'bar' ? BAR_INTERVAL_MS : LINE_INTERVAL_MS);
    this.timer.unref();
  }

  /** Stops sampling, waiting for a sample in progress. */
  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await this.sampling;
  }

  /** The last line (plain lines only, unless 100% was shown already); the bar is removed. */
  finish(final: ProgressSample | undefined): void {
    if (final && this.mode === 'lines' && this.lastPercent < 100) this.show(final);
    this.clear();
  }

  /** Removes the bar from the terminal line. */
  clear(): void {
    if (this.mode === 'bar' && this.drawn) {
      this.stream.write('\r\x1b[2K');
      this.drawn = false;
    }
  }

  private rate(now: number, count: number): number {
    this.history.push({ at: now, count });
    while (this.history.length > 2 && now - this.history[1]!.at >= RATE_WINDOW_MS) this.history.shift();
    const first = this.history[0]!;
    return now > first.at ? ((count - first.count) * 1000) / (now - first.at) : 0;
  }

  private show({ fraction, count, rate: overall }: ProgressSample): void {
    const now = performance.now();
    const rate = overall ?? this.rate(now, count);
    const percent = Math.floor(Math.min(1, Math.max(0, fraction)) * 100);
    const rateText = this.history.length > 1 || overall !== undefined ? `${compact(rate)} ${this.unit}` : `- ${this.unit}`;
    if (this.mode === 'lines') {
      if (this.history.length < 2 && overall === undefined) return;
      this.lastPercent = percent;
      this.stream.write(`progress ${percent}% ${rateText}\n`);
      return;
    }
    const columns = this.stream.columns || 80;
    const text = `${String(percent).padStart(3)}%  ${rateText}`;
    const width = Math.max(10, Math.min(40, columns - this.label.length - text.length - 8));
    const filled = Math.round((width * percent) / 100);
    this.draw(`${this.label}  [${'#'.repeat(filled)}${'.'.repeat(width - filled)}]  ${text}`);
  }

  private draw(text: string): void {
    const columns = this.stream.columns || 80;
    this.stream.write(`\r\x1b[2K${text.slice(0, columns - 1)}`);
    this.drawn = true;
  }
}
