import type { FastifyInstance } from 'fastify';

/**
 * Some HTTP clients send `Content-Type: application/json` on every request, DELETE included, with
 * no body. That is not malformed JSON; a DELETE has nothing to parse.
 */
export function acceptEmptyJsonOnDelete(app: FastifyInstance): void {
  const parseJson = app.getDefaultJsonParser('error', 'error');
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (request, body, done) => {
    if (body === '' && request.method === 'DELETE') return done(null, undefined);
    return parseJson(request, body as string, done);
  });
}
