import { fetchJson, OutboundError, type OutboundPolicy } from '../outbound/fetch-json.js';
import { jwksProblem } from '../registration/client-jwks.js';

export interface JwkSet {
  keys: Record<string, unknown>[];
}

/** Cache lifetimes: never refetch more than once a minute, never trust a copy more than a day. */
export const REMOTE_JWKS_BOUNDS = { minSeconds: 60, maxSeconds: 86_400, unknownKidCooldownSeconds: 30 } as const;

interface Entry {
  keys: JwkSet;
  expiresAt: number;
  /** When an unknown kid last forced a refetch: at most one per cool-down. */
  lastForcedAt: number;
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
 * bounds, one in-flight fetch per URI shared by concurrent requests, and a bounded refetch when a
 * client signs with a kid the cached copy does not have (the client rotated its keys).
 */
export class RemoteJwksCache {
  private readonly entries = new Map<string, Entry>();
  private readonly inFlight = new Map<string, Promise<Entry>>();

  constructor(
    private readonly policy: OutboundPolicy,
    private readonly now: () => number,
  ) {}

  async get(uri: string): Promise<JwkSet> {
    const entry = this.entries.get(uri);
    if (entry && entry.expiresAt > this.now()) return entry.keys;
    return (await this.fetch(uri, entry?.lastForcedAt ?? 0)).keys;
  }

  /** A newer copy when the cool-down allows one, else undefined (the kid stays unknown). */
  async refetchForUnknownKid(uri: string): Promise<JwkSet | undefined> {
    const entry = this.entries.get(uri);
    const now = this.now();
    if (entry && now - entry.lastForcedAt < REMOTE_JWKS_BOUNDS.unknownKidCooldownSeconds) return undefined;
    return (await this.fetch(uri, now)).keys;
  }

  private fetch(uri: string, lastForcedAt: number): Promise<Entry> {
    const pending = this.inFlight.get(uri);
    if (pending) return pending;
    const fetching = (async () => {
      const { body, cacheControl } = await fetchJson(uri, this.policy, 'application/jwk-set+json, application/json');
      const keys = await checkedKeySet(uri, body);
      const entry: Entry = { keys, expiresAt: this.now() + freshFor(cacheControl), lastForcedAt };
      this.entries.set(uri, entry);
      return entry;
    })().finally(() => this.inFlight.delete(uri));
    this.inFlight.set(uri, fetching);
    return fetching;
  }
}

/** A fetched set must be what registration would accept inline: public keys that import. */
async function checkedKeySet(uri: string, body: unknown): Promise<JwkSet> {
  const keys = (body as { keys?: unknown } | null)?.keys;
  if (!Array.isArray(keys) || keys.length === 0 || keys.some((k) => typeof k !== 'object' || k === null)) {
    throw new OutboundError(`${uri} did not answer with a JWK Set`);
  }
  const set = { keys: keys as Record<string, unknown>[] };
  const problem = await jwksProblem(set);
  if (problem) throw new OutboundError(`${uri}: ${problem}`);
  return set;
}
