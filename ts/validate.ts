/** Validation of options, shared by every object that takes them. */
import { OptionError } from './errors.js';

/** Validates an integer option, naming it and its range in the error. */
export function checkInteger(name: string, value: unknown, min: number, max: number): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw new OptionError(`option ${name} must be an integer from ${min} to ${max}, got ${String(value)}`, name);
  }
  return value;
}

export function checkPort(name: string, value: unknown): number {
  return checkInteger(name, value, 0, 65535);
}
