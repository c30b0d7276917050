import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { DatabaseUnavailableError } from '../storage/unavailable.js';
import { OAuthError } from './oauth-error.js';

/**
 * Fastify's own 4xx errors (body parsing, content type, size) mapped to OAuth errors with a
 * description that is ours, not the framework's.
 */
const FRAMEWORK_ERRORS: Record<string, () => OAuthError> = {
  FST_ERR_CTP_BODY_TOO_LARGE: () => new OAuthError('request_too_large', 'the request body is larger than the server accepts'),
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: () => new OAuthError('invalid_request', 'the Content-Length header does not match the body'),
  FST_ERR_CTP_EMPTY_JSON_BODY: () => new OAuthError('invalid_request', 'the request body is empty; a JSON object is required'),
  FST_ERR_CTP_INVALID_JSON_BODY: () => new OAuthError('invalid_request', 'the request body is not valid JSON'),
};

/** Seconds a client is asked to wait when the database is unreachable or failing over. */
export const RETRY_AFTER_SECONDS = 5;

/** What a route reads, set by acceptsOnly() on the scope that registers it. */
interface AcceptsConfig {
  accepts?: string;
}

// Declared on Fastify's route config too (see json-body.ts): admin routes set it per route.
declare module 'fastify' {
  interface FastifyContextConfig extends AcceptsConfig {}
}

/** Every route registered on `scope` from now on reads bodies of this media type only. */
export function acceptsOnly(scope: FastifyInstance, mediaType: string): void {
  scope.addHook('onRoute', (route) => {
    // a route that says what it reads itself keeps that
    route.config = { ...route.config, accepts: (route.config as AcceptsConfig | undefined)?.accepts ?? mediaType } as NonNullable<typeof route.config>;
  });
}

function unsupportedMediaType(request: FastifyRequest): OAuthError {
  const accepts = (request.routeOptions?.config as AcceptsConfig | undefined)?.accepts;
  return new OAuthError(
    'unsupported_media_type',
    accepts === undefined ? 'this endpoint takes no request body' : `the request body must be sent as ${accepts}`,
  );
}

function toOAuthError(error: FastifyError, request: FastifyRequest): OAuthError | undefined {
  if (error instanceof OAuthError) return error;
  if (error.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE') return unsupportedMediaType(request);
  if (error instanceof DatabaseUnavailableError) {
    return new OAuthError(
      'temporarily_unavailable',
      'the service cannot reach its database right now; try again shortly',
      { 'retry-after': String(RETRY_AFTER_SECONDS) },
      error.reason,
    );
  }
  const mapped = FRAMEWORK_ERRORS[error.code];
  if (mapped) return mapped();
  // JSON.parse failures and prototype-poisoning refusals carry statusCode 400 and no FST code.
  if (error.statusCode === 400 && (error instanceof SyntaxError || /JSON|__proto__|constructor/.test(error.message))) {
    return new OAuthError('invalid_request', 'the request body is not valid JSON');
  }
  if (error.statusCode === 413) return new OAuthError('request_too_large', 'the request is larger than the server accepts');
  if (error.statusCode === 429) return new OAuthError('too_many_requests', 'too many requests; slow down');
  if (error.statusCode !== undefined && error.statusCode >= 400 && error.statusCode < 500) {
    return new OAuthError('invalid_request', 'the request could not be understood');
  }
  return undefined;
}

/**
 * Errors the router raises before any route runs (a URL that does not decode, say). Passed to
 * Fastify as `frameworkErrors`, so that they too answer in OAuth JSON.
 */
export function frameworkErrorHandler(error: FastifyError, request: FastifyRequest, reply: FastifyReply): void {
  const oauth = error.code === 'FST_ERR_BAD_URL' ? new OAuthError('invalid_request', 'the request URL is malformed') : toOAuthError(error, request);
  const answer = oauth ?? new OAuthError('invalid_request', 'the request could not be understood');
  request.log.info({ error: answer.code, reason: error.code }, 'request refused');
  void reply.code(answer.status).header('cache-control', 'no-store').send(answer.toJSON());
}

/**
 * Requests Node's HTTP parser refuses (a control byte in a header, a broken request line) never
 * reach Fastify's routing; they still get an OAuth JSON answer rather than the framework's own.
 */
export function clientErrorHandler(error: NodeJS.ErrnoException, socket: import('node:net').Socket): void {
  if (!socket.writable) return void socket.destroy();
  const timedOut = error.code === 'ERR_HTTP_REQUEST_TIMEOUT';
  const status = timedOut ? 408 : error.code === 'HPE_HEADER_OVERFLOW' ? 431 : 400;
  const body = JSON.stringify({ error: 'invalid_request', error_description: timedOut ? 'the request took too long to arrive' : 'the request is not valid HTTP' });
  socket.end(
    `HTTP/1.1 ${status} ${timedOut ? 'Request Timeout' : status === 431 ? 'Request Header Fields Too Large' : 'Bad Request'}\r\n` +
      'content-type: application/json; charset=utf-8\r\ncache-control: no-store\r\nx-content-type-options: nosniff\r\nconnection: close\r\n' +
      `content-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
  );
}

/** One place where every thrown error becomes an OAuth JSON body; stacks and 5xx causes never leave. */
export function registerErrorHandling(app: FastifyInstance): void {
  app.setErrorHandler((error: FastifyError, request, reply) => {
    const oauth = toOAuthError(error, request);
    if (oauth) {
      // an outage is the operator's to see, but not a bug in this server: a warning, with its cause
      if (oauth.code === 'temporarily_unavailable') request.log.warn({ error: oauth.code, reason: oauth.logReason }, 'database unavailable');
      else if (oauth.status >= 500) request.log.error({ err: error }, 'request failed');
      else request.log.info({ error: oauth.code, reason: oauth.logReason ?? oauth.message }, 'request refused');
      return reply.code(oauth.status).headers(oauth.headers).header('cache-control', 'no-store').send(oauth.toJSON());
    }
    request.log.error({ err: error }, 'unexpected error');
    return reply
      .code(500)
      .header('cache-control', 'no-store')
      .send({ error: 'server_error', error_description: 'the server could not complete the request' });
  });

  app.setNotFoundHandler((request, reply) => {
    const error = new OAuthError('not_found', `no resource at ${request.method} ${request.url.split('?')[0] ?? ''}`);
    return reply.code(error.status).header('cache-control', 'no-store').send(error.toJSON());
  });
}
