/**
 * A pino-compatible logger that records what it is told, with the bindings of the child it was
 * told through, for tests of what servers and clients log.
 */
export interface LogRecord {
  level: 'info' | 'warn' | 'error' | 'debug';
  message: string | undefined;
  /** The child's bindings, then the call's fields. */
  fields: Record<string, unknown>;
}

export class RecordingLogger {
  /** Children share the records and the waiters of the logger they came from. */
  constructor(
    readonly records: LogRecord[] = [],
    private readonly bindings: Record<string, unknown> = {},
    private readonly waiters = new Set<() => void>(),
  ) {}

  info(fields: Record<string, unknown>, message?: string): void {
    this.record('info', fields, message);
  }
  warn(fields: Record<string, unknown>, message?: string): void {
    this.record('warn', fields, message);
  }
  error(fields: Record<string, unknown>, message?: string): void {
    this.record('error', fields, message);
  }
  debug(fields: Record<string, unknown>, message?: string): void {
    this.record('debug', fields, message);
  }
  child(bindings: Record<string, unknown>): RecordingLogger {
    return new RecordingLogger(this.records, { ...this.bindings, ...bindings }, this.waiters);
  }

  /** The records of one event (the `event` field). */
  of(event: string): LogRecord[] {
    return this.records.filter((record) => record.fields.event === event);
  }

  /** Resolves at the first record of `event`; rejects after `timeoutMs`. */
  waitFor(event: string, timeoutMs = 5000): Promise<LogRecord> {
    return new Promise((resolve, reject) => {
      const check = () => {
        const found = this.of(event)[0];
        if (found === undefined) return;
        clearTimeout(timer);
        this.waiters.delete(check);
        resolve(found);
      };
      const timer = setTimeout(() => {
        this.waiters.delete(check);
        reject(new Error(`no '${event}' log record within ${timeoutMs} ms; got ${JSON.stringify(this.records)}`));
      }, timeoutMs);
      this.waiters.add(check);
      check();
    });
  }

  private record(level: LogRecord['level'], fields: Record<string, unknown>, message: string | undefined): void {
    this.records.push({ level, message, fields: { ...this.bindings, ...fields } });
    this.wake();
  }

  private wake(): void {
    for (const waiter of [...this.waiters]) waiter();
  }
}
