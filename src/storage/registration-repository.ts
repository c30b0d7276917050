import type { AuditRecord } from '../audit/audit.js';
import { RECORD_COLUMNS, recordValues } from './audit-repository.js';
import { INSERT_COLUMNS, insertValues, type NewClient } from './client-repository.js';
import type { Queryable } from './database.js';
import { DatabaseUnavailableError } from './unavailable.js';
import { spendable } from './initial-access-token-repository.js';
import { NO_DEFAULT_POLICY } from './registration-policy-repository.js';

/** A use of a stored initial access token, spent with the registration it lets in. */
export interface TokenUse {
  /** The token's id: the client records it (initial_access_token_id). */
  id: string;
  tokenHash: Uint8Array;
  /** Seconds since the epoch: an expired token is not spent. */
  now: number;
}

// $1-$15 the client (insertValues), $16-$24 its audit entry (recordValues), $25-$27 the token use
const CLIENT_VALUES = '$1, $2::jsonb, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15';
const AUDIT_VALUES = '$16, $17, $18, $19, $20, $21, $22, $23::text[], $24::jsonb';
const RECORD_ENTRY = `INSERT INTO audit_entries (${RECORD_COLUMNS}) SELECT ${AUDIT_VALUES} FROM client RETURNING id`;

const WITHOUT_TOKEN = `WITH client AS (
  INSERT INTO clients (${INSERT_COLUMNS}) SELECT ${CLIENT_VALUES} WHERE ${NO_DEFAULT_POLICY} RETURNING client_id
)
${RECORD_ENTRY}`;

// the token's own policy_name must be null too: a token naming a policy registers under it
const WITH_TOKEN = `WITH spent AS (
  UPDATE initial_access_tokens SET uses = uses + 1
   WHERE id = $25 AND ${spendable('$26', '$27')} AND policy_name IS NULL AND ${NO_DEFAULT_POLICY}
  RETURNING id
), client AS (
  INSERT INTO clients (${INSERT_COLUMNS}) SELECT ${CLIENT_VALUES} FROM spent RETURNING client_id
)
${RECORD_ENTRY}`;

// The batch: one row of VALUES per registration, each value cast to its column's type (the
// types of INSERT_COLUMNS, then of RECORD_COLUMNS, in order), its place in the batch first.
const CLIENT_TYPES = ['text', 'jsonb', 'text', 'bigint', 'bytea', 'bigint', 'text', 'integer', 'bigint', 'boolean', 'boolean', 'boolean', 'text', 'text', 'text'];
const AUDIT_TYPES = ['bigint', 'text', 'text', 'text', 'text', 'text', 'text', 'text[]', 'jsonb'];
const TYPES = ['integer', ...CLIENT_TYPES, ...AUDIT_TYPES];
const PLACE = 'place';
const CLIENT_ALIASES = CLIENT_TYPES.map((_, i) => `c${i + 1}`);
const AUDIT_ALIASES = AUDIT_TYPES.map((_, i) => `a${i + 1}`);

/** The statement that stores `size` registrations; answers the client ids stored. */
function batchStatement(size: number): string {
  const rows = Array.from({ length: size }, (_, row) => `(${TYPES.map((type, i) => `$${row * TYPES.length + i + 1}::${type}`).join(', ')})`);
  return `WITH input (${[PLACE, ...CLIENT_ALIASES, ...AUDIT_ALIASES].join(', ')}) AS (VALUES ${rows.join(', ')}),
client AS (
  INSERT INTO clients (${INSERT_COLUMNS}) SELECT ${CLIENT_ALIASES.join(', ')} FROM input WHERE ${NO_DEFAULT_POLICY} RETURNING client_id
)
INSERT INTO audit_entries (${RECORD_COLUMNS})
SELECT ${AUDIT_ALIASES.join(', ')} FROM input JOIN client ON client.client_id = input.c1 ORDER BY input.${PLACE}
RETURNING client_id`;
}

/**
 * The most registrations one statement stores. Batches are 1, 2, 4 ... 32 registrations (the
 * rest wait for the next): six statements, each prepared once per connection.
 */
