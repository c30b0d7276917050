import type { FastifyInstance } from 'fastify';

/** Route config of a request whose body may be left out (admin actions such as disable). */
export interface OptionalBodyConfig {
  bodyOptional?: boolean;
}

// Declared on Fastify's route config too: once a plugin (@fastify/rate-limit) declares members
// of its own, TypeScript refuses route configs that share none with them.
declare module 'fastify' {
  interface FastifyContextConfig extends OptionalBodyConfig {}
}

/**
 * Some HTTP clients send `Content-Type: application/json` on every request, DELETE included, with
 * no body. That is not malformed JSON: a DELETE, or an action whose route says its body is
 * optional, has nothing to parse.
 */
export function acceptEmptyJsonOnDelete(app: FastifyInstance): void {
  const parseJson = app.getDefaultJsonParser('error', 'error');
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (request, body, done) => {
    const optional = request.method === 'DELETE' || (request.routeOptions.config as OptionalBodyConfig | undefined)?.bodyOptional === true;
    if (body === '' && optional) return done(null, undefined);
    return parseJson(request, body as string, done);
  });
}
