import { LRUCache } from 'lru-cache';
import { fetchJson as plainFetchJson, OutboundError, type OutboundPolicy } from '../outbound/fetch-json.js';
import { jwksProblem } from '../registration/client-jwks.js';

export interface JwkSet {
  keys: Record<string, unknown>[];
}

/**
 * Cache lifetimes: a copy is kept at least a minute and at most an hour (a client that drops a
 * compromised key waits no longer than that, or updates its registration to force a refetch);
 * after a failed fetch the URI is left alone for the cool-down, and a stale copy up to a day old
 * is used meanwhile rather than failing every client request.
 */
export const REMOTE_JWKS_BOUNDS = { minSeconds: 60, maxSeconds: 3_600, coolDownSeconds: 30, maxStaleSeconds: 86_400 } as const;

interface Entry {
  keys: JwkSet | undefined;
  fetchedAt: number;
  expiresAt: number;
  /**
   * When this URI last cost a fetch that a caller could provoke (an unknown kid) or that failed:
   * the next such fetch waits a cool-down from then. A scheduled refresh of a good copy does not count.
   */
  provokedAt: number;
  /** The last fetch's failure, while it is the most recent outcome. */
  failure: OutboundError | undefined;
}

function freshFor(cacheControl: string | undefined): number {
  const { minSeconds, maxSeconds } = REMOTE_JWKS_BOUNDS;
  if (cacheControl === undefined) return minSeconds * 5;
  if (/\b(no-store|no-cache)\b/i.test(cacheControl)) return minSeconds;
  const maxAge = /\bmax-age=(\d+)/i.exec(cacheControl);
  if (!maxAge) return minSeconds * 5;
  return Math.min(maxSeconds, Math.max(minSeconds, Number(maxAge[1])));
}

/**
 * Clients' key sets fetched from their jwks_uri: cached per URI honouring Cache-Control within
 * bounds, one in-flight fetch per URI shared by concurrent requests, at most one fetch per URI per
 * cool-down beyond that (so unauthenticated callers cannot drive outbound traffic), and a stale
 * copy served while the client's server is failing.
 */
export class RemoteJwksCache {
  /** At most `maxUris` documents, none kept past the longest a stale copy may serve. */
  private readonly entries: LRUCache<string, Entry>;
  private readonly inFlight = new Map<string, Promise<JwkSet>>();

  constructor(
    private readonly policy: OutboundPolicy,
    private readonly now: () => number,
    maxUris: number,
    /** The fetcher; the app passes it counted and timed when metrics are on. */
    private readonly fetchJson: typeof plainFetchJson = plainFetchJson,
  ) {
    this.entries = new LRUCache({ max: maxUris, ttl: REMOTE_JWKS_BOUNDS.maxStaleSeconds * 1000 });
  }

  /** How many URIs' documents are held (bounded by maxUris). */
  get size(): number {
    return this.entries.size;
  }

  async get(uri: string): Promise<JwkSet> {
    const entry = this.entries.get(uri);
    if (entry?.keys && entry.expiresAt > this.now()) return entry.keys;
    return this.fetchUnlessCoolingDown(uri, entry);
  }

  /** A newer copy when the cool-down allows one, else undefined (the kid stays unknown). */
  async refetchForUnknownKid(uri: string): Promise<JwkSet | undefined> {
    const entry = this.entries.get(uri);
    if (entry && this.coolingDown(entry)) return undefined;
    return this.fetch(uri, true);
  }

  /**
   * Drops a URI's copy: its client changed its registration, so the next use fetches at once.
   * Only a client holding its registration access token can cause this, so no cool-down applies.
   */
  evict(uri: string): void {
    this.entries.delete(uri);
  }

  private coolingDown(entry: Entry): boolean {
    return this.now() - entry.provokedAt < REMOTE_JWKS_BOUNDS.coolDownSeconds;
  }

  private async fetchUnlessCoolingDown(uri: string, entry: Entry | undefined): Promise<JwkSet> {
    if (entry && this.coolingDown(entry) && !this.inFlight.has(uri)) {
      const stale = this.stale(entry);
      if (stale) return stale;
      if (entry.failure) throw entry.failure;
    }
    return this.fetch(uri);
  }

  private stale(entry: Entry): JwkSet | undefined {
    return entry.keys && this.now() - entry.fetchedAt < REMOTE_JWKS_BOUNDS.maxStaleSeconds ? entry.keys : undefined;
  }

  private fetch(uri: string, provoked = false): Promise<JwkSet> {
    const pending = this.inFlight.get(uri);
    if (pending) return pending;
    const previous = this.entries.get(uri);
    const provokedAt = provoked ? this.now() : (previous?.provokedAt ?? Number.NEGATIVE_INFINITY);
    // recorded before the fetch, so that concurrent and later callers see the attempt
    this.entries.set(uri, { keys: previous?.keys, fetchedAt: previous?.fetchedAt ?? 0, expiresAt: previous?.expiresAt ?? 0, provokedAt, failure: previous?.failure });
    const fetching = (async () => {
      try {
        const { body, cacheControl } = await this.fetchJson(uri, this.policy, 'application/jwk-set+json, application/json');
        const keys = await checkedKeySet(uri, body);
        const now = this.now();
        this.entries.set(uri, { keys, fetchedAt: now, expiresAt: now + freshFor(cacheControl), provokedAt, failure: undefined });
        return keys;
      } catch (error) {
        const failure = error instanceof OutboundError ? error : new OutboundError(`${uri} could not be used`, 'invalid_response');
        const entry = this.entries.get(uri) ?? { keys: undefined, fetchedAt: 0, expiresAt: 0, provokedAt: 0, failure: undefined };
        entry.failure = failure;
        entry.provokedAt = this.now(); // a failing server is left alone for the cool-down
        this.entries.set(uri, entry);
        const stale = this.stale(entry);
        if (stale) return stale;
        throw failure;
      }
    })().finally(() => this.inFlight.delete(uri));
    this.inFlight.set(uri, fetching);
    return fetching;
  }
}

/** A fetched set must be what registration would accept inline: a few public keys that import. */
async function checkedKeySet(uri: string, body: unknown): Promise<JwkSet> {
  const keys = (body as { keys?: unknown } | null)?.keys;
  if (!Array.isArray(keys) || keys.length === 0 || keys.some((k) => typeof k !== 'object' || k === null)) {
    throw new OutboundError(`${uri} did not answer with a JWK Set`, 'invalid_response');
  }
  const set = { keys: keys as Record<string, unknown>[] };
  // a key holds strings and, in x5c or key_ops, lists of strings: nothing nests deeper
  if (keys.some((key) => Object.values(key as object).some((member) => typeof member === 'object' && member !== null && !(Array.isArray(member) && member.every((m) => typeof m === 'string'))))) {
    throw new OutboundError(`${uri} sent a key with nested members`, 'invalid_response');
  }
  const problem = await jwksProblem(set);
  if (problem) throw new OutboundError(`${uri}: ${problem}`, 'invalid_response');
  return set;
}