const MAX_BATCH = 32;
const batchSize = (waiting: number): number => 2 ** Math.floor(Math.log2(Math.min(waiting, MAX_BATCH)));
/**
 * Batches written at once; registrations arriving meanwhile wait for the next. One: PostgreSQL's
 * cost per registration falls with the size of the batch (6 indexes on audit_entries, 2 on
 * clients, one commit), so fewer, larger batches did more on the same two cores. Measured side by
 * side, 32 connections: one in flight 3.0-4.2k registrations/s, two 2.8-3.6k, three and four
 * lower again with more PostgreSQL CPU per registration.
 */
const MAX_IN_FLIGHT = 1;

interface Pending {
  client: NewClient;
  entry: AuditRecord;
  resolve: (stored: boolean) => void;
  reject: (error: unknown) => void;
}

/**
 * The writes of a registration that no registration policy governs, as one statement: one round
 * trip instead of BEGIN, the policy lookup, the token's use, the client, the audit entry and
 * COMMIT each waiting for the one before. A statement is its own transaction, so the guarantees
 * of the transaction it replaces hold: the entry is written with the client or neither is, and a
 * use is spent only by a registration that is stored.
 *
 * Without a token, registrations are also written together: while MAX_IN_FLIGHT statements are
 * under way, the registrations arriving meanwhile wait and the next statement stores them all
 * (one row each, in order of arrival). An idle server sends one statement per registration, as
 * before; a busy one one per batch. A batch is one statement, so it is stored whole or not at
 * all; when it fails, each of its registrations is written alone, and answered for alone.
 */
export class RegistrationRepository {
  #queue: Pending[] = [];
  #inFlight = 0;
  readonly #statements = new Map<number, string>();

  constructor(private readonly db: Queryable) {}

  /**
   * Stores the client and its audit entry, spending `use` when given, while no registration
   * policy applies: no policy is the default and the token, if any, names none. False, with
   * nothing written, when one applies or the token can no longer be spent (used up, revoked or
   * expired meanwhile): the caller then decides the registration in a transaction, which applies
   * the policy (locked, its caps counted) or refuses.
   *
   * The default is read in the statement's snapshot, as the transaction reads it without a lock
   * when there is none: a policy made the default meanwhile governs the registrations after it.
   */
  storeUnderNoPolicy(client: NewClient, entry: AuditRecord, use?: TokenUse): Promise<boolean> {
    if (use !== undefined) return this.#storeAlone(client, entry, use);
    return new Promise((resolve, reject) => {
      this.#queue.push({ client, entry, resolve, reject });
      this.#drain();
    });
  }

  #drain(): void {
    while (this.#inFlight < MAX_IN_FLIGHT && this.#queue.length > 0) {
      const batch = this.#queue.splice(0, batchSize(this.#queue.length));
      this.#inFlight += 1;
      void this.#storeBatch(batch).finally(() => {
        this.#inFlight -= 1;
        this.#drain();
      });
    }
  }

  async #storeBatch(batch: Pending[]): Promise<void> {
    if (batch.length === 1) {
      const [only] = batch as [Pending];
      return this.#storeAlone(only.client, only.entry).then(only.resolve, only.reject);
    }
    let statement = this.#statements.get(batch.length);
    if (statement === undefined) this.#statements.set(batch.length, (statement = batchStatement(batch.length)));
    try {
      const values = batch.flatMap((pending, place) => [place, ...insertValues(pending.client), ...recordValues(pending.entry)]);
      const rows = await this.db.query<{ client_id: string }>(statement, values);
      const stored = new Set(rows.map((row) => row.client_id));
      for (const pending of batch) pending.resolve(stored.has(pending.client.clientId));
    } catch (error) {
      if (error instanceof DatabaseUnavailableError) {
        for (const pending of batch) pending.reject(error);
        return;
      }
      // the statement failed for one of them (or all): each is written alone and answered alone
      await Promise.all(batch.map((pending) => this.#storeAlone(pending.client, pending.entry).then(pending.resolve, pending.reject)));
    }
  }

  async #storeAlone(client: NewClient, entry: AuditRecord, use?: TokenUse): Promise<boolean> {
    const values = [...insertValues(client), ...recordValues(entry)];
    const rows =
      use === undefined
        ? await this.db.query(WITHOUT_TOKEN, values)
        : await this.db.query(WITH_TOKEN, [...values, use.id, use.tokenHash, use.now]);
    return rows.length === 1;
  }
}
