import { LRUCache } from 'lru-cache';
import type { ClientRepository, StoredClient } from '../storage/client-repository.js';

/** A copy unused this long is let go even when the cache has room. */
const IDLE_MS = 3_600_000;

/**
 * Clients as last read by this instance, for client authentication with a JWT assertion. A
 * cached copy may be stale (another instance may have changed, disabled or deleted the client);
 * it is only ever trusted together with a version check that comes free with the assertion's
 * replay insert (ReplayRepository.firstUse), which runs on every such request anyway. So the
 * token endpoint reads a client row once, not once per request, and a change anywhere takes
 * effect on the next request everywhere. Misses are not cached: a client registered elsewhere
 * a moment ago is found.
 */
export class ClientCache {
  readonly #clients: LRUCache<string, StoredClient>;

  constructor(
    private readonly repository: Pick<ClientRepository, 'findById'>,
    maxClients: number,
  ) {
    this.#clients = new LRUCache({ max: maxClients, ttl: IDLE_MS, updateAgeOnGet: true });
  }

  async find(clientId: string): Promise<StoredClient | undefined> {
    const cached = this.#clients.get(clientId);
    if (cached !== undefined) return cached;
    const client = await this.repository.findById(clientId);
    if (client !== undefined) this.#clients.set(clientId, client);
    return client;
  }

  /** Changed or deleted (here, or seen to be elsewhere): the next find reads it again. */
  forget(clientId: string): void {
    this.#clients.delete(clientId);
  }
}
