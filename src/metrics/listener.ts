import { createServer, type Server } from 'node:http';
import type { Registry } from 'prom-client';
import { isAddressInUse, PortInUseError } from '../http/listen-port.js';

/** The one path the metrics listener answers; the main port's /metrics is the same path. */
export const METRICS_PATH = '/metrics';

export interface MetricsListener {
  /** Resolves once listening; PortInUseError naming METRICS_PORT when the port is taken. */
  listen(): Promise<void>;
  close(): Promise<void>;
}

function json(status: number, body: object, headers: Record<string, string> = {}) {
  return { status, body: JSON.stringify(body), headers: { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store', ...headers } };
}

/**
 * /metrics on a port of its own (METRICS_PORT), so that it can stay on loopback or an internal
 * network while PORT faces the internet. A bare node:http server: it serves one read-only path
 * and needs none of the app's body parsing, CORS or routes.
 */
export function metricsListener(registry: Registry, options: { port: number; host: string; requestTimeoutMs: number }): MetricsListener {
  const server: Server = createServer({ requestTimeout: options.requestTimeoutMs, headersTimeout: options.requestTimeoutMs }, (request, response) => {
    const answer = async () => {
      const path = (request.url ?? '').split('?')[0];
      if (path !== METRICS_PATH) return json(404, { error: 'not_found', error_description: `no resource at ${request.method ?? ''} ${path ?? ''}`.replace(/[^\x20-\x7e]/g, '?') });
      if (request.method !== 'GET' && request.method !== 'HEAD') {
        return json(405, { error: 'method_not_allowed', error_description: `${METRICS_PATH} answers GET only` }, { allow: 'GET, HEAD' });
      }
      return { status: 200, body: await registry.metrics(), headers: { 'content-type': registry.contentType, 'cache-control': 'no-store' } };
    };
    answer().then(
      ({ status, body, headers }) => {
        response.writeHead(status, { ...headers, 'content-length': Buffer.byteLength(body) });
        response.end(request.method === 'HEAD' ? undefined : body);
      },
      () => {
        response.writeHead(500, { 'content-type': 'application/json; charset=utf-8' });
        response.end(JSON.stringify({ error: 'server_error', error_description: 'the metrics could not be collected' }));
      },
    );
  });
  return {
    listen: () =>
      new Promise<void>((resolve, reject) => {
        server.once('error', (error) => reject(isAddressInUse(error) ? new PortInUseError(options.port, options.host, 'METRICS_PORT') : error));
        server.listen({ port: options.port, host: options.host }, () => resolve());
      }),
    close: () =>
      new Promise<void>((resolve) => {
        if (!server.listening) return resolve();
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
