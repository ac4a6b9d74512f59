import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

// The table that gives each distinct sender of a received batch its index
// (native/binding/udp-senders.h), driven from C++ (test/support/udp-senders-driver.cc) since it
// counts the comparisons a lookup costs. A batch holds up to 1024 datagrams, from as many
// senders: looking each up by scanning the ones before it cost half a million comparisons.

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const DRIVER_SOURCE = path.join(ROOT, 'test/support/udp-senders-driver.cc');

const compiler = spawnSync('c++', ['--version']);
const unavailable = compiler.error !== undefined ? `no C++ compiler (c++: ${compiler.error.message})` : undefined;
if (unavailable) console.warn(`SKIPPING the sender table tests: ${unavailable}. Install g++ or clang to run them.`);

describe.skipIf(unavailable !== undefined)('the sender table of a received batch', () => {
  let directory: string;
  let driver: string;

  beforeAll(() => {
    directory = mkdtempSync(path.join(tmpdir(), 'hybridwire-senders-'));
    driver = path.join(directory, 'udp-senders-driver');
    const build = spawnSync('c++', ['-std=c++17', '-O1', '-I', path.join(ROOT, 'native'), DRIVER_SOURCE, '-o', driver], { encoding: 'utf8' });
    if (build.status !== 0) throw new Error(`cannot build ${DRIVER_SOURCE}: ${build.stderr}`);
  });

  afterAll(() => rmSync(directory, { recursive: true, force: true }));

  function comparisons(family: 4 | 6, senders: number, rounds: number): number {
    const run = spawnSync(driver, [String(family), String(senders), String(rounds)], { encoding: 'utf8' });
    if (run.status !== 0) throw new Error(`the driver failed (${String(run.status)}): ${run.stderr}`);
    return Number(run.stdout.trim());
  }

  it.each([4, 6] as const)('gives each of 1024 IPv%i senders its own index in a number of comparisons linear in the senders', (family) => {
    // Every sender is looked up twice, as a batch of two datagrams from each would.
    const cost = comparisons(family, 1024, 2);
    expect(cost).toBeLessThanOrEqual(4 * 2 * 1024);
  });

  it('looks a run from one sender up with one comparison a datagram', () => {
    expect(comparisons(4, 1, 1024)).toBe(1023);
    expect(comparisons(6, 1, 1024)).toBe(1023);
  });
});
