import helmet, { type FastifyHelmetOptions } from '@fastify/helmet';
import Fastify from 'fastify';

/** What helmet sets on every API response, as the JSON API has always had them. */
export const API_HELMET_OPTIONS: FastifyHelmetOptions = { global: true, crossOriginResourcePolicy: { policy: 'cross-origin' } };

/** Headers any response carries whatever set them; not part of helmet's set. */
const NOT_HELMETS = new Set(['content-type', 'content-length', 'date', 'connection', 'keep-alive']);

/**
 * The headers @fastify/helmet sets with `options`, taken once from the plugin itself. The plugin
 * builds helmet's middleware anew for every request (two async hooks, the CSP parsed each time):
 * a third of what a discovery request cost. The set does not depend on the request, so it is
 * computed at start-up and each response gets the same values by one synchronous hook.
 */
export async function helmetHeaders(options: FastifyHelmetOptions = API_HELMET_OPTIONS): Promise<Readonly<Record<string, string>>> {
  const probe = Fastify({ logger: false });
  await probe.register(helmet, options);
  probe.get('/', (_request, reply) => reply.send(''));
  try {
    const response = await probe.inject({ method: 'GET', url: '/' });
    const headers: Record<string, string> = {};
    for (const [name, value] of Object.entries(response.headers)) {
      if (!NOT_HELMETS.has(name) && typeof value === 'string') headers[name] = value;
    }
    return Object.freeze(headers);
  } finally {
    await probe.close();
  }
}
