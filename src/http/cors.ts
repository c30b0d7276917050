import cors, { type FastifyCorsOptions } from '@fastify/cors';
import type { FastifyInstance, FastifyRequest } from 'fastify';

/**
 * Browser-based relying parties and tools read discovery and register themselves, so those two
 * are open to any origin (without credentials: nothing here uses cookies). Everything else,
 * including the client configuration endpoint, stays same-origin.
 */
export async function registerCors(app: FastifyInstance, publicPaths: { get: readonly string[]; post: readonly string[] }): Promise<void> {
  const open = (methods: string[]): FastifyCorsOptions => ({
    origin: '*',
    methods,
    allowedHeaders: ['Content-Type', 'Authorization'],
    // Retry-After: a browser client told 429 must be able to read how long to wait
    exposedHeaders: ['Location', 'X-Request-Id', 'Retry-After'],
    maxAge: 600,
    // an OPTIONS without Origin is no browser preflight: answer it plainly, not with a text 400
    strictPreflight: false,
  });
  const closed: FastifyCorsOptions = { origin: false };
  await app.register(cors, {
    delegator: (request: FastifyRequest, callback) => {
      const path = request.url.split('?')[0] ?? '';
      // a preflight names the method it will use
      const method = request.method === 'OPTIONS' ? String(request.headers['access-control-request-method'] ?? '') : request.method;
      if ((method === 'GET' || method === 'HEAD') && publicPaths.get.includes(path)) return callback(null, open(['GET', 'HEAD']));
      if (method === 'POST' && publicPaths.post.includes(path)) return callback(null, open(['POST']));
      return callback(null, closed);
    },
  });
}
