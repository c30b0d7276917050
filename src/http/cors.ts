import type { FastifyInstance, onRequestHookHandler } from 'fastify';

/** Response headers a browser script may read: Retry-After, so that a client told 429 can wait. */
const EXPOSED_HEADERS = 'Location, X-Request-Id, Retry-After';
const ALLOWED_REQUEST_HEADERS = 'Content-Type, Authorization';
const PREFLIGHT_MAX_AGE_SECONDS = 600;

type PublicMethod = 'GET' | 'HEAD' | 'POST';

/**
 * Browser-based relying parties and tools read discovery and the JWKS and register themselves, so
 * those are open to any origin (without credentials: nothing here uses cookies). Everything else,
 * including the client configuration endpoint, stays same-origin: no CORS headers, and a preflight
 * gets the same 404 as any unknown route.
 *
 * The policy is fixed per path, so it is written here rather than with @fastify/cors: its
 * delegator runs on every request of every route and rebuilds the options each time (a tenth of
 * a discovery request's CPU, measured). Here only the public routes carry a hook, made once.
 * Call before the routes are registered. Returns the headers an actual GET of `path` gets (none
 * for a path that is not public), for the static documents answered in front of Fastify.
 */
export function registerCors(
  app: FastifyInstance,
  publicPaths: { get: readonly string[]; post: readonly string[] },
): (path: string) => Readonly<Record<string, string>> | undefined {
  const methodsOf = (path: string): PublicMethod[] => [
    ...(publicPaths.get.includes(path) ? (['GET', 'HEAD'] as const) : []),
    ...(publicPaths.post.includes(path) ? (['POST'] as const) : []),
  ];
  const actualHeaders = { 'access-control-allow-origin': '*', 'access-control-expose-headers': EXPOSED_HEADERS };
  const addActualHeaders: onRequestHookHandler = (_request, reply, done) => {
    reply.headers(actualHeaders);
    done();
  };

  app.addHook('onRoute', (route) => {
    const methods = methodsOf(route.url ?? route.path);
    const routeMethods = Array.isArray(route.method) ? route.method : [route.method];
    if (!routeMethods.some((m) => methods.includes(m as PublicMethod))) return;
    const own = route.onRequest === undefined ? [] : Array.isArray(route.onRequest) ? route.onRequest : [route.onRequest];
    route.onRequest = [addActualHeaders, ...own];
  });

  for (const path of [...new Set([...publicPaths.get, ...publicPaths.post])]) {
    const methods = methodsOf(path);
    const preflightHeaders = {
      ...actualHeaders,
      'access-control-allow-methods': methods.join(', '),
      'access-control-allow-headers': ALLOWED_REQUEST_HEADERS,
      'access-control-max-age': String(PREFLIGHT_MAX_AGE_SECONDS),
    };
    // a preflight names the method it will use; without one (or with another) this is no
    // preflight we answer, and the caller gets the 404 of any route it may not use
    app.options(path, (request, reply) => {
      const asked = request.headers['access-control-request-method'];
      if (typeof asked !== 'string' || !methods.includes(asked as PublicMethod)) return reply.callNotFound();
      // Safari waits for a body on a 204 without content-length: 0
      return reply.code(204).headers(preflightHeaders).header('content-length', '0').send();
    });
  }
  return (path) => (publicPaths.get.includes(path) ? actualHeaders : undefined);
}
