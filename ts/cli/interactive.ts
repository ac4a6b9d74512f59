import readline from 'node:readline';
import { connect, type Client } from '../api/client.js';
import type { DeliveryMode } from '../session/handshake.js';
import type { Payload } from '../session/message.js';
import type { ClientTlsOptions } from '../transport/tls.js';

export interface InteractiveOptions {
  host: string;
  tcpPort: number;
  udpPort: number | undefined;
  /** A server's local socket (--path) instead of host and ports. */
  path?: string;
  mode: DeliveryMode;
  windowSize: number | undefined;
  /** TLS; plaintext without. */
  tls?: ClientTlsOptions;
}

const HELP = '/ping  /echo TEXT  /broadcast TEXT  /stats  /custom TYPE JSON  /udp TEXT  /exit  (other text is sent as chat)';

function show(text: string): void {
  process.stdout.write(`${text}\n`);
}

function format(payload: Payload): string {
  return payload instanceof Uint8Array ? `<${payload.length} bytes>` : JSON.stringify(payload);
}

/**
 * A relayed broadcast names its sender (docs/PROTOCOL.md, section 9): JSON ones as `{ from,
 * payload }`, binary ones as a u8 length and that many bytes of the sender's id before the payload.
 */
function describeBroadcast(message: Payload): string {
  if (message instanceof Uint8Array) {
    const idEnd = Math.min(message.length, 1 + (message[0] ?? 0));
    const from = Buffer.from(message.buffer, message.byteOffset, message.length).toString('utf8', 1, idEnd);
    return `[broadcast from ${from.slice(0, 8)}] <${message.length - idEnd} bytes>`;
  }
  const { from, payload } = (message ?? {}) as { from?: unknown; payload?: { text?: unknown } | null };
  const text = typeof payload?.text === 'string' ? payload.text : format(payload as Payload);
  return `[broadcast from ${typeof from === 'string' ? from.slice(0, 8) : '?'}] ${text}`;
}

/** Runs one command line; returns false when the session should end. */
async function run(client: Client, input: string): Promise<boolean> {
  const line = input.trim();
  if (line === '') return true;
  if (!line.startsWith('/')) {
    client.send('chat', { text: line });
    return true;
  }
  const space = line.indexOf(' ');
  const command = space < 0 ? line : line.slice(0, space);
  const argument = space < 0 ? '' : line.slice(space + 1).trim();
  switch (command) {
    case '/exit':
    case '/quit':
      return false;
    case '/help':
      show(HELP);
      return true;
    case '/ping': {
      const rtt = await client.ping({ timeoutMs: 5000 });
      show(`pong (${rtt.toFixed(2)} ms)`);
      return true;
    }
    case '/echo':
      show(`echo: ${format(await client.request('echo', argument, { timeoutMs: 5000 }))}`);
      return true;
    case '/broadcast': {
      const count = await client.request('broadcast', { text: argument }, { timeoutMs: 5000 });
      show(`broadcast sent to ${format(count)} other client(s)`);
      return true;
    }
    case '/stats':
      show(`stats: ${JSON.stringify(await client.request('stats', undefined, { timeoutMs: 5000 }))}`);
      return true;
    case '/custom': {
      const match = /^(\S+)\s*(.*)$/.exec(argument);
      if (!match) {
        show('usage: /custom TYPE JSON');
        return true;
      }
      let payload: Payload;
      try {
        payload = match[2] === '' ? undefined : (JSON.parse(match[2]!) as Payload);
      } catch {
        show(`not valid JSON: ${match[2]}`);
        return true;
      }
      try {
        show(`reply: ${format(await client.request(match[1]!, payload, { timeoutMs: 5000 }))}`);
      } catch (error) {
        show(`error ${(error as { code?: string }).code ?? ''}: ${(error as Error).message}`);
      }
      return true;
    }
    case '/udp':
      client.send('chat', { text: argument }, { transport: 'udp' });
      show(client.udpReady ? 'sent over UDP' : 'sent over UDP (no UDP reply from the server yet)');
      return true;
    default:
      show(`unknown command ${command}; ${HELP}`);
      return true;
  }
}

/** The interactive client: reads commands from stdin, prints replies and incoming messages. */
export async function interactive(options: InteractiveOptions): Promise<number> {
  const client = await connect({
    ...(options.path === undefined ? { host: options.host, tcpPort: options.tcpPort } : { path: options.path }),
    ...(options.udpPort === undefined ? {} : { udpPort: options.udpPort }),
    mode: options.mode,
    ...(options.windowSize === undefined ? {} : { windowSize: options.windowSize }),
    reconnect: { maxAttempts: 5 },
    ...(options.tls ? { tls: options.tls } : {}),
  });
  show(`connected to ${options.path ?? `${options.host}:${options.tcpPort}`} (session ${client.sessionId}, mode ${options.mode}); ${HELP}`);
  const server = client.certificate;
  if (client.encrypted) show(`over TLS; the server's certificate: ${server ? `${JSON.stringify(server.subject)}, key pin ${server.pin}` : 'not verified'}`);
  client.handle<{ text?: string }>('chat_response', (message) => show(message?.text ?? format(message as Payload)));
  client.handle<{ from?: string; text?: string }>('chat', (message) => show(`[${message?.from ?? '?'}] ${message?.text ?? ''}`));
  client.handle<Payload>('broadcast', (message) => show(describeBroadcast(message)));
  client.on('message', (type, payload) => show(`[${type}] ${format(payload)}`));
  client.on('reconnecting', ({ attempt, delayMs }) => show(`connection lost; reconnecting (attempt ${attempt}, in ${delayMs} ms)`));
  client.on('reconnect', () => show('reconnected'));

  const terminal = process.stdin.isTTY === true;
  const rl = readline.createInterface({ input: process.stdin, output: process.stdout, terminal, prompt: '> ' });
  if (terminal) rl.prompt();
  let ended = false;
  let lost = false;
  const finished = new Promise<void>((resolve) => {
    client.once('close', () => {
      if (!ended) {
        lost = true;
        show('disconnected');
        // Nothing more can be sent: stop reading, or an open stdin would keep the process alive.
        rl.close();
        process.stdin.destroy();
      }
      resolve();
    });
    rl.on('close', resolve);
  });
  // Commands run one after another, in the order typed.
  let chain = Promise.resolve(true);
  rl.on('line', (input) => {
    chain = chain.then(async (more) => {
      if (!more) return false;
      try {
        const next = await run(client, input);
        if (!next) rl.close();
        else if (terminal) rl.prompt();
        return next;
      } catch (error) {
        show(`error ${(error as { code?: string }).code ?? ''}: ${(error as Error).message}`);
        return true;
      }
    });
  });
  await finished;
  await chain;
  ended = true;
  await client.close();
  return lost ? 1 : 0;
}
