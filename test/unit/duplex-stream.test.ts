/**
 * ts/streams/duplex-stream.ts with a recording host: sending within the credit and the chunk size,
 * granting credit as the application reads, states, resets and their codes.
 */
import { describe, expect, it } from 'vitest';
import { HybridwireStream, StreamResetError, type StreamHost } from '../../ts/streams/duplex-stream.js';

class RecordingHost implements StreamHost {
  readonly data: Array<[number, number]> = [];
  readonly windows: number[] = [];
  readonly ends: number[] = [];
  readonly resets: Array<[string, string]> = [];
  released = 0;
  sendData(_stream: HybridwireStream, _data: Uint8Array, start: number, end: number): boolean {
    this.data.push([start, end]);
    return true;
  }
  sessionBlocked(): boolean {
    return false;
  }
  sendWindow(_stream: HybridwireStream, increment: number): void {
    this.windows.push(increment);
  }
  sendEnd(stream: HybridwireStream): void {
    this.ends.push(stream.id);
  }
  sendReset(_stream: HybridwireStream, code: string, message: string): void {
    this.resets.push([code, message]);
  }
  release(): void {
    this.released++;
  }
}

function stream(options: { window?: number; maxChunk?: number; accepted?: boolean; credit?: number } = {}) {
  const host = new RecordingHost();
  const made = new HybridwireStream(host, 1, 'name', 'tcp', options.window ?? 1024, options.maxChunk ?? 100, options.accepted ?? false, options.credit ?? 0);
  return { host, stream: made };
}

const turn = () => new Promise((resolve) => setImmediate(resolve));

describe('HybridwireStream', () => {
  it('sends nothing before the accept, then within the credit, in chunks of at most maxChunk', async () => {
    const { host, stream: s } = stream({ maxChunk: 100 });
    s.write(Buffer.alloc(250));
    expect(host.data).toEqual([]);
    s.accepted(180);
    expect(host.data).toEqual([[0, 100], [100, 180]]);
    expect(s.sendCredit).toBe(0);
    s.receiveWindow(500);
    expect(host.data.at(-1)).toEqual([180, 250]);
    expect([s.bytesOut, s.sendCredit, s.state]).toEqual([250, 430, 'open']);
    await turn();
  });

  it('grants credit once the application has read half its window, not before', async () => {
    const { host, stream: s } = stream({ window: 1000, accepted: true });
    s.pause();
    s.receiveData(Buffer.alloc(600));
    expect(host.windows).toEqual([]);
    expect(s.receiveCredit).toBe(400);
    s.read(400);
    s.read(0);
    expect(host.windows).toEqual([]);
    s.read(200);
    s.read(0);
    expect(host.windows).toEqual([600]);
    expect(s.receiveCredit).toBe(1000);
  });

  it('refuses data past its credit and after the end (the session closes for it)', () => {
    const { stream: s } = stream({ window: 1024, accepted: true });
    s.pause();
    expect(() => s.receiveData(Buffer.alloc(1025))).toThrow(expect.objectContaining({ code: 'HW_ERR_FLOW_CONTROL' }));
    s.receiveEnd();
    expect(() => s.receiveData(Buffer.alloc(1))).toThrow(expect.objectContaining({ code: 'HW_ERR_BAD_MESSAGE' }));
    expect(() => s.receiveEnd()).toThrow(expect.objectContaining({ code: 'HW_ERR_BAD_MESSAGE' }));
  });

  it('goes through the half-closed states to closed, and is released once', async () => {
    const { host, stream: s } = stream({ accepted: true, credit: 10 });
    s.end();
    await turn();
    expect([s.state, host.ends]).toEqual(['half-closed-local', [1]]);
    s.resume();
    s.receiveEnd();
    await turn();
    expect(s.state).toBe('closed');
    expect(host.released).toBe(1);
    expect(host.resets).toEqual([]);
  });

  it("resets with the error's code, or HW_ERR_STREAM_RESET", async () => {
    const coded = stream({ accepted: true });
    coded.stream.on('error', () => {});
    coded.stream.destroy(Object.assign(new Error('stop'), { code: 'APP_STOP' }));
    expect(coded.host.resets).toEqual([['APP_STOP', 'stop']]);
    const plain = stream({ accepted: true });
    plain.stream.destroy();
    expect(plain.host.resets).toEqual([['HW_ERR_STREAM_RESET', 'stream destroyed']]);
    const tooLong = stream({ accepted: true });
    tooLong.stream.on('error', () => {});
    tooLong.stream.destroy(Object.assign(new Error('x'), { code: 'C'.repeat(65) }));
    expect(tooLong.host.resets[0]![0]).toBe('HW_ERR_STREAM_RESET');
  });

  it('ends quietly, without a reset, when destroyed without an error after reading everything', () => {
    const { host, stream: s } = stream({ accepted: true });
    s.receiveEnd();
    s.destroy();
    expect(host.resets).toEqual([]);
    expect(host.ends).toEqual([1]);
    expect(s.state).toBe('closed');
  });

  it('fails with HW_ERR_STREAM_RESET and the code when the other side resets, HW_ERR_STREAM_LIMIT for that refusal', async () => {
    const reset = stream({ accepted: true });
    const errors: unknown[] = [];
    reset.stream.on('error', (error) => errors.push(error));
    reset.stream.receiveReset('APP_STOP', 'because');
    const refused = stream();
    refused.stream.on('error', (error) => errors.push(error));
    refused.stream.receiveReset('HW_ERR_STREAM_LIMIT', 'full');
    await turn();
    expect(errors.map((error) => [(error as StreamResetError).code, (error as StreamResetError).resetCode])).toEqual([
      ['HW_ERR_STREAM_RESET', 'APP_STOP'],
      ['HW_ERR_STREAM_LIMIT', 'HW_ERR_STREAM_LIMIT'],
    ]);
    expect(reset.stream.resetCode).toBe('APP_STOP');
    // A reset is not answered with one.
    expect(reset.host.resets).toEqual([]);
  });
});
