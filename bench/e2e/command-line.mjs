// The command line shared by the benchmark runners (bench/e2e/run.mjs, bench/e2e/reliable-udp.mjs,
// bench/pubsub/run.mjs): the options every runner takes, a saved run printed again, the loopback
// rule, and the parsers of list and number values.
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';

/** The options every runner takes. */
const COMMON_OPTIONS = {
  quick: { type: 'boolean', default: false },
  json: { type: 'boolean', default: false },
  cases: { type: 'string' },
  systems: { type: 'string' },
  rounds: { type: 'string' },
  'from-json': { type: 'string' },
  help: { type: 'boolean', default: false },
};

/** Parses process.argv with the common options and the runner's own. */
export function parseRunnerArgs(options) {
  return parseArgs({ options: { ...COMMON_OPTIONS, ...options } }).values;
}

/** With --from-json FILE: prints the tables of a saved --json run with `render` and exits. */
export function printSavedRun(args, render) {
  if (!args['from-json']) return;
  process.stdout.write(`${render(JSON.parse(readFileSync(args['from-json'], 'utf8')))}\n`);
  process.exit(0);
}

/** Exits unless `host` is a loopback address: the benchmarks send traffic nowhere else. */
export function requireLoopback(host) {
  if (host === '127.0.0.1' || host === '::1') return;
  console.error('--host must be 127.0.0.1 or ::1: these benchmarks only send traffic over loopback');
  process.exit(2);
}

/** `a, b,c` -> ['a', 'b', 'c']. */
export const list = (value) => value.split(',').map((item) => item.trim()).filter(Boolean);

/** The option's number, or `fallback` when it was not given. */
export const number = (value, fallback) => (value === undefined ? fallback : Number(value));
