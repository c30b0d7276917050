import type { FastifyBaseLogger } from 'fastify';
import type { FastifyRateLimitStore, FastifyRateLimitStoreCtor } from '@fastify/rate-limit';
import { Batcher } from '../storage/batcher.js';
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

/** The most registrations one statement counts. */
const MAX_BATCH = 500;

/**
 * Counts registrations against the per-address limit and the global ceiling on the shared
 * database, batched (batcher.ts): while one statement is in flight, the registrations arriving
 * meanwhile wait and are counted together by the next one. An idle server sends one statement
 * per request, as before; a busy one sends one per round trip, not one per request (each round
 * trip is a socket write and a wake-up, the main cost of the check). Every request still gets
 * the verdict it would have got counted alone, in order of arrival.
 */
export class RegistrationCounter {
  readonly #batches: Batcher<string, RegistrationVerdict>;

  constructor(
    private readonly repository: RateLimitRepository,
    private readonly limits: RegistrationLimits,
    private readonly now: () => number = () => Date.now(),
  ) {
    this.#batches = new Batcher((addresses) => this.#countBatch(addresses), MAX_BATCH);
  }

  count(address: string): Promise<RegistrationVerdict> {
    return this.#batches.submit(address);
  }

  async #countBatch(addresses: readonly string[]): Promise<RegistrationVerdict[]> {
    const { perAddress, global } = this.limits;
    const now = this.now();
    const perKey = new Map<string, number>();
    for (const address of addresses) perKey.set(addressRegistrationKey(address), (perKey.get(addressRegistrationKey(address)) ?? 0) + 1);
    const counts = await this.repository.hitBatch(
      [...perKey].map(([key, n]) => ({ key, n })),
      perAddress && { windowMs: perAddress.windowMs, max: perAddress.max },
      global && { key: GLOBAL_REGISTRATION_KEY, windowMs: global.windowMs },
      now,
    );
    // each request's place among its address's requests: the count before the batch plus its
    // rank within the batch; the shared count likewise, among the requests the addresses admitted
    const ranks = new Map<string, number>();
    const byAddress = addresses.map((address): RegistrationVerdict | undefined => {
      if (perAddress === undefined) return undefined;
      const key = addressRegistrationKey(address);
      const rank = (ranks.get(key) ?? 0) + 1;
      ranks.set(key, rank);
      const window = counts.addresses.get(key)!;
      const place = window.count - perKey.get(key)! + rank;
      return place > perAddress.max ? { refused: true, by: 'address', retryAfterMs: window.resetAt - now, first: place === perAddress.max + 1 } : undefined;
    });
    const sharedAdmitted = byAddress.filter((verdict) => verdict === undefined).length;
    let sharedRank = 0;
    return byAddress.map((verdict): RegistrationVerdict => {
      if (verdict !== undefined) return verdict;
      if (global === undefined || counts.shared === undefined) return { refused: false };
      sharedRank += 1;
      const place = counts.shared.count - sharedAdmitted + sharedRank;
      return place > global.max ? { refused: true, by: 'global', retryAfterMs: counts.shared.resetAt - now, first: place === global.max + 1 } : { refused: false };
    });
  }
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
  const counter = new RegistrationCounter(repository, limits, now);
  return class RegistrationRateLimitStore implements FastifyRateLimitStore {
    incr(key: string, callback: (error: Error | null, result?: { current: number; ttl: number }) => void, timeWindow: number, max: number): void {
      counter.count(key).then(
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
