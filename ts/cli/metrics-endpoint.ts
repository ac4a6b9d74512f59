/**
 * `hybridwire serve --metrics-port N`: GET /metrics over node:http, in the Prometheus text format,
 * for a Prometheus server to scrape.
 */
import http from 'node:http';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';

export interface HttpEndpoint {
  port: number;
  close(): Promise<void>;
}

/** Listens on host:port; resolves once bound (port 0 picks a free one). */
export async function listenHttp(host: string | undefined, port: number, handle: http.RequestListener): Promise<HttpEndpoint> {
  const server = http.createServer(handle);
  // A scraper holds its connection open between scrapes; close() must not wait for it.
  server.keepAliveTimeout = 5000;
  server.listen(port, host);
  await once(server, 'listening');
  return {
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

export function serveMetrics(host: string | undefined, port: number, registry: Registry): Promise<HttpEndpoint> {
  return listenHttp(host, port, (request, response) => {
    const path = (request.url ?? '/').split('?')[0];
    if (path !== '/metrics') {
      response.writeHead(404, { 'content-type': 'text/plain' }).end('not found: metrics are at /metrics\n');
      return;
    }
    if (request.method !== 'GET' && request.method !== 'HEAD') {
      response.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'text/plain' }).end('method not allowed\n');
      return;
    }
    registry.metrics().then(
      (text) => response.writeHead(200, { 'content-type': registry.contentType }).end(request.method === 'HEAD' ? undefined : text),
      (error: Error) => response.writeHead(500, { 'content-type': 'text/plain' }).end(`${error.message}\n`),
    );
  });
}
