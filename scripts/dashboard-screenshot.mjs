// Takes docs/dashboard.png, the README's picture of the dashboard: a server on loopback with a few
// clients sending for a while (bounded), its dashboard opened in headless Chromium (Debian's
// chromium, through playwright-core), and a screenshot once the charts have some history.
//
//   npm run compile:ts && node scripts/dashboard-screenshot.mjs [--seconds 40] [--out docs/dashboard.png]
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { connect, createServer, serveDashboard } from '../dist/index.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const { values } = parseArgs({ options: { seconds: { type: 'string', default: '40' }, out: { type: 'string', default: path.join(root, 'docs', 'dashboard.png') } } });
const seconds = Math.min(Math.max(Number(values.seconds), 5), 300);

const server = createServer({ host: '127.0.0.1', tcpPort: 0, udpPort: 0, heartbeatIntervalMs: 500, heartbeatTimeoutMs: 5000 });
for (const type of ['chat', 'position', 'telemetry']) server.handle(type, () => {});
const { tcpPort, udpPort } = await server.listen();
const dashboard = await serveDashboard(server, { host: '127.0.0.1', port: 0, title: `127.0.0.1:${tcpPort}` });

// Clients come and go; each sends a mix whose rate swells and falls.
const clients = [];
const started = Date.now();
const timers = [];
for (let i = 0; i < 6; i++) {
  timers.push(
    setTimeout(async () => {
      const client = await connect({ host: '127.0.0.1', tcpPort, udpPort, heartbeatIntervalMs: 500, heartbeatTimeoutMs: 5000 });
      clients.push(client);
      let tick = 0;
      const load = setInterval(() => {
        const t = (Date.now() - started) / 1000;
        const burst = Math.round(40 + 35 * Math.sin(t / 3 + i));
        for (let n = 0; n < burst; n++) client.send('position', { x: n, y: i }, { transport: 'udp' });
        for (let n = 0; n < burst / 4; n++) client.send('telemetry', new Uint8Array(64));
        if (tick++ % 3 === 0) client.send('chat', { text: 'hello' });
        void client.request('echo', 'x').catch(() => {});
      }, 20);
      timers.push(load);
    }, i * 2500),
  );
}

const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'hw-chromium-'));
const context = await chromium.launchPersistentContext(profile, {
  executablePath: '/usr/bin/chromium',
  headless: true,
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  viewport: { width: 1280, height: 860 },
});
try {
  const page = await context.newPage();
  await page.goto(`http://127.0.0.1:${dashboard.port}/`);
  await new Promise((resolve) => setTimeout(resolve, seconds * 1000));
  await page.screenshot({ path: values.out });
  console.log(`wrote ${values.out}`);
} finally {
  await context.close();
  fs.rmSync(profile, { recursive: true, force: true });
  for (const timer of timers) clearInterval(timer);
  await Promise.all(clients.map((client) => client.close()));
  await dashboard.close();
  await server.close();
}
