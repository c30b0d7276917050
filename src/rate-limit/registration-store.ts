import type { FastifyBaseLogger } from 'fastify';
import type { FastifyRateLimitStore, FastifyRateLimitStoreCtor } from '@fastify/rate-limit';
import type { RateLimitRepository } from '../storage/rate-limit-repository.js';
import type { Rate } from './rate.js';

/** The one row every address counts into for RATE_LIMIT_REGISTER_GLOBAL. */
export const GLOBAL_REGISTRATION_KEY = 'register:*';
export const addressRegistrationKey = (address: string): string => `register:${address}`;

export interface RegistrationLimits {
  perAddress: Rate | undefined;
  global: Rate | undefined;
}

/** Whether a registration may go on, and when a refused caller may try again. */
export type RegistrationVerdict =
  | { refused: false }
  /** `first`: the first refusal of this counter's window (across every instance). */
  | { refused: true; by: 'address' | 'global'; retryAfterMs: number; first: boolean };

/**
 * Counts a registration from `address` against the per-address limit and the global ceiling, in
 * one statement on the shared database, and says whether it is over either.
 */
export async function countRegistration(
  repository: RateLimitRepository,
  limits: RegistrationLimits,
  address: string,
  now: number,
): Promise<RegistrationVerdict> {
  const { perAddress, global } = limits;
  const addressHit = perAddress && { key: addressRegistrationKey(address), windowMs: perAddress.windowMs, max: perAddress.max };
  const globalHit = global && { key: GLOBAL_REGISTRATION_KEY, windowMs: global.windowMs };
  let counts: { address: { count: number; resetAt: number } | undefined; shared: { count: number; resetAt: number } | undefined };
  if (addressHit && globalHit) counts = await repository.hitBoth(addressHit, globalHit, now);
  else if (addressHit) counts = { address: await repository.hit(addressHit, now), shared: undefined };
  else if (globalHit) counts = { address: undefined, shared: await repository.hit(globalHit, now) };
  else return { refused: false };

  if (perAddress && counts.address && counts.address.count > perAddress.max) {
    return { refused: true, by: 'address', retryAfterMs: counts.address.resetAt - now, first: counts.address.count === perAddress.max + 1 };
  }
  if (global && counts.shared && counts.shared.count > global.max) {
    return { refused: true, by: 'global', retryAfterMs: counts.shared.resetAt - now, first: counts.shared.count === global.max + 1 };
  }
  return { refused: false };
}

/**
 * The @fastify/rate-limit store of POST /register: counters in the database (shared by every
 * instance) instead of the plugin's per-process map. The plugin compares the count it gets with
 * its `max`; this store has already decided, so it answers max + 1 for a refusal and 1 otherwise.
 */
export function registrationStore(
  repository: RateLimitRepository,
  limits: RegistrationLimits,
  logger: FastifyBaseLogger,
  now: () => number = () => Date.now(),
): FastifyRateLimitStoreCtor {
  return class RegistrationRateLimitStore implements FastifyRateLimitStore {
    incr(key: string, callback: (error: Error | null, result?: { current: number; ttl: number }) => void, timeWindow: number, max: number): void {
      countRegistration(repository, limits, key, now()).then(
        (verdict) => {
          if (!verdict.refused) return callback(null, { current: 1, ttl: timeWindow });
          if (verdict.by === 'global' && verdict.first) {
            // every address is turned away until the window ends: the operator should know, once a window
            logger.warn({ limit: 'RATE_LIMIT_REGISTER_GLOBAL', rate: limits.global?.text, retry_after_ms: verdict.retryAfterMs }, 'global registration ceiling reached');
          }
          callback(null, { current: max + 1, ttl: verdict.retryAfterMs });
        },
        (error: unknown) => callback(error instanceof Error ? error : new Error(String(error))),
      );
    }

    child(): FastifyRateLimitStore {
      return this;
    }
  };
}
