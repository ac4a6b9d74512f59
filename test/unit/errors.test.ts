/**
 * ts/errors.ts: the error classes, their names and stable codes, and the codes' documentation.
 */
import fs from 'node:fs';
import path from 'node:path';
import { setTimeout } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { AbortError, FrameError, HybridwireError, OptionError, RemoteError } from '../../ts/errors.js';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

function sourcesUnder(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const full = path.join(dir, entry.name);
    return entry.isDirectory() ? sourcesUnder(full) : entry.name.endsWith('.ts') ? [full] : [];
  });
}

/** The members of the ErrorCode union, read from the source. */
function declaredCodes(): string[] {
  const source = fs.readFileSync(path.join(REPO, 'ts', 'errors.ts'), 'utf8');
  const union = /export type ErrorCode =([^;]+);/.exec(source)![1]!;
  return [...union.matchAll(/'(HW_ERR_[A-Z0-9_]+)'/g)].map((match) => match[1]!);
}

/** Every HW_ERR_ code the library's code names outside errors.ts. */
function usedCodes(): string[] {
  const codes = new Set<string>();
  for (const file of sourcesUnder(path.join(REPO, 'ts'))) {
    if (file.endsWith(`${path.sep}errors.ts`)) continue;
    for (const match of fs.readFileSync(file, 'utf8').matchAll(/'(HW_ERR_[A-Z0-9_]+)'/g)) codes.add(match[1]!);
  }
  return [...codes].sort();
}

describe('HybridwireError', () => {
  it('carries its code, message, name and cause, and is an Error', () => {
    const cause = new Error('underneath');
    const error = new HybridwireError('HW_ERR_CONNECT_FAILED', 'cannot connect', { cause });
    expect(error).toBeInstanceOf(Error);
    expect(error).toMatchObject({ code: 'HW_ERR_CONNECT_FAILED', message: 'cannot connect', name: 'HybridwireError', cause });
    expect(String(error)).toBe('HybridwireError: cannot connect');
    expect(error.stack).toContain('cannot connect');
  });

  it('has no cause unless given one', () => {
    expect(Object.hasOwn(new HybridwireError('HW_ERR_NOT_CONNECTED', 'x'), 'cause')).toBe(false);
  });
});

describe('FrameError', () => {
  it('is a HybridwireError with the offset of the offending frame', () => {
    const error = new FrameError('HW_ERR_BAD_CHECKSUM', 'bad checksum', 48);
    expect(error).toBeInstanceOf(HybridwireError);
    expect(error).toMatchObject({ code: 'HW_ERR_BAD_CHECKSUM', message: 'bad checksum', name: 'FrameError', offset: 48 });
  });
});

describe('OptionError', () => {
  it('always has the code HW_ERR_INVALID_OPTION', () => {
    const error = new OptionError('option windowSize must be an integer from 1 to 1048576, got 0');
    expect(error).toBeInstanceOf(HybridwireError);
    expect(error).toMatchObject({ code: 'HW_ERR_INVALID_OPTION', name: 'OptionError', message: 'option windowSize must be an integer from 1 to 1048576, got 0' });
  });
});

describe('RemoteError', () => {
  it("keeps the peer's code when it is shaped like one of ours", () => {
    for (const code of ['HW_ERR_NO_HANDLER', 'HW_ERR_SEQUENCE', 'HW_ERR_APP_SPECIFIC_2']) {
      const error = new RemoteError(code, 'peer reported: no');
      expect(error).toBeInstanceOf(HybridwireError);
      expect(error).toMatchObject({ code, name: 'RemoteError', message: 'peer reported: no' });
    }
  });

  it('turns any other code into HW_ERR_REMOTE', () => {
    for (const code of ['', 'ENOENT', 'hw_err_lowercase', 'HW_ERR_', 'HW_ERR_BAD-DASH', 'X HW_ERR_NO_HANDLER', 'HW_ERR_NO_HANDLER\n']) {
      expect(new RemoteError(code, 'm').code, JSON.stringify(code)).toBe('HW_ERR_REMOTE');
    }
  });
});

describe('AbortError', () => {
  it("is shaped like Node's own: code ABORT_ERR, name AbortError, a default message, an optional cause", async () => {
    const plain = new AbortError();
    expect(plain).toBeInstanceOf(Error);
    expect(plain).not.toBeInstanceOf(HybridwireError);
    expect(plain).toMatchObject({ code: 'ABORT_ERR', name: 'AbortError', message: 'The operation was aborted' });
    const reason = new Error('user gave up');
    expect(new AbortError('stopped', { cause: reason })).toMatchObject({ message: 'stopped', cause: reason });
    // The same shape as the error Node's own APIs throw on abort.
    const nodes = (await setTimeout(1, undefined, { signal: AbortSignal.abort() }).catch((error: unknown) => error)) as Error & { code: string };
    expect(nodes.name).toBe(plain.name);
    expect(nodes.code).toBe(plain.code);
  });
});

describe('the stable codes', () => {
  it('every code the library uses is a member of ErrorCode', () => {
    const declared = new Set(declaredCodes());
    expect(usedCodes().filter((code) => !declared.has(code))).toEqual([]);
  });

  it('every code the library uses is documented in docs/PROTOCOL.md, section 8', () => {
    const protocol = fs.readFileSync(path.join(REPO, 'docs', 'PROTOCOL.md'), 'utf8');
    const errors = protocol.slice(protocol.indexOf('**Errors.**'), protocol.indexOf('## 9.'));
    expect(errors.length).toBeGreaterThan(100);
    expect(usedCodes().filter((code) => !errors.includes(`\`${code}\``))).toEqual([]);
  });
});
