import { describe, expect, it } from 'vitest';
import { checkLocalPath, isNamedPipe } from '../../ts/transport/local-socket.js';

describe('checkLocalPath', () => {
  it('takes socket paths up to the sun_path limit on Unix', () => {
    expect(checkLocalPath('path', '/run/app.sock', 'linux')).toBe('/run/app.sock');
    const longest = `/${'a'.repeat(process.platform === 'linux' ? 106 : 102)}`;
    expect(checkLocalPath('path', longest)).toBe(longest);
    expect(() => checkLocalPath('path', `${longest}b`)).toThrow(/at most 10[37] bytes/);
  });

  it('refuses what is not a path', () => {
    for (const bad of ['', 'a\0b', 5, undefined, null]) {
      expect(() => checkLocalPath('path', bad, 'linux')).toThrow(expect.objectContaining({ code: 'HW_ERR_INVALID_OPTION', option: 'path' }));
    }
  });

  it('takes only named pipes on Windows', () => {
    expect(checkLocalPath('path', '\\\\.\\pipe\\hybridwire', 'win32')).toBe('\\\\.\\pipe\\hybridwire');
    expect(checkLocalPath('path', '\\\\?\\pipe\\hybridwire', 'win32')).toBe('\\\\?\\pipe\\hybridwire');
    expect(() => checkLocalPath('path', 'C:\\temp\\app.sock', 'win32')).toThrow(/named pipe/);
    expect(() => checkLocalPath('path', '\\\\.\\pipe\\', 'win32')).toThrow(/named pipe/);
    expect(() => checkLocalPath('path', `\\\\.\\pipe\\${'p'.repeat(300)}`, 'win32')).toThrow(/256 characters/);
  });

  it('tells pipe names from file paths', () => {
    expect(isNamedPipe('\\\\.\\pipe\\x')).toBe(true);
    expect(isNamedPipe('/tmp/x.sock')).toBe(false);
  });
});
