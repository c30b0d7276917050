import type { FastifyInstance } from 'fastify';
import type { Config } from '../config/config.js';
import { METRICS_PATH, metricsListener } from './listener.js';
import { UNMATCHED_ROUTE, type Metrics } from './metrics.js';

/**
 * Counts every response by route template (never the raw URL: the series stay few whatever
 * callers send) and serves GET /metrics: at the root of the main port like /healthz, or on its
 * own listener, started when the app is ready and closed with it. Nothing at all when off.
 * Call before the routes are registered, so that the hook covers them.
 */
export function serveMetrics(app: FastifyInstance, metrics: Metrics, config: Pick<Config, 'metrics' | 'requestTimeoutSeconds'>): void {
  const registry = metrics.registry;
  if (!config.metrics.enabled || registry === undefined) return;

  app.addHook('onResponse', (request, reply, done) => {
    metrics.httpRequest(request.method, request.routeOptions.url ?? UNMATCHED_ROUTE, reply.statusCode, reply.elapsedTime / 1000);
    done();
  });

  const own = config.metrics.listener;
  if (own === undefined) {
    app.get(METRICS_PATH, async (_request, reply) => reply.header('cache-control', 'no-store').type(registry.contentType).send(await registry.metrics()));
    return;
  }
  const listener = metricsListener(registry, { ...own, requestTimeoutMs: config.requestTimeoutSeconds * 1000 });
  // onReady errors fail app.listen(): a taken METRICS_PORT stops the start-up like a taken PORT
  app.addHook('onReady', () => listener.listen());
  app.addHook('onClose', () => listener.close());
}
