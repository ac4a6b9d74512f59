import { afterEach, describe, expect, it, vi } from 'vitest';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

// ts/native/addon.ts: the default build, or the one HYBRIDWIRE_ADDON names.
const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const require = createRequire(import.meta.url);

async function loadFresh(addon: string | undefined): Promise<typeof import('../../ts/native/addon.js')> {
  vi.resetModules();
  if (addon === undefined) delete process.env.HYBRIDWIRE_ADDON;
  else process.env.HYBRIDWIRE_ADDON = addon;
  return import('../../ts/native/addon.js');
}

describe('the addon loader', () => {
  const before = process.env.HYBRIDWIRE_ADDON;
  afterEach(() => {
    if (before === undefined) delete process.env.HYBRIDWIRE_ADDON;
    else process.env.HYBRIDWIRE_ADDON = before;
    vi.resetModules();
  });

  it('loads the build HYBRIDWIRE_ADDON names', async () => {
    const file = before ?? path.join(ROOT, 'build', 'Release', 'hybridwire.node');
    const { native } = await loadFresh(path.relative(process.cwd(), file));
    expect(native).toBe(require(file));
    expect(typeof native.crc32c).toBe('function');
  });

  it('without it, finds the prebuilt or local build as node-gyp-build does', async () => {
    const { native } = await loadFresh(undefined);
    expect(native).toBe((require('node-gyp-build') as (dir: string) => unknown)(ROOT));
    const empty = await loadFresh('');
    expect(empty.native).toBe(native);
  });

  it('says which file would not load', async () => {
    await expect(loadFresh(path.join(ROOT, 'no-such-addon.node'))).rejects.toMatchObject({
      code: 'HW_ERR_NATIVE_UNAVAILABLE',
      message: expect.stringContaining('no-such-addon.node'),
    });
  });
});
