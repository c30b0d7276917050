import type { FastifyBaseLogger } from 'fastify';
import type { FastifyRateLimitStore, FastifyRateLimitStoreCtor } from '@fastify/rate-limit';
import { Redis } from 'ioredis';

/** A Redis that answers slower than this is treated as down for that request (which then passes). */
const REDIS_COMMAND_TIMEOUT_MS = 250;
/** While Redis is down, one warning per this many milliseconds, not one per request. */
const WARN_EVERY_MS = 30_000;

/**
 * One round trip per request: count, and set the window's expiry on its first request. The
 * fixed window ends when the key expires; PTTL is what the caller waits when refused.
 */
const COUNT_SCRIPT = `
local current = redis.call('INCR', KEYS[1])
local ttl = redis.call('PTTL', KEYS[1])
if ttl < 0 then
  redis.call('PEXPIRE', KEYS[1], ARGV[1])
  ttl = tonumber(ARGV[1])
end
return {current, ttl}`;

type CountingRedis = Redis & { rateLimitCount(key: string, windowMs: number): Promise<[number, number]> };

/**
 * A client for the token-endpoint counters. Commands are never queued while disconnected and
 * time out quickly: a limiter must not hold requests up when Redis is away. Connection problems
 * are logged as warnings, at most one per WARN_EVERY_MS.
 */
export function connectRedis(url: string, logger: FastifyBaseLogger): CountingRedis {
  const redis = new Redis(url, {
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    commandTimeout: REDIS_COMMAND_TIMEOUT_MS,
    connectTimeout: 2_000,
    retryStrategy: (times) => Math.min(times * 200, 5_000),
  });
  redis.defineCommand('rateLimitCount', { numberOfKeys: 1, lua: COUNT_SCRIPT });
  const warn = throttledWarning(logger);
  // without a listener ioredis prints every failed reconnect to the console
  redis.on('error', (error: Error) => warn(error));
  return redis as CountingRedis;
}

function throttledWarning(logger: FastifyBaseLogger): (error: unknown) => void {
  let lastWarnedAt = -Infinity;
  return (error) => {
    if (Date.now() - lastWarnedAt < WARN_EVERY_MS) return;
    lastWarnedAt = Date.now();
    // the code or message only (they name host and port at most), never the URL with its password
    const reason = (error as { code?: string }).code ?? (error instanceof Error ? error.message : 'redis error');
    logger.warn({ reason }, 'token-endpoint rate limits are not enforced: Redis is unavailable');
  };
}

/**
 * The @fastify/rate-limit store of the token endpoints when REDIS_URL is set: counters shared by
 * every instance. It fails open: when Redis cannot answer, the request passes (with a warning
 * in the log), since refusing every token request would turn a Redis outage into an outage of
 * this service.
 */
export function redisTokenStore(redis: CountingRedis, keyPrefix: string, logger: FastifyBaseLogger): FastifyRateLimitStoreCtor {
  const warn = throttledWarning(logger);
  return class RedisTokenRateLimitStore implements FastifyRateLimitStore {
    incr(key: string, callback: (error: Error | null, result?: { current: number; ttl: number }) => void, timeWindow: number): void {
      redis.rateLimitCount(`${keyPrefix}${key}`, timeWindow).then(
        ([current, ttl]) => callback(null, { current, ttl }),
        (error: unknown) => {
          warn(error);
          callback(null, { current: 0, ttl: timeWindow });
        },
      );
    }

    child(): FastifyRateLimitStore {
      return this;
    }
  };
}
