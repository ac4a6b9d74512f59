// Issue 15 point 2: publishing costs the same with 1 or 100,000 non-matching subscriptions.
// In one process, one hybridwire server (127.0.0.1, port 0) per subscription count (1, 10,000 and
// 100,000 by default: clients of 10,000 subscriptions each, maxSubscriptionsPerPeer), none
// matching what is published. Each round times `server.publish(topic, 64 B, { qos: 0 })` on every
// server, the order rotated each round: to one topic over and over (the broker caches a topic's
// targets) and to a new topic every time (each publish walks the trie). Then the same walk on the
// topic trie alone (TopicTrie.match from the build), the filters inserted directly. Medians of the
// rounds in ns per publish (per match), and medians of the per-round ratios to 1 subscription.
//
//   npx tsc -p tsconfig.build.json
//   node bench/pubsub/match-cost.mjs [--rounds 7] [--publishes 200000] [--subscriptions 1,10000,100000] [--json]
import { setImmediate as turn } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { describe, machine } from '../e2e/machine.mjs';
import { median } from '../e2e/report.mjs';

const { values: args } = parseArgs({
  options: {
    rounds: { type: 'string', default: '7' },
    publishes: { type: 'string', default: '200000' },
    subscriptions: { type: 'string', default: '1,10000,100000' },
    json: { type: 'boolean', default: false },
  },
});
const rounds = Number(args.rounds);
const publishes = Number(args.publishes);
const counts = args.subscriptions.split(',').map(Number);
if (!(rounds > 0 && publishes > 0 && counts.every((n) => Number.isInteger(n) && n > 0))) {
  console.error('--rounds and --publishes must be positive, --subscriptions a list of positive integers');
  process.exit(2);
}
const PER_CLIENT = 10_000; // the default maxSubscriptionsPerPeer
const SUBSCRIBE_BATCH = 500;
const AWAIT_EVERY = 1024;

const api = await import('../../dist/index.js');
const { TopicTrie } = await import('../../dist/pubsub/topic-trie.js');
const log = (line) => process.stderr.write(`${line}\n`);

/** The i-th non-matching filter: exact, single-level and multi-level wildcards, in turn. */
function filterOf(i) {
  switch (i % 5) {
    case 0:
      return `devices/${i}/temperature`;
    case 1:
      return `devices/${i}/+`;
    case 2:
      return `fleet/${i}/#`;
    case 3:
      return `+/${i}/status`;
    default:
      return `sensors/+/${i}`;
  }
}
/** What is published: matches none of the filters above (level 2 is never a number). */
const topicOf = (j) => `devices/x${j}/humidity`;

async function serverWith(subscriptions) {
  const server = api.createServer({ host: '127.0.0.1', tcpPort: 0 });
  server.on('error', () => {});
  const { tcpPort } = await server.listen();
  const clients = [];
  for (let first = 0; first < subscriptions; first += PER_CLIENT) {
    const client = await api.connect({ host: '127.0.0.1', tcpPort });
    client.on('error', () => {});
    clients.push(client);
    const last = Math.min(subscriptions, first + PER_CLIENT);
    for (let i = first; i < last; i += SUBSCRIBE_BATCH) {
      const batch = [];
      for (let k = i; k < Math.min(last, i + SUBSCRIBE_BATCH); k++) batch.push(client.subscribe(filterOf(k), () => {}, { qos: 0 }));
      await Promise.all(batch);
    }
  }
  const held = server.stats().pubsub?.subscriptions;
  if (held !== undefined && held !== subscriptions) throw new Error(`the server holds ${held} subscriptions, not ${subscriptions}`);
  const payload = Buffer.alloc(64, 0x61);
  return {
    subscriptions,
    /** ns per server.publish(), to one topic or a new one each time. */
    async time(distinct, offset) {
      let pending = [];
      const began = process.hrtime.bigint();
      for (let j = 0; j < publishes; j++) {
        pending.push(server.publish(distinct ? topicOf(offset + j) : topicOf(0), payload, { qos: 0 }));
        if (j % AWAIT_EVERY === AWAIT_EVERY - 1) {
          await Promise.all(pending);
          pending = [];
        }
      }
      await Promise.all(pending);
      return Number(process.hrtime.bigint() - began) / publishes;
    },
    async close() {
      await Promise.allSettled(clients.map((client) => client.close()));
      await server.close();
    },
  };
}

