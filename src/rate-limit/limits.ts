import rateLimit, { type FastifyRateLimitStoreCtor } from '@fastify/rate-limit';
import type { FastifyBaseLogger, FastifyInstance, onRequestAsyncHookHandler, RouteOptions } from 'fastify';
import type { Config } from '../config/config.js';
import { ENDPOINT_PATHS } from '../http/endpoints.js';
import { OAuthError } from '../http/oauth-error.js';
import type { RateLimitRepository } from '../storage/rate-limit-repository.js';
import { allowListMatcher } from './allow-list.js';
import type { Rate } from './rate.js';
import { registrationStore } from './registration-store.js';
import { connectRedis, redisTokenStore } from './token-store.js';

/** Addresses the in-memory store remembers per instance (least recently seen forgotten first). */
const LOCAL_STORE_SIZE = 10_000;

/** Which limit refused a request: the name in the log (and the label a metric would carry). */
export type RateLimitName = 'register' | 'token';

/** 429 in OAuth JSON, with the seconds to wait (at least 1) in Retry-After. */
export function tooManyRequests(retryAfterMs: number): OAuthError {
  const seconds = Math.max(1, Math.ceil(retryAfterMs / 1000));
  return new OAuthError('too_many_requests', `too many requests; try again in ${seconds} s`, { 'retry-after': String(seconds) });
}

interface LimitOptions {
  name: RateLimitName;
  /** The routes the limit guards; every other route of the scope is left alone. */
  guards: (route: RouteOptions) => boolean;
  rate: Rate;
  allowed: (address: string) => boolean;
  store?: FastifyRateLimitStoreCtor;
}

/**
 * Puts a limit on some routes of `scope`, checked in onRequest: before the body is read or the
 * client authenticated, so a refused request costs a counter and nothing else. Keys are the
 * client address as Fastify gives it (TRUST_PROXY honoured), IPv4-mapped IPv6 as IPv4, other
 * IPv6 addresses per /64 (the plugin's default: one host usually holds a whole /64).
 */
async function limit(scope: FastifyInstance, options: LimitOptions): Promise<void> {
  await scope.register(rateLimit, {
    global: false,
    hook: 'onRequest',
    max: options.rate.max,
    timeWindow: options.rate.windowMs,
    cache: LOCAL_STORE_SIZE,
    ...(options.store ? { store: options.store } : {}),
    allowList: (request) => options.allowed(request.ip),
    // Retry-After comes with the error below. The x-ratelimit-* headers are left out: the
    // registration limit is two counters that one set of headers cannot describe, and a
    // fail-open token limit would report numbers that are not true.
    addHeaders: { 'x-ratelimit-limit': false, 'x-ratelimit-remaining': false, 'x-ratelimit-reset': false, 'retry-after': false },
    addHeadersOnExceeding: { 'x-ratelimit-limit': false, 'x-ratelimit-remaining': false, 'x-ratelimit-reset': false },
    errorResponseBuilder: (_request, context) => tooManyRequests(context.ttl),
    onExceeded: (request) => request.log.info({ limit: options.name }, 'rate limit exceeded'),
  });
  const check = scope.rateLimit() as unknown as onRequestAsyncHookHandler;
  scope.addHook('onRoute', (route) => {
    if (!options.guards(route)) return;
    const hooks = route.onRequest === undefined ? [] : Array.isArray(route.onRequest) ? route.onRequest : [route.onRequest];
    route.onRequest = [...hooks, check];
  });
}

const isPost = (route: RouteOptions, path: string): boolean =>
  (route.method === 'POST' || (Array.isArray(route.method) && route.method.includes('POST'))) && (route as RouteOptions & { routePath: string }).routePath === path;

/**
 * RATE_LIMIT_REGISTER and RATE_LIMIT_REGISTER_GLOBAL on POST /register, counted in the database
 * so that every instance sees the same counts. Register before the routes of `scope`.
 */
export async function limitRegistration(scope: FastifyInstance, config: Config['rateLimits'], repository: RateLimitRepository, logger: FastifyBaseLogger): Promise<void> {
  const rate = config.register ?? config.registerGlobal;
  if (rate === undefined) return;
  await limit(scope, {
    name: 'register',
    guards: (route) => isPost(route, ENDPOINT_PATHS.registration),
    rate,
    allowed: allowListMatcher(config.allowList),
    store: registrationStore(repository, { perAddress: config.register, global: config.registerGlobal }, logger),
  });
}

/**
 * RATE_LIMIT_TOKEN on the token, introspection and revocation endpoints together: in memory per
 * instance, or in Redis when REDIS_URL is set (never the database: no write per token request).
 * Redis keys start with the issuer, so deployments sharing a Redis keep their own counts.
 */
export async function limitTokenEndpoints(scope: FastifyInstance, config: Config['rateLimits'], issuer: string, logger: FastifyBaseLogger): Promise<void> {
  if (config.token === undefined) return;
  let store: FastifyRateLimitStoreCtor | undefined;
  if (config.redisUrl !== undefined) {
    const redis = connectRedis(config.redisUrl, logger);
    scope.addHook('onClose', async () => void redis.disconnect());
    store = redisTokenStore(redis, `oidc-registrar:rate-limit:${issuer}:token:`, logger);
  }
  const paths: readonly string[] = [ENDPOINT_PATHS.token, ENDPOINT_PATHS.introspection, ENDPOINT_PATHS.revocation];
  await limit(scope, {
    name: 'token',
    guards: (route) => paths.some((path) => isPost(route, path)),
    rate: config.token,
    allowed: allowListMatcher(config.allowList),
    ...(store ? { store } : {}),
  });
}
