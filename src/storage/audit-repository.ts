import type { AuditAction, AuditEntry, AuditRecord } from '../audit/audit.js';
import type { Queryable } from './database.js';

/** An entry as the database returns it: bigint columns come back as strings from pg. */
type AuditRow = Omit<AuditEntry, 'id' | 'at'> & { id: string | number; at: string | number };

/** Filters of the audit listing; all optional, combined with AND. */
export interface AuditFilter {
  clientId?: string;
  action?: AuditAction;
  /** An actor type (admin, cli ...) or an actor id (an admin client id, an OS user). */
  actor?: string;
  /** Seconds since the epoch, inclusive. */
  since?: number;
  /** Seconds since the epoch, exclusive. */
  until?: number;
}

const COLUMNS = 'id, at, action, actor_type, actor_id, client_id, source_address, request_id, changed_fields, details';

/**
 * The columns an entry is written with, and its values in that order: `record` and the
 * one-statement registration (registration-repository.ts) share them. changed_fields is cast to
 * text[], details (JSON text) to jsonb.
 */
export const RECORD_COLUMNS = 'at, action, actor_type, actor_id, client_id, source_address, request_id, changed_fields, details';

export function recordValues(entry: AuditRecord): unknown[] {
  return [
    entry.at ?? Math.floor(Date.now() / 1000),
    entry.action,
    entry.context.actor.type,
    entry.context.actor.id,
    entry.clientId ?? null,
    entry.context.sourceAddress,
    entry.context.requestId,
    [...(entry.changedFields ?? [])],
    JSON.stringify(entry.details ?? {}),
  ];
}

// bigint columns come back as strings from pg and as numbers from PGlite
const fromRow = (row: AuditRow): AuditEntry => ({ ...row, id: Number(row.id), at: Number(row.at) });

/**
 * The audit trail. Bound to a change's transaction (Repositories.audit) its entry is committed
 * with the change or not at all; bound to the database it records what has no change to join
 * (a refused admin authentication, a re-seal run).
 */
export class AuditRepository {
  constructor(private readonly db: Queryable) {}

  async record(entry: AuditRecord): Promise<void> {
    await this.db.query(`INSERT INTO audit_entries (${RECORD_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8::text[], $9::jsonb)`, recordValues(entry));
  }

  /** One page, newest first, after the entry `afterId` (keyset pagination, as the client list). */
  async list(filter: AuditFilter, afterId: number | undefined, limit: number): Promise<AuditEntry[]> {
    const where: string[] = [];
    const params: unknown[] = [];
    const param = (value: unknown) => `$${params.push(value)}`;
    if (afterId !== undefined) where.push(`id < ${param(afterId)}`);
    if (filter.clientId !== undefined) where.push(`client_id = ${param(filter.clientId)}`);
    if (filter.action !== undefined) where.push(`action = ${param(filter.action)}`);
    if (filter.actor !== undefined) {
      const actor = param(filter.actor);
      where.push(`(actor_type = ${actor} OR actor_id = ${actor})`);
    }
    if (filter.since !== undefined) where.push(`at >= ${param(filter.since)}`);
    if (filter.until !== undefined) where.push(`at < ${param(filter.until)}`);
    const rows = await this.db.query<AuditRow>(
      `SELECT ${COLUMNS} FROM audit_entries ${where.length > 0 ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY id DESC LIMIT ${param(limit)}`,
      params,
    );
    return rows.map(fromRow);
  }

  /**
   * Deletes up to `batchSize` entries older than `before` (seconds since the epoch); returns how
   * many. One short statement: a large backlog is purged a batch at a time, never under one lock.
   */
  async purgeBatch(before: number, batchSize: number): Promise<number> {
    const rows = await this.db.query(
      `DELETE FROM audit_entries WHERE id IN (SELECT id FROM audit_entries WHERE at < $1 ORDER BY at LIMIT $2) RETURNING id`,
      [before, batchSize],
    );
    return rows.length;
  }
}
