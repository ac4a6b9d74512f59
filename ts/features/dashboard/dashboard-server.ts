/**
 * A dashboard of a running server over node:http: one page at / (dashboard/ in the package) with
 * live charts of message rates, RTT and sessions drawn by uPlot, which is served from the
 * package's own dependencies (no CDN), and /api/figures, the server's stats() and metrics snapshot
 * as JSON, which the page polls each second.
 */
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { once } from 'node:events';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import type { AddressInfo } from 'node:net';
import type { ServerStats } from '../../api/server.js';
import type { MetricsSnapshot } from '../metrics/snapshot.js';

export interface DashboardHost {
  stats(): ServerStats;
  metricsSnapshot(): MetricsSnapshot;
}

export interface DashboardOptions {
  /** Interface to listen on. Default: all. */
  host?: string;
  /** 0 picks a free port. */
  port: number;
  /** Shown in the page's header (`host:port` of the server). */
  title?: string;
}

export interface Dashboard {
  port: number;
  close(): Promise<void>;
}

// dist/features/dashboard/ or ts/features/dashboard/: the page is in dashboard/ at the package root.
const PAGE_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'dashboard');
const UPLOT_DIR = path.join(path.dirname(createRequire(import.meta.url).resolve('uplot/package.json')), 'dist');

/** The files the page is made of, each from where it lives, read once. */
const FILES: Record<string, { file: string; type: string }> = {
  '/': { file: path.join(PAGE_DIR, 'index.html'), type: 'text/html; charset=utf-8' },
  '/dashboard.js': { file: path.join(PAGE_DIR, 'dashboard.js'), type: 'text/javascript; charset=utf-8' },
  '/uPlot.iife.min.js': { file: path.join(UPLOT_DIR, 'uPlot.iife.min.js'), type: 'text/javascript; charset=utf-8' },
  '/uplot.min.css': { file: path.join(UPLOT_DIR, 'uPlot.min.css'), type: 'text/css; charset=utf-8' },
};

export async function serveDashboard(server: DashboardHost, options: DashboardOptions): Promise<Dashboard> {
  const contents = new Map(Object.entries(FILES).map(([route, { file }]) => [route, fs.readFileSync(file)]));
  const http_ = http.createServer((request, response) => {
    const route = (request.url ?? '/').split('?')[0]!;
    if (request.method !== 'GET' && request.method !== 'HEAD') {
      response.writeHead(405, { allow: 'GET, HEAD' }).end();
      return;
    }
    if (route === '/api/figures') {
      const body = JSON.stringify({ target: options.title ?? '', stats: server.stats(), figures: server.metricsSnapshot() }, (_key, value: unknown) => (value === undefined ? null : value));
      response.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'no-store' }).end(request.method === 'HEAD' ? undefined : body);
      return;
    }
    const file = FILES[route];
    if (file === undefined) {
      response.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
      return;
    }
    response.writeHead(200, { 'content-type': file.type, 'x-content-type-options': 'nosniff' }).end(request.method === 'HEAD' ? undefined : contents.get(route));
  });
  http_.keepAliveTimeout = 5000;
  http_.listen(options.port, options.host);
  await once(http_, 'listening');
  return {
    port: (http_.address() as AddressInfo).port,
    close: () =>
      new Promise<void>((resolve) => {
        http_.close(() => resolve());
        http_.closeAllConnections();
      }),
  };
}
