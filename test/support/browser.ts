/**
 * Headless Chromium for tests of pages (the Debian package chromium, driven by playwright-core):
 * a fresh profile per launch, no network of its own beyond what the page asks of loopback.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chromium, type BrowserContext } from 'playwright-core';

export const CHROMIUM = '/usr/bin/chromium';
export const chromiumFound = fs.existsSync(CHROMIUM);

export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

export interface Browser {
  context: BrowserContext;
  close(): Promise<void>;
}

/** Launches Chromium with a new --user-data-dir, removed again by close(). */
export async function launchChromium(timeoutMs = 30_000): Promise<Browser> {
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'hw-chromium-'));
  // Chromium gets the environment without the sanitizer runtime that scripts/asan-tests.sh
  // preloads into the test processes: it is not the code under test, and does not start with it.
  const { LD_PRELOAD: _preload, ASAN_OPTIONS: _asan, UBSAN_OPTIONS: _ubsan, ...env } = process.env;
  const context = await chromium.launchPersistentContext(profile, { executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS, timeout: timeoutMs, viewport: { width: 1280, height: 900 }, env });
  return {
    context,
    close: async () => {
      await context.close().catch(() => {});
      fs.rmSync(profile, { recursive: true, force: true });
    },
  };
}
