import { describe, expect, it } from 'vitest';
import { OptionError } from '../../ts/errors.js';
import { checkInteger, checkPort } from '../../ts/validate.js';

describe('checkInteger', () => {
  it('returns an integer within the range, bounds included', () => {
    expect([checkInteger('n', 1, 1, 3), checkInteger('n', 3, 1, 3)]).toEqual([1, 3]);
  });

  it.each([0, 4, 1.5, Number.NaN, Infinity, '2', null, undefined])('refuses %s with an OptionError naming the option and the range', (value) => {
    expect(() => checkInteger('count', value, 1, 3)).toThrow(OptionError);
    expect(() => checkInteger('count', value, 1, 3)).toThrow(`option count must be an integer from 1 to 3, got ${String(value)}`);
  });
});

describe('checkPort', () => {
  it('takes 0 to 65535', () => {
    expect(checkPort('tcpPort', 0)).toBe(0);
    expect(checkPort('tcpPort', 65535)).toBe(65535);
    expect(() => checkPort('tcpPort', 65536)).toThrow(expect.objectContaining({ code: 'HW_ERR_INVALID_OPTION' }));
  });
});
