/**
 * `hybridwire sub` and `hybridwire pub`, as mosquitto_sub and mosquitto_pub:
 *
 *   hybridwire sub --host H --tcp-port N TOPIC [--qos Q]
 *     prints {"event":"subscribed"} once the server confirms, then one JSON line per message
 *     ({"topic","payload","qos","retain"}; a binary payload as its UTF-8 text), until SIGINT/SIGTERM.
 *   hybridwire pub --host H --tcp-port N TOPIC MESSAGE [--qos Q] [--retain]
 *     publishes MESSAGE (its UTF-8 bytes) and exits once the server has taken it as the QoS requires.
 */
import { parseArgs } from 'node:util';
import { connect } from '../api/client.js';
import type { PubsubMessage, QoS } from '../pubsub/wire.js';
import { DEFAULT_TOPIC_LIMITS, checkTopic, parseFilter } from '../pubsub/topics.js';

const SUB_USAGE = 'usage: hybridwire sub --host H --tcp-port N TOPIC [--qos 0|1|2]';
const PUB_USAGE = 'usage: hybridwire pub --host H --tcp-port N TOPIC MESSAGE [--qos 0|1|2] [--retain]';

function qosOf(value: string | undefined): QoS {
  if (value === undefined) return 0;
  if (value !== '0' && value !== '1' && value !== '2') throw new Error(`--qos must be 0, 1 or 2, got '${value}'`);
  return Number(value) as QoS;
}

function portOf(value: string | undefined): number {
  if (value === undefined) return 5000;
  const number = /^\d{1,5}$/.test(value) ? Number(value) : NaN;
  if (!(number >= 0 && number <= 65535)) throw new Error(`--tcp-port must be a port number from 0 to 65535, got '${value}'`);
  return number;
}

/** A message as one JSON line: bytes as their UTF-8 text, JSON values as they are. */
export function messageLine(message: PubsubMessage): string {
  const payload = message.payload instanceof Uint8Array ? Buffer.from(message.payload).toString('utf8') : (message.payload ?? null);
  return JSON.stringify({ topic: message.topic, payload, qos: message.qos, retain: message.retain });
}

export async function pubsubCommand(command: 'sub' | 'pub', args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    options: { host: { type: 'string' }, 'tcp-port': { type: 'string' }, qos: { type: 'string' }, retain: { type: 'boolean' } },
    strict: true,
    allowPositionals: true,
  });
  const qos = qosOf(values.qos);
  const target = { host: values.host ?? '127.0.0.1', tcpPort: portOf(values['tcp-port']), udpPort: false as const };
  if (command === 'sub') {
    if (positionals.length !== 1 || values.retain !== undefined) throw new Error(SUB_USAGE);
    parseFilter(positionals[0], DEFAULT_TOPIC_LIMITS);
    return subscribe(target, positionals[0]!, qos);
  }
  if (positionals.length !== 2) throw new Error(PUB_USAGE);
  checkTopic(positionals[0], DEFAULT_TOPIC_LIMITS);
  const client = await connect(target);
  try {
    await client.publish(positionals[0]!, Buffer.from(positionals[1]!, 'utf8'), { qos, retain: values.retain === true });
  } finally {
    await client.close();
  }
  return 0;
}

async function subscribe(target: { host: string; tcpPort: number; udpPort: false }, filter: string, qos: QoS): Promise<number> {
  const client = await connect(target);
  let finish!: (code: number) => void;
  const finished = new Promise<number>((resolve) => (finish = resolve));
  const quit = () => finish(0);
  process.once('SIGINT', quit);
  process.once('SIGTERM', quit);
  client.once('close', () => {
    process.stderr.write(`hybridwire sub: the server at ${target.host}:${target.tcpPort} closed the session\n`);
    finish(1);
  });
  try {
    await client.subscribe(filter, (message) => process.stdout.write(`${messageLine(message)}\n`), { qos });
  } catch (error) {
    process.off('SIGINT', quit);
    process.off('SIGTERM', quit);
    await client.close();
    throw error;
  }
  process.stdout.write('{"event":"subscribed"}\n');
  const code = await finished;
  process.off('SIGINT', quit);
  process.off('SIGTERM', quit);
  await client.close();
  return code;
}
