/**
 * Issue 11, point 9: built-in handlers open to everyone. `stats` tells any client about the server
 * and `broadcast` makes the server send to every peer, so by default only `ping` and `echo` are
 * answered; `builtins` takes true, false or a list of names. A relayed broadcast always names its
 * sender, binary payloads included. `hybridwire serve` enables all four and says so in --help.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect, type Client, type Payload } from '../../ts/index.js';
import { cleanupAfterEach, client, createHardenedServer, startServer, type HardeningOptions } from '../support/abuse.js';
import { ensureBuilt, killAll, runCli, startServe } from '../support/cli-process.js';
import { within } from '../support/wait.js';

const defer = cleanupAfterEach();

const ALL = ['ping', 'echo', 'stats', 'broadcast'] as const;

/** What each built-in answers: its reply, or the error code it fails with. */
async function answers(c: Client): Promise<Record<string, unknown>> {
  const outcome: Record<string, unknown> = {};
  for (const name of ALL) {
    const payload: Payload = name === 'echo' ? 'hello' : name === 'broadcast' ? { note: 'hi' } : undefined;
    try {
      const reply = await c.request(name, payload, { timeoutMs: 2000 });
      outcome[name] = name === 'stats' ? 'stats object' : reply;
    } catch (error) {
      outcome[name] = (error as { code?: string }).code;
    }
  }
  return outcome;
}

async function serverWith(builtins: HardeningOptions['builtins'] | 'default'): Promise<Client> {
  const { tcpPort } = await startServer(defer, { udpPort: false, ...(builtins === 'default' ? {} : { builtins }) });
  return client(defer, { tcpPort, udpPort: false });
}

describe('the builtins option', () => {
  it('by default answers ping and echo; stats and broadcast get HW_ERR_NO_HANDLER', async () => {
    expect(await answers(await serverWith('default'))).toEqual({ ping: 'pong', echo: 'hello', stats: 'HW_ERR_NO_HANDLER', broadcast: 'HW_ERR_NO_HANDLER' });
  });

  it('true enables all four', async () => {
    expect(await answers(await serverWith(true))).toEqual({ ping: 'pong', echo: 'hello', stats: 'stats object', broadcast: 0 });
  });

  it('false enables none', async () => {
    expect(await answers(await serverWith(false))).toEqual({ ping: 'HW_ERR_NO_HANDLER', echo: 'HW_ERR_NO_HANDLER', stats: 'HW_ERR_NO_HANDLER', broadcast: 'HW_ERR_NO_HANDLER' });
  });

  it("['ping'] enables only ping; ['echo', 'stats'] only those two", async () => {
    expect(await answers(await serverWith(['ping']))).toEqual({ ping: 'pong', echo: 'HW_ERR_NO_HANDLER', stats: 'HW_ERR_NO_HANDLER', broadcast: 'HW_ERR_NO_HANDLER' });
    expect(await answers(await serverWith(['echo', 'stats']))).toEqual({ ping: 'HW_ERR_NO_HANDLER', echo: 'hello', stats: 'stats object', broadcast: 'HW_ERR_NO_HANDLER' });
  });

  it('anything else throws HW_ERR_INVALID_OPTION naming the option', () => {
    for (const value of ['yes', 1, ['ping', 'shell'], [1], { ping: true }, 'ping']) {
      expect(() => createHardenedServer({ builtins: value as HardeningOptions['builtins'] }), `builtins: ${JSON.stringify(value)}`).toThrow(
        expect.objectContaining({ code: 'HW_ERR_INVALID_OPTION', message: expect.stringContaining('builtins') }),
      );
    }
  });
});

describe('a relayed broadcast', () => {
  it('names its sender, for JSON and for binary payloads', async () => {
    const { tcpPort } = await startServer(defer, { udpPort: false, builtins: true });
    const sender = await client(defer, { tcpPort, udpPort: false });
    const receiver = await client(defer, { tcpPort, udpPort: false });
    const relayed: Payload[] = [];
    let wake: (() => void) | undefined;
    receiver.handle('broadcast', (payload: Payload) => {
      relayed.push(payload);
      wake?.();
    });
    const next = (count: number) =>
      within(
        new Promise<void>((resolve) => {
          wake = () => relayed.length >= count && resolve();
          wake();
        }),
        2000,
        `relayed broadcast ${count}`,
      );
    expect(await sender.request('broadcast', { text: 'json' })).toBe(1);
    await next(1);
    expect(relayed[0]).toEqual({ from: sender.sessionId, payload: { text: 'json' } });
    expect(await sender.request('broadcast', new Uint8Array([1, 2, 3]))).toBe(1);
    await next(2);
    // Never the bare bytes: a receiver must be able to tell who sent them. Bytes are relayed as
    // bytes, prefixed by the sender's session id (docs/PROTOCOL.md, section 9: u8 length, id, payload).
    const id = Buffer.from(sender.sessionId!, 'utf8');
    expect(relayed[1]).toBeInstanceOf(Uint8Array);
    expect(Buffer.from(relayed[1] as Uint8Array)).toEqual(Buffer.concat([Buffer.from([id.length]), id, Buffer.from([1, 2, 3])]));
    expect(await sender.request('broadcast')).toBe(1);
    await next(3);
    expect(relayed[2]).toEqual({ from: sender.sessionId, payload: null });
  });
});

describe('hybridwire serve', () => {
  beforeAll(async () => {
    await ensureBuilt();
  }, 240_000);
  afterAll(async () => {
    await killAll();
  });

  it('says in --help that it enables the built-ins', async () => {
    const help = await runCli(['serve', '--help']);
    const text = help.stdout.join('\n');
    expect(text).toMatch(/built-?ins?/i);
    for (const name of ALL) expect(text).toContain(name);
  });

  it('answers all four built-ins', async () => {
    const serve = await startServe();
    defer(() => serve.cli.kill());
    const c = await connect({ host: '127.0.0.1', tcpPort: serve.tcpPort, udpPort: false });
    defer(() => c.close());
    expect(await answers(c)).toEqual({ ping: 'pong', echo: 'hello', stats: 'stats object', broadcast: 0 });
  });
});
