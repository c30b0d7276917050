import type { FastifyInstance } from 'fastify';
import { invalidRequest } from './oauth-error.js';

/**
 * `application/x-www-form-urlencoded` bodies (RFC 6749 §3.2) as a plain object. A parameter sent
 * twice is refused (RFC 6749 §3.1, §3.2), never silently resolved one way or the other.
 */
export function registerFormBody(scope: FastifyInstance): void {
  scope.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string' }, (_request, body, done) => {
    const params: Record<string, string> = Object.create(null) as Record<string, string>;
    for (const [name, value] of new URLSearchParams(body as string)) {
      // RFC 6749 §3.2: parameters sent without a value are treated as if they were omitted
      if (value === '') continue;
      if (name in params) return done(invalidRequest(`parameter ${name} is included more than once`), undefined);
      params[name] = value;
    }
    return done(null, params);
  });
}

/** The parsed form, or an empty one when the request had no body. */
export function formParams(body: unknown): Readonly<Record<string, string>> {
  return (typeof body === 'object' && body !== null ? body : {}) as Record<string, string>;
}
