import { describe, expect, it } from 'vitest';
import { checkLogger, errorFields } from '../../ts/features/logging/logger.js';
import { HybridwireError, OptionError } from '../../ts/errors.js';
import { RecordingLogger } from '../support/recording-logger.js';

describe('checkLogger', () => {
  it('takes undefined (silent) and anything with info, warn, error, debug and child', () => {
    expect(checkLogger(undefined)).toBeUndefined();
    const logger = new RecordingLogger();
    expect(checkLogger(logger)).toBe(logger);
  });

  it.each([null, 42, {}, { info() {}, warn() {}, error() {}, debug() {}, child: 'no' }])('refuses %j, naming the option and what is missing', (value) => {
    expect(() => checkLogger(value)).toThrow(OptionError);
    expect(() => checkLogger(value)).toThrow(/option logger must be a pino-compatible logger with info, warn, error, debug, child methods; it has no/);
  });
});

describe('errorFields', () => {
  it("gives an error's code and message, and nothing for no error", () => {
    expect(errorFields(new HybridwireError('HW_ERR_HEARTBEAT_TIMEOUT', 'silent peer'))).toEqual({ code: 'HW_ERR_HEARTBEAT_TIMEOUT', reason: 'silent peer' });
    expect(errorFields(new Error('plain'))).toEqual({ reason: 'plain' });
    expect(errorFields(undefined)).toEqual({});
  });
});
