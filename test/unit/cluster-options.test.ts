/** createServer({ cluster }) options, checked at construction (ts/cluster/cluster-options.ts). */
import { describe, expect, it } from 'vitest';
import { resolveClusterOptions } from '../../ts/cluster/cluster-options.js';
import { createServer } from '../../ts/index.js';

describe('resolveClusterOptions', () => {
  it('fills the defaults', () => {
    const options = resolveClusterOptions({ nats: 'nats://127.0.0.1:4222', name: 'n1' });
    expect(options).toMatchObject({ name: 'n1', heartbeatMs: 2000, publishTimeoutMs: 10_000, requestTimeoutMs: 10_000, subjectPrefix: 'hybridwire', maxRememberedIds: 100_000, sessionTransferTimeoutMs: 5000 });
  });

  it('gives each server of a process its own default name', () => {
    const first = resolveClusterOptions({ nats: 'nats://127.0.0.1:4222' }).name;
    const second = resolveClusterOptions({ nats: 'nats://127.0.0.1:4222' }).name;
    expect(first).not.toBe(second);
    expect(first).toMatch(/^[A-Za-z0-9_-]{1,64}$/);
  });

  it.each([
    [{ nats: '' }, 'cluster.nats'],
    [{ nats: 42 }, 'cluster.nats'],
    [{ nats: 'nats://x', name: 'has space' }, 'cluster.name'],
    [{ nats: 'nats://x', name: 'x'.repeat(65) }, 'cluster.name'],
    [{ nats: 'nats://x', heartbeatMs: 5 }, 'cluster.heartbeatMs'],
    [{ nats: 'nats://x', publishTimeoutMs: 0 }, 'cluster.publishTimeoutMs'],
    [{ nats: 'nats://x', maxRememberedIds: 1.5 }, 'cluster.maxRememberedIds'],
    [{ nats: 'nats://x', subjectPrefix: 'a.b' }, 'cluster.subjectPrefix'],
    [{ nats: 'nats://x', sessionTransferTimeoutMs: 0 }, 'cluster.sessionTransferTimeoutMs'],
    [{ nats: 'nats://x', sessionTransferTimeoutMs: 3_600_001 }, 'cluster.sessionTransferTimeoutMs'],
  ])('refuses %j naming %s', (options, option) => {
    expect(() => resolveClusterOptions(options as never)).toThrow(expect.objectContaining({ code: 'HW_ERR_INVALID_OPTION', option }));
    expect(() => createServer({ cluster: options as never })).toThrow(expect.objectContaining({ code: 'HW_ERR_INVALID_OPTION', option }));
  });
});
