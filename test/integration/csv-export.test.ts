/** server.metricsCsv(): rows of a live server's figures appended to a CSV file. */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { once } from 'node:events';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { connect, createServer, type Server } from '../../ts/index.js';
import { CSV_HEADER } from '../../ts/features/metrics/csv-export.js';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hw-csv-'));
const cleanup: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const step of cleanup.splice(0).reverse()) await step().catch(() => {});
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

async function started(): Promise<{ server: Server; tcpPort: number }> {
  const server = createServer({ host: '127.0.0.1', tcpPort: 0, udpPort: false });
  const { tcpPort } = await server.listen();
  cleanup.push(() => server.close());
  return { server, tcpPort };
}

function rows(file: string): Array<Record<string, string>> {
  const [header, ...lines] = fs.readFileSync(file, 'utf8').trimEnd().split('\n');
  const names = header!.split(',');
  return lines.map((line) => Object.fromEntries(line.split(',').map((value, i) => [names[i]!, value])));
}

describe('server.metricsCsv()', () => {
  it('writes a header, then one row per interval with the figures of stats()', async () => {
    const { server, tcpPort } = await started();
    const client = await connect({ host: '127.0.0.1', tcpPort, udpPort: false });
    cleanup.push(() => client.close());
    for (let i = 0; i < 20; i++) await client.request('echo', i);
    const file = path.join(dir, 'rows.csv');
    const csv = server.metricsCsv({ file, intervalMs: 50 });
    for (let i = 0; i < 3; i++) await once(csv, 'row');
    await csv.stop();
    const text = fs.readFileSync(file, 'utf8');
    expect(text.split('\n')[0]).toBe(CSV_HEADER);
    const written = rows(file);
    expect(written).toHaveLength(3);
    const stats = server.stats();
    for (const row of written) {
      expect(row.sessions).toBe('1');
      expect(Number(row.tcp_messages_in)).toBe(stats.tcp.messagesIn);
      expect(Number(row.tcp_messages_out)).toBe(stats.tcp.messagesOut);
      expect(Number(row.tcp_bytes_in)).toBe(stats.tcp.bytesIn);
      expect(row.handshakes_accepted).toBe('1');
      expect(Number.isNaN(Date.parse(row.time!))).toBe(false);
    }
    // No traffic between the rows: the rates are zero.
    expect(written[1]!.messages_in_per_second).toBe('0.0');
    // Stopped: no more rows.
    const size = fs.statSync(file).size;
    await new Promise((resolve) => setTimeout(resolve, 120));
    expect(fs.statSync(file).size).toBe(size);
  });

  it('appends to a file that has rows already, without a second header', async () => {
    const { server } = await started();
    const file = path.join(dir, 'append.csv');
    for (let run = 0; run < 2; run++) {
      const csv = server.metricsCsv({ file, intervalMs: 20 });
      await once(csv, 'row');
      await csv.stop();
    }
    const lines = fs.readFileSync(file, 'utf8').trimEnd().split('\n');
    expect(lines.filter((line) => line === CSV_HEADER)).toHaveLength(1);
    expect(lines.length).toBeGreaterThanOrEqual(3);
  });

  it('stops at a failed write: an error event, and stop() rejects with it', async () => {
    const { server } = await started();
    const csv = server.metricsCsv({ file: path.join(dir, 'no-such-dir', 'rows.csv'), intervalMs: 20 });
    const [error] = await once(csv, 'error');
    expect((error as NodeJS.ErrnoException).code).toBe('ENOENT');
    await expect(csv.stop()).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('refuses a missing file or an interval out of range', async () => {
    const { server } = await started();
    expect(() => server.metricsCsv({} as never)).toThrow(/needs \{ file \}/);
    expect(() => server.metricsCsv({ file: path.join(dir, 'x.csv'), intervalMs: 5 })).toThrow(/option intervalMs must be an integer from 10 to 86400000/);
  });

  it('lets go of the server once stopped: many exports one after the other leave no listener behind', async () => {
    const { server } = await started();
    const before = server.listenerCount('close');
    for (let i = 0; i < 12; i++) await server.metricsCsv({ file: path.join(dir, 'many.csv'), intervalMs: 1000 }).stop();
    expect(server.listenerCount('close')).toBe(before);
  });

  it('ends when the server closes', async () => {
    const { server } = await started();
    const file = path.join(dir, 'closing.csv');
    const csv = server.metricsCsv({ file, intervalMs: 20 });
    await once(csv, 'row');
    await server.close();
    const size = fs.statSync(file).size;
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(fs.statSync(file).size).toBe(size);
  });
});
