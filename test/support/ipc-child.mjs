/**
 * A child process for test/integration/bench-child.test.ts: answers its parent through the built
 * dist/cli/bench-child.js (serveParent, notifyParent). With the argument `stubborn`, it never
 * answers `stop` and keeps itself alive, so that only a kill ends it.
 */
import { notifyParent, serveParent } from '../../dist/cli/bench-child.js';

const stubborn = process.argv.includes('stubborn');
if (stubborn) setInterval(() => {}, 1000);

serveParent({
  echo: (args) => args,
  argv: () => process.argv.slice(2),
  hasGc: () => typeof globalThis.gc === 'function',
  print: ({ text }) => {
    process.stdout.write(`${text}\n`);
    return true;
  },
  fail: () => {
    throw new Error('it went wrong');
  },
  never: () => new Promise(() => {}),
  emit: ({ event, data }) => {
    notifyParent(event, data);
    return 'sent';
  },
  exit: ({ code }) => process.exit(code),
  stop: () => (stubborn ? new Promise(() => {}) : 'stopping'),
});
