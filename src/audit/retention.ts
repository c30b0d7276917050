import type { AuditRepository } from '../storage/audit-repository.js';

/** Entries are deleted this many a statement, and at most this many statements a purge. */
export const AUDIT_PURGE_BATCH = 1_000;
export const AUDIT_PURGE_MAX_BATCHES = 50;

/**
 * Deletes audit entries older than `before` (seconds since the epoch) a bounded batch at a time,
 * each batch a short statement of its own, so a large backlog (retention shortened, a long
 * outage) never holds a long lock; what is left after the last batch waits for the next purge
 * (the app's 60 s timer). Returns how many were deleted.
 */
export async function purgeAudit(audit: Pick<AuditRepository, 'purgeBatch'>, before: number, batchSize = AUDIT_PURGE_BATCH, maxBatches = AUDIT_PURGE_MAX_BATCHES): Promise<number> {
  let purged = 0;
  for (let batch = 0; batch < maxBatches; batch++) {
    const deleted = await audit.purgeBatch(before, batchSize);
    purged += deleted;
    if (deleted < batchSize) break;
  }
  return purged;
}
