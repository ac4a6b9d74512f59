// Issue 15 point 2: publishing costs the same with 1 or 100,000 non-matching subscriptions.
// In one process, two hybridwire servers (127.0.0.1, port 0): one whose clients hold 1
// subscription, one whose clients hold 100,000 (10 clients × 10,000, maxSubscriptionsPerPeer),
// none matching what is published. Each round times `server.publish(topic, 64 B, { qos: 0 })` on
// both, in alternating order (A B, B A, ...): once to one topic over and over (the broker caches a
// topic's targets) and once to a new topic every time (each publish walks the trie). Medians of the
// rounds, ns per publish, and the ratio 100,000 ÷ 1.
//
//   npx tsc -p tsconfig.build.json
//   node bench/pubsub/match-cost.mjs [--rounds 7] [--publishes 200000] [--subscriptions 100000] [--json]
import { setImmediate as turn } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { describe, machine } from '../e2e/machine.mjs';
import { median } from '../e2e/report.mjs';

const { values: args } = parseArgs({
  options: {
    rounds: { type: 'string', default: '7' },
    publishes: { type: 'string', default: '200000' },
    subscriptions: { type: 'string', default: '100000' },
    json: { type: 'boolean', default: false },
  },
});
const rounds = Number(args.rounds);
const publishes = Number(args.publishes);
const many = Number(args.subscriptions);
const PER_CLIENT = 10_000; // the default maxSubscriptionsPerPeer
const SUBSCRIBE_BATCH = 500;
const AWAIT_EVERY = 1024;

const api = await import('../../dist/index.js');
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

async function setup(subscriptions) {
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
  return { server, clients, subscriptions };
}

/** ns per server.publish() of `publishes` messages, to one topic or a new one each time. */
async function time({ server }, distinct, offset) {
  const payload = Buffer.alloc(64, 0x61);
  let pending = [];
  const began = process.hrtime.bigint();
  for (let j = 0; j < publishes; j++) {
    const result = server.publish(distinct ? topicOf(offset + j) : topicOf(0), payload, { qos: 0 });
    if (result?.then) pending.push(result);
    if (j % AWAIT_EVERY === AWAIT_EVERY - 1) {
      await Promise.all(pending);
      pending = [];
    }
  }
  await Promise.all(pending);
  return Number(process.hrtime.bigint() - began) / publishes;
}

const startedOn = machine();
log(`setting up: 1 subscription, then ${many.toLocaleString('en-US')}`);
const setups = [await setup(1), await setup(many)];
const results = { one: { same: [], distinct: [] }, many: { same: [], distinct: [] } };
let offset = 0;
// Warm-up, untimed: both modes on both servers, so that the first timed round is not the JIT's.
for (const distinct of [false, true]) {
  for (const entry of setups) {
    await time(entry, distinct, offset);
    offset += publishes;
  }
}
for (let round = 1; round <= rounds; round++) {
  const order = round % 2 ? [0, 1] : [1, 0];
  for (const distinct of [false, true]) {
    for (const index of order) {
      await turn();
      const ns = await time(setups[index], distinct, offset);
      offset += publishes;
      results[index === 0 ? 'one' : 'many'][distinct ? 'distinct' : 'same'].push(ns);
      log(`round ${round} ${distinct ? 'distinct topics' : 'one topic'} ${setups[index].subscriptions.toLocaleString('en-US')} subscription(s): ${ns.toFixed(0)} ns/publish`);
    }
  }
}
for (const { server, clients } of setups) {
  await Promise.allSettled(clients.map((client) => client.close()));
  await server.close();
}

const ratios = (kind) => median(results.many[kind].map((ns, i) => ns / results.one[kind][i]));
if (args.json) {
  process.stdout.write(`${JSON.stringify({ meta: { ...startedOn, rounds, publishes, subscriptions: many }, results }, null, 2)}\n`);
} else {
  const row = (kind, label) => `| ${label} | ${median(results.one[kind]).toFixed(0)} | ${median(results.many[kind]).toFixed(0)} | ${ratios(kind).toFixed(2)}× |`;
  process.stdout.write(
    [
      describe(startedOn),
      `command: node bench/pubsub/match-cost.mjs ${process.argv.slice(2).join(' ')}`.trim(),
      `${rounds} rounds of ${publishes.toLocaleString('en-US')} publishes each, alternating; medians, and the median of the per-round ratios.`,
      '',
      `| server.publish(), QoS 0, 64 B, no subscriber matches | ns/publish, 1 subscription | ns/publish, ${many.toLocaleString('en-US')} subscriptions | ratio |`,
      '|---|---|---|---|',
      row('same', 'one topic, over and over'),
      row('distinct', 'a new topic each time'),
      '',
    ].join('\n'),
  );
}
process.exit(0);
