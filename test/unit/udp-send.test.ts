/** ts/session/udp-send.ts: a message's datagram through the UDP path, counted. */
import { describe, expect, it } from 'vitest';
import { sendDatagram } from '../../ts/session/udp-send.js';
import { newSessionCounters } from '../../ts/session/session-stats.js';
import { INLINE_TYPE, MessageKind } from '../../ts/session/message.js';
import type { UdpPath } from '../../ts/session/send-options.js';
import type { SessionCompression } from '../../ts/compression/session-compression.js';
import { FrameFlag } from '../../ts/codec/frame.js';

describe('sendDatagram', () => {
  it('writes the prefix (the type inline when asked), hands prefix and body to the path with the options, and counts it', () => {
    const calls: unknown[][] = [];
    const path = { send: (...args: unknown[]) => (calls.push([Buffer.from((args[0] as Buffer).subarray(0, args[1] as number)), ...args.slice(2)]), false) } as unknown as UdpPath;
    const counters = newSessionCounters();
    const prefix = Buffer.alloc(300);
    const accepted = sendDatagram(path, prefix, INLINE_TYPE, 'chat', 0, MessageKind.MESSAGE, 0, Buffer.from('hi'), { reliable: true, channel: 3 }, counters);
    expect(accepted).toBe(false);
    const [written, body, reliable, ordered, channel] = calls[0]!;
    expect([...(written as Buffer)]).toEqual([INLINE_TYPE & 0xff, INLINE_TYPE >>> 8, 0, MessageKind.MESSAGE, 4, ...Buffer.from('chat')]);
    expect(String(body)).toBe('hi');
    expect([reliable, ordered, channel]).toEqual([true, true, 3]);
    expect(counters.udp).toMatchObject({ messagesOut: 1, bytesOut: 9 + 2 });
  });
});

describe('sendDatagram with compression', () => {
  it('sends a reliable message at or past the threshold compressed (flag COMPRESSED, counted), and others as they are', () => {
    const calls: unknown[][] = [];
    const path = { send: (...args: unknown[]) => (calls.push(args), true) } as unknown as UdpPath;
    const counters = newSessionCounters();
    const packed = Buffer.from('packed');
    const compression = { compress: () => packed } as unknown as SessionCompression;
    const body = Buffer.alloc(100, 1);
    sendDatagram(path, Buffer.alloc(300), 1, 'chat', 0, MessageKind.MESSAGE, 0, body, { reliable: true }, counters, compression, 64);
    sendDatagram(path, Buffer.alloc(300), 1, 'chat', 0, MessageKind.MESSAGE, 0, body, { reliable: false }, counters, compression, 64);
    sendDatagram(path, Buffer.alloc(300), 1, 'chat', 0, MessageKind.MESSAGE, 0, body.subarray(0, 10), { reliable: true }, counters, compression, 64);
    expect(calls[0]!.slice(1, 4)).toEqual([0, packed, true]);
    expect(calls[0]![6]).toBe(FrameFlag.COMPRESSED);
    expect(calls[1]![2]).toBe(body);
    expect(calls[2]![6]).toBeUndefined();
    expect(counters.compressedOut).toBe(1);
    expect(counters.udp.messagesOut).toBe(3);
  });
});
