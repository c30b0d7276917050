import { LRUCache } from 'lru-cache';

/** last_used_at is kept to this resolution: a client is marked at most once per period. */
export const USAGE_RESOLUTION_SECONDS = 60;

/**
 * Which clients authenticated recently, for the operator's `last_used_at`. A request only adds
 * the client id to a set in memory; a timer writes the set in one statement once a minute. So a
 * token request never waits on, or causes, a write of its own.
 */
export class ClientUsage {
  private pending = new Set<string>();
  /** When each client was last queued, so that a busy client is queued once per period. */
  private readonly queuedAt: LRUCache<string, number>;

  constructor(
    private readonly now: () => number,
    maxClients: number,
    private readonly enabled = true,
  ) {
    this.queuedAt = new LRUCache({ max: maxClients });
  }

  record(clientId: string): void {
    if (!this.enabled) return;
    const now = this.now();
    const last = this.queuedAt.get(clientId);
    if (last !== undefined && now - last < USAGE_RESOLUTION_SECONDS) return;
    this.queuedAt.set(clientId, now);
    this.pending.add(clientId);
  }

  /** Hands the queued ids to `write` (one statement); on failure they are queued again. */
  async flush(write: (clientIds: string[], at: number) => Promise<void>): Promise<number> {
    if (this.pending.size === 0) return 0;
    const ids = [...this.pending];
    this.pending = new Set();
    try {
      await write(ids, this.now());
    } catch (error) {
      for (const id of ids) this.pending.add(id);
      throw error;
    }
    return ids.length;
  }
}
