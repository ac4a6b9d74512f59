import { describe, expect, it } from 'vitest';
import { GATHER_BYTES, ReadGather } from '../../ts/session/read-gather.js';

const checkPhase = () => new Promise<void>((resolve) => setImmediate(resolve));

function recorder() {
  const chunks: Buffer[] = [];
  return { chunks, target: { socketData: (chunk: Buffer) => chunks.push(chunk) } };
}

describe('ReadGather', () => {
  it('hands the pieces of one poll phase over together in the check phase, joined in order', async () => {
    const { chunks, target } = recorder();
    const gather = new ReadGather(target);
    gather.add(Buffer.from('ab'));
    gather.add(Buffer.from('cd'));
    await Promise.resolve();
    expect(chunks).toEqual([]);
    expect(gather.pendingBytes).toBe(4);
    await checkPhase();
    expect(chunks.map(String)).toEqual(['abcd']);
    expect(gather.pendingBytes).toBe(0);
  });

  it('hands a single piece over as it is', async () => {
    const { chunks, target } = recorder();
    const piece = Buffer.from('only');
    new ReadGather(target).add(piece);
    await checkPhase();
    expect(chunks).toHaveLength(1);
    expect(chunks[0]).toBe(piece);
  });

  it('hands over at once when GATHER_BYTES have arrived, and the rest in the check phase', async () => {
    const { chunks, target } = recorder();
    const gather = new ReadGather(target);
    const piece = Buffer.alloc(16 * 1024, 7);
    for (let i = 0; i < GATHER_BYTES / piece.length; i++) gather.add(piece);
    expect(chunks.map((chunk) => chunk.length)).toEqual([GATHER_BYTES]);
    gather.add(Buffer.from('tail'));
    await checkPhase();
    expect(chunks.map((chunk) => chunk.length)).toEqual([GATHER_BYTES, 4]);
  });

  it('serves every gathering socket in one check phase, each with its own pieces', async () => {
    const first = recorder();
    const second = recorder();
    new ReadGather(first.target).add(Buffer.from('one'));
    new ReadGather(second.target).add(Buffer.from('two'));
    await checkPhase();
    expect(first.chunks.map(String)).toEqual(['one']);
    expect(second.chunks.map(String)).toEqual(['two']);
  });

  it('flush() hands over now (the peer ended), discard() forgets (the socket closed)', async () => {
    const { chunks, target } = recorder();
    const gather = new ReadGather(target);
    gather.add(Buffer.from('before end'));
    gather.flush();
    expect(chunks.map(String)).toEqual(['before end']);
    gather.add(Buffer.from('lost'));
    gather.discard();
    await checkPhase();
    expect(chunks.map(String)).toEqual(['before end']);
  });

  it('after a delivery that throws, the other gathers are still served', async () => {
    const good = recorder();
    new ReadGather({ socketData: () => { throw new Error('handler'); } }).add(Buffer.from('x'));
    new ReadGather(good.target).add(Buffer.from('y'));
    const thrown = new Promise<Error>((resolve) => process.once('uncaughtException', resolve));
    expect((await thrown).message).toBe('handler');
    await checkPhase();
    expect(good.chunks.map(String)).toEqual(['y']);
  });
});