function trieWith(subscriptions) {
  const trie = new TopicTrie();
  for (let i = 0; i < subscriptions; i++) trie.set(filterOf(i), `session-${Math.floor(i / PER_CLIENT)}`, {});
  let matched = 0;
  const visit = () => matched++;
  return {
    subscriptions,
    /** ns per match() of a new topic each time (`distinct` is always true for the trie). */
    async time(_distinct, offset) {
      const began = process.hrtime.bigint();
      for (let j = 0; j < publishes; j++) trie.match(topicOf(offset + j), visit);
      const ns = Number(process.hrtime.bigint() - began) / publishes;
      if (matched !== 0) throw new Error(`${matched} filters matched a topic none should match`);
      return ns;
    },
    close: async () => {},
  };
}

/** Rounds over `setups`, order rotated; returns { [subscriptions]: ns[] } per mode. */
async function measure(label, setups, modes) {
  let offset = 0;
  const results = Object.fromEntries(modes.map((mode) => [mode, Object.fromEntries(setups.map((s) => [s.subscriptions, []]))]));
  // Warm-up, untimed, so that the first timed round is not the JIT's.
  for (const mode of modes) for (const setup of setups) await setup.time(mode === 'distinct', (offset += publishes));
  for (let round = 1; round <= rounds; round++) {
    const shift = (round - 1) % setups.length;
    const order = [...setups.slice(shift), ...setups.slice(0, shift)];
    for (const mode of modes) {
      for (const setup of order) {
        await turn();
        const ns = await setup.time(mode === 'distinct', (offset += publishes));
        results[mode][setup.subscriptions].push(ns);
        log(`${label} round ${round} ${mode} ${setup.subscriptions.toLocaleString('en-US')} subscription(s): ${ns.toFixed(0)} ns`);
      }
    }
  }
  return results;
}

const startedOn = machine();
log(`setting up servers with ${counts.map((n) => n.toLocaleString('en-US')).join(', ')} subscriptions`);
const servers = [];
for (const n of counts) servers.push(await serverWith(n));
const server = await measure('server.publish', servers, ['same', 'distinct']);
for (const setup of servers) await setup.close();
const trie = await measure('trie.match', counts.map(trieWith), ['distinct']);

const base = counts[0];
function row(label, series) {
  const cells = counts.map((n) => median(series[n]).toFixed(0));
  const ratios = counts.slice(1).map((n) => `${median(series[n].map((ns, i) => ns / series[base][i])).toFixed(2)}×`);
  return `| ${label} | ${cells.join(' | ')} | ${ratios.join(' | ')} |`;
}
if (args.json) {
  process.stdout.write(`${JSON.stringify({ meta: { ...startedOn, rounds, publishes, counts }, server, trie }, null, 2)}\n`);
} else {
  const header = ['', ...counts.map((n) => `ns, ${n.toLocaleString('en-US')} subscription${n === 1 ? '' : 's'}`), ...counts.slice(1).map((n) => `${n.toLocaleString('en-US')} ÷ ${base.toLocaleString('en-US')}`)];
  process.stdout.write(
    [
      describe(startedOn),
      `command: node bench/pubsub/match-cost.mjs ${process.argv.slice(2).join(' ')}`.trim(),
      `${rounds} rounds of ${publishes.toLocaleString('en-US')} publishes (matches) each, order rotated; medians, and medians of the per-round ratios. No subscription matches the topics published.`,
      '',
      `| ${header.join(' | ')} |`,
      `|${header.map(() => '---').join('|')}|`,
      row('server.publish(), QoS 0, 64 B, one topic over and over', server.same),
      row('server.publish(), QoS 0, 64 B, a new topic each time', server.distinct),
      row('TopicTrie.match() alone, a new topic each time', trie.distinct),
      '',
    ].join('\n'),
  );
}
process.exit(0);
