/**
 * The dashboard page in real headless Chromium (Debian's chromium, through playwright-core): the
 * numbers it shows are the server's stats(), its charts draw, and it follows live traffic. Without
 * the chromium package the browser test is skipped and says so.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { connect, createServer, serveDashboard, type Server } from '../../ts/index.js';
import { chromiumFound, launchChromium } from '../support/browser.js';

/** The page's document, as the callbacks run in the browser use it (this program has no DOM types). */
declare const document: {
  getElementById(id: string): { textContent: string | null } | null;
  querySelector(selector: string): { width: number; height: number } | null;
  body: { dataset: Record<string, string | undefined> };
};

if (!chromiumFound) console.warn('test/integration/dashboard-server.test.ts: browser test skipped, /usr/bin/chromium is missing (apt-get install chromium)');

const BROWSER_TEST_MS = 60_000;
const cleanup: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const step of cleanup.splice(0).reverse()) await step().catch(() => {});
});

async function started(): Promise<{ server: Server; tcpPort: number; udpPort: number }> {
  const server = createServer({ host: '127.0.0.1', tcpPort: 0, udpPort: 0 });
  const { tcpPort, udpPort } = await server.listen();
  cleanup.push(() => server.close());
  return { server, tcpPort, udpPort: udpPort! };
}

async function get(port: number, route: string): Promise<Response> {
  return fetch(`http://127.0.0.1:${port}${route}`, { signal: AbortSignal.timeout(5000) });
}

describe('serveDashboard', () => {
  it('serves the page, uPlot from the package, and the figures as JSON; nothing else', async () => {
    const { server } = await started();
    const dashboard = await serveDashboard(server, { host: '127.0.0.1', port: 0, title: 'test' });
    cleanup.push(() => dashboard.close());
    const page = await get(dashboard.port, '/');
    expect(page.status).toBe(200);
    const html = await page.text();
    expect(html).toContain('<script src="uPlot.iife.min.js"></script>');
    expect(html).not.toMatch(/https?:\/\//);
    expect((await get(dashboard.port, '/uPlot.iife.min.js')).headers.get('content-type')).toMatch(/^text\/javascript/);
    expect((await get(dashboard.port, '/uplot.min.css')).status).toBe(200);
    const figures = (await (await get(dashboard.port, '/api/figures')).json()) as { target: string; stats: { connectedClients: number } };
    expect(figures.target).toBe('test');
    expect(figures.stats.connectedClients).toBe(0);
    expect((await get(dashboard.port, '/../package.json')).status).toBe(404);
    expect((await fetch(`http://127.0.0.1:${dashboard.port}/`, { method: 'POST' })).status).toBe(405);
  });

  it.skipIf(!chromiumFound)(
    `in headless Chromium, shows the numbers of server.stats() and draws live charts${chromiumFound ? '' : ' (skipped: install the Debian package chromium)'}`,
    async () => {
      const began = performance.now();
      const { server, tcpPort, udpPort } = await started();
      let handled = 0;
      server.handle('work', () => {
        handled++;
      });
      const dashboard = await serveDashboard(server, { host: '127.0.0.1', port: 0, title: `127.0.0.1:${tcpPort}` });
      cleanup.push(() => dashboard.close());
      const client = await connect({ host: '127.0.0.1', tcpPort, udpPort });
      cleanup.push(() => client.close());
      // Live traffic while the page first looks: 100 messages every 20 ms, for at most 20 s.
      const load = setInterval(() => {
        for (let i = 0; i < 100; i++) client.send('work', i);
      }, 20);
      const stopLoad = setTimeout(() => clearInterval(load), 20_000);
      cleanup.push(async () => {
        clearInterval(load);
        clearTimeout(stopLoad);
      });

      const browser = await launchChromium();
      cleanup.push(() => browser.close());
      const page = await browser.context.newPage();
      const errors: string[] = [];
      page.on('pageerror', (error) => errors.push(error.message));
      await page.goto(`http://127.0.0.1:${dashboard.port}/`, { timeout: 15_000 });
      // A rate needs two polls; traffic is flowing, so it is above zero.
      await page.waitForFunction(() => /^[1-9][\d,]*$/.test(document.getElementById('rate-in')!.textContent ?? ''), undefined, { timeout: 15_000 });
      expect(await page.textContent('#status')).toBe('live');

      clearInterval(load);
      const sent = handled;
      // UDP too, then quiet: the page must come to show exactly what stats() says.
      for (let i = 0; i < 5; i++) client.send('work', i, { transport: 'udp' });
      await client.request('ping');
      const read = async () =>
        Object.fromEntries(
          await Promise.all(
            ['sessions', 'tcp-in', 'tcp-out', 'udp-in', 'udp-out', 'refused'].map(async (id) => [id, Number((await page.textContent(`#${id}`))!.replace(/,/g, ''))] as const),
          ),
        );
      const expected = () => {
        const stats = server.stats();
        return { sessions: stats.connectedClients, 'tcp-in': stats.tcp.messagesIn, 'tcp-out': stats.tcp.messagesOut, 'udp-in': stats.udp.messagesIn, 'udp-out': stats.udp.messagesOut, refused: stats.refusedConnections };
      };
      // Settled: two polls in a row show the same numbers, which stats() still gives.
      const deadline = Date.now() + 15_000;
      let shown = await read();
      while (JSON.stringify(shown) !== JSON.stringify(expected())) {
        if (Date.now() > deadline) break;
        await page.waitForFunction((polls) => Number(document.body.dataset.polls) > polls, Number(await page.evaluate(() => document.body.dataset.polls)), { timeout: 5000 });
        shown = await read();
      }
      expect(shown).toEqual(expected());
      expect(shown.sessions).toBe(1);
      expect(shown['tcp-in']).toBeGreaterThanOrEqual(sent);

      // The three charts drew onto canvases; the busiest type is listed.
      for (const id of ['chart-rates', 'chart-rtt', 'chart-sessions']) {
        const size = await page.evaluate((chartId) => {
          const canvas = document.querySelector(`#${chartId} canvas`);
          return canvas ? [canvas.width, canvas.height] : [0, 0];
        }, id);
        expect(size[0]).toBeGreaterThan(0);
        expect(size[1]).toBeGreaterThan(0);
      }
      expect(await page.textContent('#types tr:first-child td:first-child')).toBe('work');
      expect(errors).toEqual([]);
      console.log(`dashboard browser test: ${Math.round(performance.now() - began)} ms`);
    },
    BROWSER_TEST_MS,
  );
});
