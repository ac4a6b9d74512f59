import { describe, expect, it } from 'vitest';
import { keyLines, lineOf } from '../../ts/config/toml-lines.js';

describe('keyLines', () => {
  it('finds bare, quoted and dotted keys, and keys under table headers', () => {
    const lines = keyLines(['# comment', 'tcpPort = 1', '"host" = "x" # trailing', 'a.b = 2', '', '[reconnect]', '  maxAttempts=3', '[ "x" . y ]', 'z = 1'].join('\n'));
    expect(Object.fromEntries(lines)).toEqual({ tcpPort: 2, host: 3, 'a.b': 4, reconnect: 6, 'reconnect.maxAttempts': 7, 'x.y': 8, 'x.y.z': 9 });
  });

  it('skips the lines inside multi-line strings and arrays', () => {
    const lines = keyLines(['s = """', 'fake = 1', '"""', 'list = [', '  "fake2 = 2",', ']', 'real = 3'].join('\r\n'));
    expect(Object.fromEntries(lines)).toEqual({ s: 1, list: 4, real: 7 });
  });

  it('places a key of an inline table at the line of its table', () => {
    const lines = keyLines('reconnect = { maxAttempts = 3 }\n');
    expect(lineOf(lines, 'reconnect.maxAttempts')).toBe(1);
    expect(lineOf(lines, 'other')).toBeUndefined();
  });
});
