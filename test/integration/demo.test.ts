/**
 * ts/cli/demo.ts: `hybridwire demo`, run as a user runs it (node dist/cli/main.js demo), to the end.
 */
import { describe, expect, it } from 'vitest';
import { runCli } from '../support/cli-process.js';
import { cliHarness } from '../support/cli-session.js';

cliHarness();

describe('hybridwire demo', () => {
  it('runs server and clients in one process and shows TCP, UDP, request/response, ping, broadcast and a clean close', async () => {
    // Each step of the demo has its own deadline of two or three seconds.
    const demo = await runCli(['demo'], 20_000);
    expect(demo.exit, demo.transcript()).toEqual({ code: 0, signal: null });
    expect(demo.stderr.join('\n')).toBe('');
    const expected = [
      /^server: listening on 127\.0\.0\.1, TCP port [1-9]\d*, UDP port [1-9]\d*$/,
      /^client: connected, session [0-9a-f-]+; negotiated features: udp, request, heartbeat$/,
      /^client: chat_response \{"text":"echo: hello over TCP"\}$/,
      /^server: position \{"x":1,"y":2\} over udp$/,
      /^client: request sum\(\[1,2,3,4\]\) -> 10$/,
      /^client: echo -> "hello"$/,
      /^client: ping round trip \d+\.\d{3} ms$/,
      /^client: broadcast reached 1 other client\(s\); second client got \{"from":"[0-9a-f-]+","payload":\{"text":"hi everyone"\}\}$/,
      /^server: stats \{"connectedClients":2,"tcp":\{.*\},"udp":\{"messagesIn":[1-9]\d*,"datagramsIn":[1-9]\d*\}\}$/,
      /^demo: done, server and clients closed cleanly$/,
    ];
    expect(demo.stdout.filter((line) => line !== '')).toHaveLength(expected.length);
    expected.forEach((pattern, i) => expect(demo.stdout[i], demo.transcript()).toMatch(pattern));
    // The client's session id is the broadcast's sender.
    const sessionId = /session ([0-9a-f-]+);/.exec(demo.stdout[1]!)![1];
    expect(demo.stdout[7]).toContain(`"from":"${sessionId}"`);
  });
});
