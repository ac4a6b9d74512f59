import { availableAlgorithms } from '../../ts/compression/algorithms.js';
import { describe, expect, it } from 'vitest';
import { DEFAULT_MAX_FRAME_SIZE } from '../../ts/codec/frame.js';
import { ReassemblyBudget } from '../../ts/reliable/reliable-endpoint.js';
import { resolveLimits, udpOffer, udpSessionOptions } from '../../ts/api/limits.js';
import { DEFAULT_PEER_SPAN } from '../../ts/session/handshake.js';

describe('resolveLimits', () => {
  it('fills in the documented defaults', () => {
    expect(resolveLimits({})).toEqual({
      // Every algorithm accepted, none used to send (ts/compression/settings.ts has its own tests).
      compression: expect.objectContaining({ algorithms: availableAlgorithms(), threshold: 0 }),
      compressThreshold: 0,
      maxFrameSize: DEFAULT_MAX_FRAME_SIZE,
      highWaterMark: 1024 * 1024,
      maxQueueBytes: 64 * 1024 * 1024,
      sendStallTimeoutMs: 30_000,
      maxPendingRequests: 4096,
      maxPendingHandlers: 1024,
      maxAliasBytes: 65_536,
      requestTimeoutMs: 10_000,
      closeTimeoutMs: 5000,
      windowSize: 8192,
      heartbeatIntervalMs: 5000,
      heartbeatTimeoutMs: 15000,
      mtu: 1200,
      udpMaxMtu: 65_507,
      udpWindowSize: 16384,
      udpSpan: 16384,
      udpSendBufferBytes: 4 * 1024 * 1024,
      udpReassemblyBytes: 4 * 1024 * 1024,
      udpReassemblyTimeoutMs: 5000,
      udpSocketBufferBytes: 4 * 1024 * 1024,
      udpMaxAckDelayMs: 10,
      udpMinRtoMs: 100,
      udpMaxRtoMs: 60_000,
      udpBatchDelayMs: 0,
    });
  });

  it.each([
    [{ maxFrameSize: 1023 }, 'maxFrameSize must be an integer from 1024'],
    [{ requestTimeoutMs: -1 }, 'requestTimeoutMs must be an integer from 0 to 3600000'],
    [{ windowSize: 1.5 }, 'windowSize must be an integer'],
    [{ maxAliasBytes: 255 }, 'maxAliasBytes must be an integer from 256 to 1073741824'],
    [{ sendStallTimeoutMs: 999 }, 'sendStallTimeoutMs must be an integer from 1000 to 3600000'],
    [{ sendStallTimeoutMs: 3_600_001 }, 'sendStallTimeoutMs must be an integer from 1000 to 3600000'],
    [{ mtu: '1200' }, 'mtu must be an integer'],
    [{ udpSpan: 3000 }, 'udpSpan must be a power of two'],
    [{ udpMinRtoMs: 500, udpMaxRtoMs: 400 }, 'udpMaxRtoMs (400) must not be below udpMinRtoMs (500)'],
    [{ highWaterMark: 2000, maxQueueBytes: 1000 }, 'highWaterMark (2000) must not exceed maxQueueBytes (1000)'],
    [{ heartbeatIntervalMs: 100, heartbeatTimeoutMs: 100 }, 'heartbeatTimeoutMs (100) must exceed heartbeatIntervalMs (100)'],
  ])('refuses %o, naming the option and its range', (options, message) => {
    expect(() => resolveLimits(options as never)).toThrow(expect.objectContaining({ code: 'HW_ERR_INVALID_OPTION', message: expect.stringContaining(message) }));
  });

  it('raises a udpMaxMtu below mtu to mtu: no discovery', () => {
    expect(resolveLimits({ mtu: 1400, udpMaxMtu: 1300 }).udpMaxMtu).toBe(1400);
  });
});

describe('the UDP settings of a session', () => {
  it('offers our own settings in the handshake', () => {
    const limits = resolveLimits({ mtu: 1300, udpWindowSize: 64, udpReassemblyBytes: 8192, udpMaxAckDelayMs: 20, udpSpan: 2048, udpMaxMtu: 9000 });
    expect(udpOffer(limits)).toEqual({ mtu: 1300, window: 64, reassemblyBytes: 8192, ackDelayMs: 20, span: 2048, maxMtu: 9000 });
  });

  it('uses the negotiated values where there are some, our own limits for the rest, and a window of one in step mode', () => {
    const limits = resolveLimits({ udpMaxAckDelayMs: 30, udpMinRtoMs: 50 });
    const budget = new ReassemblyBudget(1 << 20);
    const negotiated = { mtu: 1250, window: 100, reassemblyBytes: 9999, ackDelayMs: 5 };
    expect(udpSessionOptions(limits, false, negotiated, budget)).toEqual({
      mtu: 1250,
      maxMtu: 1250,
      window: 100,
      sendBufferBytes: limits.udpSendBufferBytes,
      reassemblyBytes: 9999,
      span: DEFAULT_PEER_SPAN,
      reassemblyTimeoutMs: limits.udpReassemblyTimeoutMs,
      // Each end allows for the other's delay: the larger one.
      maxAckDelayMs: 30,
      minRtoMs: 50,
      maxRtoMs: limits.udpMaxRtoMs,
      batchDelayMs: 0,
      budget,
    });
    expect(udpSessionOptions(limits, true, negotiated, undefined).window).toBe(1);
    expect(udpSessionOptions(limits, false, undefined, undefined).window).toBe(limits.udpWindowSize);
  });
});
