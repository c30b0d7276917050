import type { AuditRecord } from '../audit/audit.js';
import { RECORD_COLUMNS, recordValues } from './audit-repository.js';
import { INSERT_COLUMNS, insertValues, type NewClient } from './client-repository.js';
import type { Queryable } from './database.js';
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

/**
 * The writes of a registration that no registration policy governs, as one statement: one round
 * trip instead of BEGIN, the policy lookup, the token's use, the client, the audit entry and
 * COMMIT each waiting for the one before. A statement is its own transaction, so the guarantees
 * of the transaction it replaces hold: the entry is written with the client or neither is, and a
 * use is spent only by a registration that is stored.
 */
export class RegistrationRepository {
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
  async storeUnderNoPolicy(client: NewClient, entry: AuditRecord, use?: TokenUse): Promise<boolean> {
    const values = [...insertValues(client), ...recordValues(entry)];
    const rows =
      use === undefined
        ? await this.db.query(WITHOUT_TOKEN, values, { prepareAs: 'register_under_no_policy' })
        : await this.db.query(WITH_TOKEN, [...values, use.id, use.tokenHash, use.now], { prepareAs: 'register_under_no_policy_with_token' });
    return rows.length === 1;
  }
}
