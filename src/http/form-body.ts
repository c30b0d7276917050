import type { FastifyInstance } from 'fastify';
import { invalidRequest } from './oauth-error.js';

/**
 * Parameters that a request may send more than once: `resource` (RFC 8707 §2, one per resource
 * the token is for). Every other parameter sent twice is refused (RFC 6749 §3.1, §3.2).
 */
export const REPEATABLE_PARAMETERS: ReadonlySet<string> = new Set(['resource']);

/** Every value of the repeatable parameters of a parameter set, beside it (parameterValues). */
const repeatedValues = new WeakMap<object, ReadonlyMap<string, readonly string[]>>();

/**
 * Request parameters from name/value pairs, or the name of a parameter sent twice that may not be.
 * A parameter without a value counts as omitted (RFC 6749 §3.1, §3.2). A repeatable parameter
 * keeps its first value in the record, so that the record says whether it was sent, and all of
 * them for parameterValues.
 */
export function parameterRecord(pairs: Iterable<readonly [string, string]>): { params: Record<string, string> } | { repeated: string } {
  const params: Record<string, string> = Object.create(null) as Record<string, string>;
  const repeatable = new Map<string, string[]>();
  for (const [name, value] of pairs) {
    if (value === '') continue;
    if (REPEATABLE_PARAMETERS.has(name)) {
      const values = repeatable.get(name) ?? [];
      if (values.length === 0) repeatable.set(name, values);
      values.push(value);
      params[name] ??= value;
      continue;
    }
    if (name in params) return { repeated: name };
    params[name] = value;
  }
  if (repeatable.size > 0) repeatedValues.set(params, repeatable);
  return { params };
}

/** Every value of `name` in parameters from parameterRecord, in the order sent; none when absent. */
export function parameterValues(params: Readonly<Record<string, string>>, name: string): readonly string[] {
  const values = repeatedValues.get(params)?.get(name);
  if (values !== undefined) return values;
  const value = params[name];
  return value === undefined ? [] : [value];
}

/**
 * `application/x-www-form-urlencoded` bodies (RFC 6749 §3.2) as a plain object. A parameter sent
 * twice is refused (RFC 6749 §3.1, §3.2), never silently resolved one way or the other, unless it
 * is one of REPEATABLE_PARAMETERS.
 */
export function registerFormBody(scope: FastifyInstance): void {
  scope.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string' }, (_request, body, done) => {
    const parsed = parameterRecord(new URLSearchParams(body as string));
    if ('repeated' in parsed) return done(invalidRequest(`parameter ${parsed.repeated} is included more than once`), undefined);
    return done(null, parsed.params);
  });
}

/** The parsed form, or an empty one when the request had no body. */
export function formParams(body: unknown): Readonly<Record<string, string>> {
  return (typeof body === 'object' && body !== null ? body : {}) as Record<string, string>;
}
