/**
 * The `logger` option: any pino-compatible logger (pino itself, or an object with its five
 * methods). Servers and clients are silent without one, and then do no logging work at all.
 */
import { OptionError } from '../../errors.js';

export type LogMethod = (fields: Record<string, unknown>, message?: string) => void;

export interface Logger {
  info: LogMethod;
  warn: LogMethod;
  error: LogMethod;
  debug: LogMethod;
  child(bindings: Record<string, unknown>): Logger;
}

const METHODS = ['info', 'warn', 'error', 'debug', 'child'] as const;

/** The option's value, checked at construction: undefined (silent) or a logger with every method. */
export function checkLogger(value: unknown): Logger | undefined {
  if (value === undefined) return undefined;
  const missing = METHODS.filter((method) => typeof (value as Record<string, unknown> | null)?.[method] !== 'function');
  if (missing.length > 0) {
    throw new OptionError(`option logger must be a pino-compatible logger with ${METHODS.join(', ')} methods; it has no ${missing.join(', ')}`, 'logger');
  }
  return value as Logger;
}

/** The fields that describe an error in a log line: its code (HW_ERR_...) and message. */
export function errorFields(error: Error | undefined): Record<string, unknown> {
  if (error === undefined) return {};
  const code = (error as { code?: unknown }).code;
  return { ...(typeof code === 'string' ? { code } : {}), reason: error.message };
}
