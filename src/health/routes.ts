import type { FastifyInstance } from 'fastify';
import type { Database } from '../storage/database.js';

const READINESS_TIMEOUT_MS = 2_000;

export function healthRoutes(app: FastifyInstance, db: Database, canSign: () => boolean): void {
  /** Liveness: the process answers. Says nothing about the database on purpose. */
  app.get('/healthz', (_request, reply) => reply.header('cache-control', 'no-store').send({ status: 'ok' }));

  /** Readiness: the database answers a query within the timeout, and tokens can be signed. */
  app.get('/readyz', async (request, reply) => {
    if (!canSign()) {
      request.log.error('readiness check failed: the signing key cannot be opened with SECRETS_KEY or SECRETS_KEY_PREVIOUS');
      return reply
        .code(503)
        .header('cache-control', 'no-store')
        .send({ error: 'temporarily_unavailable', error_description: 'the server cannot sign tokens: its signing key does not open with the configured secrets keys' });
    }
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        db.ping(),
        new Promise((_, reject) => {
          timer = setTimeout(() => reject(new Error('database did not answer in time')), READINESS_TIMEOUT_MS);
        }),
      ]);
      return reply.header('cache-control', 'no-store').send({ status: 'ready', database: db.kind });
    } catch (error) {
      request.log.warn({ err: error }, 'readiness check failed');
      return reply
        .code(503)
        .header('cache-control', 'no-store')
        .send({ error: 'temporarily_unavailable', error_description: 'the database is not answering' });
    } finally {
      clearTimeout(timer);
    }
  });
}
